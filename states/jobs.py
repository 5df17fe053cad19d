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

if TYPE_CHECKING:
    from notifications.dispatcher import DispatchReport

JOBS = {"dispatch": "Send the waiting mail", "sweep": "Send due reminders and expire what is overdue",
        "publish": "Republish the website"}
RUNS_FILE = "job-runs.json"


@dataclass(frozen=True)
class JobRun:
    """When a job last ran from the CLI or the desk, who asked, and what it did."""

    job: str
    at: datetime
    by: str
    summary: str


def dispatch(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> str:
    """Deliver every due outbox row (what the dispatch flow's task does); a one-line summary."""
    from notifications.dispatcher import dispatch_pending

    return delivery_summary(dispatch_pending(db, clock=clock, settings=settings))


def delivery_summary(report: DispatchReport) -> str:
    """What one delivery round did, in one line."""
    summary = f"{report.sent} sent, {report.retrying} to retry, {report.dead} failed for good"
    if report.outages:
        summary += "; unreachable: " + ", ".join(sorted({outage.channel for outage in report.outages}))
    return summary


def sweep(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> str:
    """Remind, escalate and expire what is due, then deliver what that queued (as the sweep flow does)."""
    from states.sweep import run_sweep

    report = run_sweep(db, clock, settings=settings)
    summary = report.summary()
    if report.notifications:
        summary += f"; delivery: {dispatch(db, settings, clock)}"
    return summary


def publish(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> str:
    """Make the website hold exactly what is published now (what the publication flow's task does)."""
    from states.publication import portal_url, publish_site

    report = publish_site(db, settings.site_dir, portal=portal_url(settings), today=clock.now().date())
    return (f"{report.items} published item(s); {len(report.pages_written)} file(s) written, "
            f"{len(report.pages_removed)} removed")


def run_job(job: str, db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK, *, by: str) -> JobRun:
    """Run ``job`` once and note it; ``KeyError`` for an unknown job."""
    summary = {"dispatch": dispatch, "sweep": sweep, "publish": publish}[job](db, settings, clock)
    run = JobRun(job, clock.now(), by, summary)
    _note(settings.data_dir / RUNS_FILE, run)
    return run


def last_runs(settings: Settings) -> dict[str, JobRun]:
    """The last noted run of each job (none for a job never run from the CLI or the desk)."""
    return last_runs_at(settings.data_dir / RUNS_FILE)


def _note(path: Path, run: JobRun) -> None:
    """Replace ``path`` atomically with the runs noted so far and this one."""
    noted = {job: {"at": r.at.isoformat(), "by": r.by, "summary": r.summary} for job, r in last_runs_at(path).items()}
    noted[run.job] = {"at": run.at.isoformat(), "by": run.by, "summary": run.summary}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".job-runs-")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(noted, file)
    os.replace(temporary, path)


def last_runs_at(path: Path) -> dict[str, JobRun]:
    """The runs noted in ``path``."""
    try:
        noted = json.loads(path.read_text(encoding="utf-8"))
        return {job: JobRun(job, datetime.fromisoformat(run["at"]), run["by"], run["summary"])
                for job, run in noted.items() if job in JOBS}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
