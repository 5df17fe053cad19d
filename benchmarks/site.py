"""Benchmark of the website and the final report. Prints figures; not a test.

1. The site published from a database of N published engagements (default 10,000; SQLite, or a
   scratch PostgreSQL database with ``--postgres URL``) in three languages: in full into an empty
   folder; then again, nothing changed; then after one new engagement is published, twice. With
   several sizes, each runs in its own process, so that each peak memory is its own.
2. The final report (figures by SQL, charts, HTML; PDF) for a database of N engagements written
   straight into SQLite with their audit rows, and, with ``--demo-db``, for the demo's database.

    .venv/bin/python benchmarks/site.py                         # 10,000 items / engagements
    .venv/bin/python benchmarks/site.py --items 2000 --demo-db engage-data/engage.db
    .venv/bin/python benchmarks/site.py --items 1000 --site-only   # the website only
    .venv/bin/python benchmarks/site.py --site-only --items 1000 10000 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Each figure is given as wall time and as the CPU time of this process (robust to a loaded machine),
beside the disk's limit measured in the same run: writing the same bytes with plain open().write().
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from models import DialogueReport, Engagement, Organization, Participant, TransitionLog
from models.db import Database
from report.figures import year_figures
from report.render import render_html, render_pdf
from states.directory import load_sample
from states.publication import publish_site
from website.render import PRIORITY_INDUSTRIES

from scratch_postgres import scratch_postgres  # benchmarks/, the script's folder
from website.view import KINDS

START = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
COUNTRIES = ("MX", "FR", "TH", "NG", "GB", "CA", "US", "BR", "IN", "KE", "DE", "JP")


def _engagement(number: int, organizations: list[int], chooser: random.Random) -> tuple[dict, dict | None, list[dict]]:
    """Engagement ``number`` of every kind in turn, published, with the texts the site shows: its row, its
    dialogue report (national dialogues) and its two partners."""
    kind = KINDS[number % len(KINDS)]
    at = START + timedelta(minutes=number * 37)
    text = "Details of the engagement and of what was agreed. " * 6
    details: dict = {
        "national_dialogue": {},
        "swg_presentation": {"topic": "Information sharing on precursor chemicals"},
        "alliance_meeting": {"purpose": f"Purpose of meeting {number}.", "outcome": {"summary": text, "commitments": ["Share alerts."]}},
        "private_sector_forum": {"focus": "banking_forum", "purpose": "Forum.", "outcome": {"summary": text}},
        "toolkit_launch": {"url": "https://www.unodc.org/toolkit"},
        "website_submission": {"media": "video", "summary": text, "url": "https://example.org/video"},
        "recommendation": {"topic": "information_sharing", "text": text, "submitted_on": at.date().isoformat()},
        "achievement": {"summary": text, "submitted_on": at.date().isoformat()},
    }[kind]
    row = {"kind": kind, "title": f"Engagement {number}: partners at work", "state": "published", "version": 3,
           "swg_code": "2.2" if kind == "swg_presentation" else None,
           "country": COUNTRIES[number % len(COUNTRIES)] if kind == "national_dialogue" else None,
           "details": details, "created_at": at, "updated_at": at}
    report = ({"held_on": at.date(), "organizing_agency": "Ministry of Health", "public_partners": 4, "private_partners": 9,
               "narrative": text, "areas_of_discussion": ["Precursors", "Online sales"], "submitted_at": at}
              if kind == "national_dialogue" else None)
    partners = [{"organization_id": org, "role": "partner"} for org in chooser.sample(organizations, 2)]
    return row, report, partners


def _insert(db: Database, rows: list[tuple[dict, dict | None, list[dict]]]) -> None:
    with db.transaction() as session:
        ids = list(session.scalars(insert(Engagement).returning(Engagement.id, sort_by_parameter_order=True), [row for row, _, _ in rows]))
        reports = [{**report, "engagement_id": engagement_id} for engagement_id, (_, report, _) in zip(ids, rows) if report]
        if reports:
            session.execute(insert(DialogueReport), reports)
        session.execute(insert(Participant), [{**partner, "engagement_id": engagement_id}
                                              for engagement_id, (_, _, partners) in zip(ids, rows) for partner in partners])


def _populate_site(db: Database, count: int) -> list[int]:
    """The reference data, 300 partners of 12 countries and six industries, and ``count`` published engagements."""
    load_sample(db)
    with db.transaction() as session:
        organizations = list(session.scalars(
            insert(Organization).returning(Organization.id),
            [{"name": f"Partner {n}", "type": "partner", "industry": PRIORITY_INDUSTRIES[n % len(PRIORITY_INDUSTRIES)],
              "country": COUNTRIES[n % len(COUNTRIES)]} for n in range(300)]))
    chooser = random.Random(7)
    for first in range(1, count + 1, 1000):
        _insert(db, [_engagement(number, organizations, chooser) for number in range(first, min(count, first + 999) + 1)])
    return organizations


class _Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:6.1f} s wall, {self.cpu:6.1f} s CPU"


def _peak() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_site(count: int, url: str) -> None:
    """Publish ``count`` engagements read from the database at ``url``: in full, again unchanged, then one new item twice."""
    db = Database(url)
    db.migrate()
    organizations = _populate_site(db, count)
    baseline = _peak()
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        print(f"site, {count:,} published items x 3 languages, {db.engine.dialect.name} "
              f"(load average {os.getloadavg()[0]:.1f}):")
        # Only the names of the files written are kept of each report (its lists name every file of the site).
        with _Timer() as full:
            written = publish_site(db, site, today=date(2025, 1, 20)).pages_written
        after_full = _peak()
        size, disk = _plain_write(site, Path(folder) / "plain", written)
        print(f"  full regeneration into an empty folder: {full}  ({len(written):,} files, {size / 2**20:.0f} MiB; "
              f"the same bytes by open().write(): {disk.wall:.1f} s wall, {full.wall / disk.wall:.1f}x)  "
              f"load {os.getloadavg()[0]:.1f}")
        del written
        with _Timer() as unchanged:
            written = publish_site(db, site, today=date(2025, 1, 20)).pages_written
        print(f"  republishing, nothing changed:           {unchanged}  ({len(written)} files written)  "
              f"load {os.getloadavg()[0]:.1f}")
        chooser = random.Random(11)
        for number in (1, 2):
            row, report, partners = _engagement(count + number, organizations, chooser)
            _insert(db, [({**row, "created_at": START + timedelta(days=800 + number),
                           "updated_at": START + timedelta(days=800 + number)}, report, partners)])
            with _Timer() as incremental:
                written = publish_site(db, site, today=date(2025, 1, 20)).pages_written
            _, limit = _plain_write(site, Path(folder) / f"plain-{number}", written)
            print(f"  publishing one new item:                 {incremental}  ({len(written)} files written: "
                  f"{', '.join(name for name in written if not name.startswith(('es/', 'fr/')))} and es/, fr/; "
                  f"the same bytes by open().write(): {limit.wall:.3f} s)  load {os.getloadavg()[0]:.1f}")
        print(f"  peak memory: {baseline:.0f} MiB before publishing (imports, the data written), "
              f"{after_full:.0f} MiB after the full regeneration, {_peak():.0f} MiB at the end")
    db.dispose()


def _plain_write(site: Path, folder: Path, names: list[str]) -> tuple[int, _Timer]:
    """Write the files ``names`` of ``site`` again under ``folder`` with plain open().write(), one at a time:
    what the disk allows, for comparison (only the writing is timed). Returns their size and the time."""
    size, total = 0, _Timer()
    total.wall = total.cpu = 0.0
    for name in names:
        content = (site / name).read_bytes()
        size += len(content)
        target = folder / name
        with _Timer() as timer:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as file:
                file.write(content)
        total.wall += timer.wall
        total.cpu += timer.cpu
    return size, total


def _populate(db: Database, count: int) -> None:
    """``count`` engagements of every kind, with the audit rows and reports the report reads."""
    load_sample(db)
    chooser = random.Random(11)
    engagements, steps, reports, participants = [], [], [], []
    with db.transaction() as session:
        organizations = [org_id for (org_id,) in session.execute(
            insert(Organization).returning(Organization.id),
            [{"name": f"Bench partner {n}", "type": "partner", "industry": PRIORITY_INDUSTRIES[n % 6],
              "country": COUNTRIES[n % len(COUNTRIES)]} for n in range(500)])]
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        at = START + timedelta(minutes=number * 50)
        details: dict = {}
        if kind == "recommendation":
            details = {"topic": chooser.choice(["policy", "information_sharing", "advocacy_campaigns"]),
                       "text": "Share alerts.", "submitted_on": at.date().isoformat()}
        elif kind == "achievement":
            details = {"summary": "Removed listings.", "submitted_on": at.date().isoformat()}
        engagements.append({"kind": kind, "title": f"Bench {number}", "state": "published", "version": 3,
                            "swg_code": "2.2" if kind == "swg_presentation" else None,
                            "country": COUNTRIES[number % len(COUNTRIES)] if kind == "national_dialogue" else None,
                            "details": details, "created_at": at, "updated_at": at})
    with db.transaction() as session:
        ids = list(session.scalars(insert(Engagement).returning(Engagement.id), engagements))
    trigger_of = {"national_dialogue": "hold", "swg_presentation": "record_presentation", "alliance_meeting": "hold",
                  "private_sector_forum": "hold", "toolkit_launch": "launch", "recommendation": "accept",
                  "achievement": "select_for_report", "website_submission": "approve"}
    for engagement_id, row in zip(ids, engagements):
        steps.append({"engagement_id": engagement_id, "trigger": trigger_of[row["kind"]], "from_state": "a",
                      "to_state": "presented" if row["kind"] == "swg_presentation" else "b", "version": 2,
                      "actor": "bench", "actor_role": "secretariat", "channel": "cli", "at": row["created_at"]})
        participants.append({"engagement_id": engagement_id, "organization_id": chooser.choice(organizations),
                             "role": "partner"})
        if row["kind"] == "national_dialogue":
            reports.append({"engagement_id": engagement_id, "held_on": row["created_at"].date(), "organizing_agency": "X",
                            "public_partners": 4, "private_partners": 9, "areas_of_discussion": [],
                            "submitted_at": row["created_at"]})
    with db.transaction() as session:
        session.execute(insert(TransitionLog), steps)
        session.execute(insert(Participant), participants)
        session.execute(insert(DialogueReport), reports)


def bench_report(db: Database, label: str, year: int) -> None:
    started = time.perf_counter()
    figures = year_figures(db, year)
    queried = time.perf_counter() - started
    started = time.perf_counter()
    html = render_html(figures, "en", generated_on=date(2025, 1, 20))
    rendered = time.perf_counter() - started
    started = time.perf_counter()
    pdf = render_pdf(html)
    printed = time.perf_counter() - started
    print(f"final report, {label}: figures by SQL {queried:5.2f} s, HTML with charts {rendered:5.2f} s, "
          f"PDF {printed:5.2f} s ({len(pdf) / 1024:.0f} KiB, {figures.dialogues_held:,} dialogues, "
          f"{len(figures.timeline):,} timeline rows)")


@contextmanager
def _site_database(postgres: str | None) -> Iterator[str]:
    """A scratch database: on the PostgreSQL server at ``postgres``, else an SQLite file."""
    if postgres:
        with scratch_postgres(postgres, "engage_bench_site") as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'site.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000],
                        help="published items / engagements; several sizes: each in its own process (default 10,000)")
    parser.add_argument("--postgres", metavar="URL", help="publish from a scratch database on this PostgreSQL server "
                        "(created and dropped by the run); default: an SQLite file")
    parser.add_argument("--demo-db", type=Path, help="the demo's SQLite database (engage-data/engage.db)")
    parser.add_argument("--site-only", action="store_true", help="the website only, not the final report")
    arguments = parser.parse_args()
    if len(arguments.items) > 1:  # one process per size: each peak memory is its own
        for count in arguments.items:
            rest = [option for option in sys.argv[1:] if option not in ("--items", *map(str, arguments.items))]
            subprocess.run([sys.executable, __file__, "--items", str(count), *rest], check=True)
        return
    count = arguments.items[0]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with _site_database(arguments.postgres) as url:
        bench_site(count, url)
    if arguments.site_only:
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        return
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        db.migrate()
        _populate(db, count)
        bench_report(db, f"{count:,} engagements", 2024)
        db.dispose()
    if arguments.demo_db:
        demo = Database(f"sqlite:///{arguments.demo_db.resolve()}")
        bench_report(demo, "the demo's 2024", 2024)
        demo.dispose()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
