"""Benchmark of the website and the final report. Prints figures; not a test.

1. Full regeneration of the site for N published items (default 10,000) in three languages, into
   an empty folder; then republishing the same items (nothing to write); then publishing one new item.
2. The final report (figures by SQL, charts, HTML; PDF) for a database of N engagements written
   straight into SQLite with their audit rows, and, with ``--demo-db``, for the demo's database.

    .venv/bin/python benchmarks/site.py                         # 10,000 items / engagements
    .venv/bin/python benchmarks/site.py --items 2000 --demo-db engage-data/engage.db
    .venv/bin/python benchmarks/site.py --items 1000 --site-only   # the website only

Each figure is given as wall time and as the CPU time of this process (robust to a loaded machine),
beside the disk's limit measured in the same run: writing the same bytes with plain open().write().
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from models import DialogueReport, Engagement, Organization, Participant, TransitionLog
from models.db import Database
from report.figures import year_figures
from report.render import render_html, render_pdf
from states.directory import load_sample
from website import PartnerProfile, PublishedItem, SiteContext, publish
from website.render import PRIORITY_INDUSTRIES
from website.view import KINDS

START = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
COUNTRIES = ("MX", "FR", "TH", "NG", "GB", "CA", "US", "BR", "IN", "KE", "DE", "JP")


def _items(count: int, partners: list[PartnerProfile]) -> list[PublishedItem]:
    chooser = random.Random(7)
    return [
        PublishedItem(
            engagement_id=number, kind=KINDS[number % len(KINDS)], title=f"Engagement {number}: partners at work",
            published_at=START + timedelta(minutes=number * 37), country=chooser.choice(COUNTRIES),
            summary=f"<p>Summary of engagement {number} with <strong>partners</strong>.</p>",
            body="<p>" + "Details of the engagement and of what was agreed. " * 6 + "</p>",
            partners=[partner.name for partner in chooser.sample(partners, 2)],
            facts={"Organizing agency": "Ministry", "Held on": "2024-03-01"},
        )
        for number in range(1, count + 1)
    ]


class _Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:6.1f} s wall, {self.cpu:6.1f} s CPU"


def bench_site(count: int) -> None:
    partners = [PartnerProfile(name=f"Partner {n}", country=COUNTRIES[n % len(COUNTRIES)],
                               industry=PRIORITY_INDUSTRIES[n % len(PRIORITY_INDUSTRIES)]) for n in range(300)]
    context = SiteContext(partners=partners)
    items = _items(count, partners)
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        with _Timer() as full:
            first = publish(site, items, context)
        contents = {path.relative_to(site): path.read_bytes() for path in site.rglob("*") if path.is_file()}
        size = sum(len(content) for content in contents.values())
        disk = _plain_write(Path(folder) / "plain", contents)
        print(f"site, {count:,} published items x 3 languages (load average {os.getloadavg()[0]:.1f}):")
        print(f"  full regeneration into an empty folder: {full}  ({len(first.pages_written):,} files, {size / 2**20:.0f} MiB)")
        print(f"  the disk's limit, the same bytes by open().write(): {disk}  (regeneration: {full.wall / disk.wall:.1f}x)")
        with _Timer() as unchanged:
            same = publish(site, items, context)
        print(f"  republishing, nothing changed:           {unchanged}  ({len(same.pages_written)} files written)")
        for number in (1, 2):
            new = items[0].model_copy(update={"engagement_id": count + number,
                                              "published_at": START + timedelta(days=400 + number)})
            items = [*items, new]
            with _Timer() as incremental:
                one = publish(site, items, context)
            written = {Path(name): (site / name).read_bytes() for name in one.pages_written}
            limit = _plain_write(Path(folder) / f"plain-{number}", written)
            print(f"  publishing one new item:                 {incremental}  ({len(one.pages_written)} files written: "
                  f"{', '.join(name for name in one.pages_written if not name.startswith(('es/', 'fr/')))} and es/, fr/; "
                  f"the same bytes by open().write(): {limit.wall:.3f} s)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory of this process so far: {peak:.0f} MiB")


def _plain_write(folder: Path, contents: dict[Path, bytes]) -> _Timer:
    """Write ``contents`` under ``folder`` with plain open().write(): what the disk allows, for comparison."""
    with _Timer() as timer:
        for relative, content in contents.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as file:
                file.write(content)
    return timer


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000, help="published items / engagements (default 10,000)")
    parser.add_argument("--demo-db", type=Path, help="the demo's SQLite database (engage-data/engage.db)")
    parser.add_argument("--site-only", action="store_true", help="the website only, not the final report")
    arguments = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    bench_site(arguments.items)
    if arguments.site_only:
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        return
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        db.migrate()
        _populate(db, arguments.items)
        bench_report(db, f"{arguments.items:,} engagements", 2024)
        db.dispose()
    if arguments.demo_db:
        demo = Database(f"sqlite:///{arguments.demo_db.resolve()}")
        bench_report(demo, "the demo's 2024", 2024)
        demo.dispose()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
