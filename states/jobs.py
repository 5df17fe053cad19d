"""The scheduled work run once, now: deliver the outbox, sweep reminders, republish the website.

The CLI (``engage dispatch|sweep|publish``) and the desk's buttons call these; they call the same
functions the Prefect flows do (without Prefect), and note what each run did in
``data_dir/job-runs.json`` so the desk can show it. The flows' own runs are seen in Prefect.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from models.db import Database
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import english
from states.words import counts
from website.i18n import N_, N_plural, Phrase

if TYPE_CHECKING:
    from notifications.dispatcher import DispatchReport

JOBS = {"dispatch": "Send the waiting mail", "sweep": "Send due reminders and expire what is overdue",
        "publish": "Republish the website"}
RUNS_FILE = "job-runs.json"


@dataclass(frozen=True)
class JobRun:
    """When a job last ran from the CLI or the desk, who asked, and what it did: ``summary`` in English (the
    CLI's words), ``phrase`` for a page in its reader's language."""

    job: str
    at: datetime
    by: str
    summary: str
    phrase: Phrase


def dispatch(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> tuple[str, Phrase]:
    """Deliver every due outbox row (what the dispatch flow's task does); a one-line summary and its phrase."""
    from notifications.dispatcher import dispatch_pending

    return delivery_summary(dispatch_pending(db, clock=clock, settings=settings))


def delivery_summary(report: DispatchReport) -> tuple[str, Phrase]:
    """What one delivery round did, in one line of English and as a phrase."""
    phrase = counts((N_plural("%(num)s sent", "%(num)s sent"), report.sent),
                    (N_plural("%(num)s to retry", "%(num)s to retry"), report.retrying),
                    (N_plural("%(num)s failed for good", "%(num)s failed for good"), report.dead))
    if report.outages:
        phrase = Phrase.of(N_("%(counts)s; unreachable: %(channels)s"), counts=phrase,
                           channels=", ".join(sorted({outage.channel for outage in report.outages})))
    return english(phrase), phrase


def sweep(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> tuple[str, Phrase]:
    """Remind, escalate and expire what is due, then deliver the outbox (as the sweep flow does): what the
    sweep queued and whatever else is due."""
    from states.sweep import run_sweep

    report = run_sweep(db, clock, settings=settings)
    delivery, delivered = dispatch(db, settings, clock)
    return (f"{report.summary()}; delivery: {delivery}",
            Phrase.of(N_("%(sweep)s; delivery: %(delivery)s"), sweep=report.phrase(), delivery=delivered))


def publish(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> tuple[str, Phrase]:
    """Make the website hold exactly what is published now (what the publication flow's task does)."""
    from states.publication import portal_url, publish_site

    report = publish_site(db, settings.site_dir, portal=portal_url(settings), today=clock.now().date())
    phrase = Phrase.of(N_("%(items)s; %(files)s"), items=Phrase.of(
        N_plural("%(num)s published item", "%(num)s published items"), report.items, num=report.items),
        files=counts((N_plural("%(num)s file written", "%(num)s files written"), len(report.pages_written)),
                     (N_plural("%(num)s removed", "%(num)s removed"), len(report.pages_removed))))
    return english(phrase), phrase


def run_job(job: str, db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK, *, by: str) -> JobRun:
    """Run ``job`` once and note it; ``KeyError`` for an unknown job."""
    summary, phrase = {"dispatch": dispatch, "sweep": sweep, "publish": publish}[job](db, settings, clock)
    run = JobRun(job, clock.now(), by, summary, phrase)
    _note(settings.data_dir / RUNS_FILE, run)
    return run


def last_runs(settings: Settings) -> dict[str, JobRun]:
    """The last noted run of each job (none for a job never run from the CLI or the desk)."""
    return last_runs_at(settings.data_dir / RUNS_FILE)


def _note(path: Path, run: JobRun) -> None:
    """Replace ``path`` atomically with the runs noted so far and this one."""
    noted = {job: _noted(r) for job, r in last_runs_at(path).items()} | {run.job: _noted(run)}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".job-runs-")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(noted, file)
    os.replace(temporary, path)


def _noted(run: JobRun) -> dict[str, object]:
    return {"at": run.at.isoformat(), "by": run.by, "summary": run.summary, "phrase": run.phrase.model_dump(mode="json")}


def last_runs_at(path: Path) -> dict[str, JobRun]:
    """The runs noted in ``path``."""
    try:
        noted = json.loads(path.read_text(encoding="utf-8"))
        return {job: JobRun(job, datetime.fromisoformat(run["at"]), run["by"], run["summary"],
                            Phrase.model_validate(run["phrase"]))
                for job, run in noted.items() if job in JOBS}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # pydantic's ValidationError is a ValueError
        return {}
