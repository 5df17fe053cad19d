"""Benchmark of the reminder sweep: 100,000 and 1,000,000 engagements, 1,000 of them due.

Prints the time spent in the domain (finding due rows through the indexed next_due_at column and
deciding what to do; then applying the 1,000 transitions with their outbox rows) separately from
Prefect's overhead (the sweep flow's wall time minus the domain's). Not a test.

    .venv/bin/python benchmarks/sweep.py                       # SQLite in a temporary folder
    .venv/bin/python benchmarks/sweep.py --sizes 100000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from sqlalchemy import insert, select, text  # noqa: E402

from models import Engagement, Organization, Participant  # noqa: E402
from models.db import Database  # noqa: E402
from scratch_postgres import scratch_postgres  # noqa: E402
from settings import Settings  # noqa: E402
from states.clock import SimulatedClock  # noqa: E402
from states.directory import load_sample  # noqa: E402
from states.sweep import decide, find_due  # noqa: E402

NOW = datetime(2024, 6, 1, 9, tzinfo=timezone.utc)
DUE = 1_000
BATCH = 50_000


def populate(db: Database, total: int, due: int = DUE) -> float:
    """Bulk-insert ``total`` engagements (``due`` of them due now) with Core; return the seconds taken."""
    started = time.perf_counter()
    with db.transaction() as session:
        meta = session.scalar(select(Organization.id).where(Organization.name == "Meta"))
    waiting_since = NOW - timedelta(days=8)
    states = ("proposed", "approved", "presented", "published", "invitation_sent")
    with db.engine.begin() as connection:
        for start in range(0, total, BATCH):
            rows = []
            for number in range(start, min(start + BATCH, total)):
                is_due = number % (total // due) == 0 and number // (total // due) < due
                waiting = is_due or number % 5 == 4
                rows.append({
                    "kind": "swg_presentation", "title": f"Presentation {number}",
                    "state": "invitation_sent" if waiting else states[number % 4], "version": 3, "swg_code": "2.2",
                    "details": {"topic": "Benchmark"}, "created_at": waiting_since, "updated_at": waiting_since,
                    "waiting_since": waiting_since if waiting else None, "reminders_sent": 0, "escalated": False,
                    # not due: waiting ones fall due in the future, the others not at all
                    "next_due_at": (NOW - timedelta(days=1)) if is_due else (NOW + timedelta(days=1 + number % 20)) if waiting else None,
                })
            connection.execute(insert(Engagement), rows)
        due_ids = connection.execute(select(Engagement.id).where(Engagement.next_due_at <= NOW)).scalars().all()
        connection.execute(insert(Participant), [{"engagement_id": i, "organization_id": meta, "role": "presenter"} for i in due_ids])
        if db.dialect == "postgresql":
            connection.execute(text("ANALYZE engagements"))
    return time.perf_counter() - started


def query_and_decide(db: Database) -> tuple[float, float, int]:
    query = decide_time = 0.0
    after, planned = None, 0
    while True:
        started = time.perf_counter()
        rows = find_due(db, NOW, 500, after)
        query += time.perf_counter() - started
        if not rows:
            break
        after = (rows[-1].next_due_at, rows[-1].id)
        started = time.perf_counter()
        planned += sum(1 for row in rows if decide(row, NOW))
        decide_time += time.perf_counter() - started
    return query, decide_time, planned


def run(url: str, total: int, data_dir: Path) -> None:
    from flows.runtime import Runtime, use_runtime
    from flows.sweep import sweep_flow

    db = Database(url)
    db.migrate()
    load_sample(db)
    inserted = populate(db, total)
    query, decide_time, planned = query_and_decide(db)
    settings = Settings(data_dir=data_dir, database_url=url)
    with use_runtime(Runtime(settings, db, SimulatedClock(NOW))):
        asyncio.run(sweep_flow(now=NOW - timedelta(days=400), dispatch=False))  # warm-up: API started, nothing due
        started = time.perf_counter()
        result = asyncio.run(sweep_flow(now=NOW, dispatch=False))
        wall = time.perf_counter() - started
    timings = result["timings"]
    domain = sum(timings.values())
    print(f"{db.dialect:10} {total:>9,} engagements ({planned} due; inserted in {inserted:5.1f} s)")
    print(f"    domain: query {query * 1000:7.1f} ms + decisions {decide_time * 1000:6.1f} ms = {(query + decide_time) * 1000:7.1f} ms")
    print(f"    in the flow: query {timings['query'] * 1000:.1f} ms, decisions {timings['decide'] * 1000:.1f} ms, "
          f"{len(result['reminded'])} reminders applied (transition + audit + outbox) {timings['apply']:.2f} s")
    print(f"    Prefect overhead (flow wall {wall:.2f} s - domain {domain:.2f} s): {wall - domain:.2f} s")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", help="PostgreSQL URL; a temporary database is created and dropped there")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engage-bench-") as folder:
        os.environ.setdefault("PREFECT_HOME", str(Path(folder) / "prefect"))
        for total in arguments.sizes:
            if arguments.postgres:
                with scratch_postgres(arguments.postgres) as url:
                    run(url, total, Path(folder))
            else:
                run(f"sqlite:///{Path(folder) / f'bench-{total}.db'}", total, Path(folder))


if __name__ == "__main__":
    main()
