"""Benchmark of the engine core; prints figures (targets in brackets), asserts nothing.

(a) N engagements each driven through five transitions by the full path (apply_transition), next to
    raw SQLAlchemy Core doing the same row writes in the same transactions, on SQLite and PostgreSQL;
(b) memory per live engagement with its lifecycle, above the bare ORM object;
(c) cold start of the read-only commands (`benchmarks/cli_startup.py`, fewer runs).

    .venv/bin/python benchmarks/core_path.py [--engagements 10000] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli_startup import cold_starts  # noqa: E402
from models import Engagement, OutboxMessage, Participant, TransitionLog  # noqa: E402
from models.db import Database  # noqa: E402
from scratch_postgres import scratch_postgres  # noqa: E402
from states.clock import SimulatedClock  # noqa: E402
from states.directory import load_sample  # noqa: E402
from states.machines import StateHolder, machine_for  # noqa: E402
from states.workflow import apply_transition  # noqa: E402

STEPS = ["schedule_presentation", "present", "launch", "publish", "unpublish"]
STATES = ["drafted", "presentation_scheduled", "presented", "launched", "published", "unpublished"]
STAFF = {"role": "secretariat", "identity": "bench@state.example"}
START = datetime(2024, 2, 1, tzinfo=timezone.utc)


def seed(db: Database, count: int) -> list[int]:
    """The sample world plus ``count`` toolkit launches (UNODC presenting at the SWG 2.2 session)."""
    load_sample(db)
    with db.transaction() as session:
        unodc = session.execute(text("SELECT id FROM organizations WHERE name = 'UNODC'")).scalar_one()
        first = (session.scalar(select(func.max(Engagement.id))) or 0) + 1
        rows = [{"id": first + i, "kind": "toolkit_launch", "title": f"Toolkit launch {i}", "state": "drafted",
                 "version": 1, "meeting_id": 2, "details": {}, "created_at": START, "updated_at": START,
                 "reminders_sent": 0, "escalated": False} for i in range(count)]
        session.execute(insert(Engagement), rows)
        session.execute(insert(Participant), [{"engagement_id": r["id"], "organization_id": unodc, "role": "presenter"}
                                              for r in rows])
    return [r["id"] for r in rows]


def full_path(db: Database, ids: list[int]) -> float:
    clock = SimulatedClock(START)
    began = time.perf_counter()
    for trigger in STEPS:
        for engagement_id in ids:
            apply_transition(db, engagement_id, trigger, STAFF, clock=clock)
    return time.perf_counter() - began


def raw_core(db: Database, ids: list[int]) -> float:
    """The same writes: version-guarded UPDATE, audit INSERT, outbox INSERT on publish; one transaction each."""
    now = START
    began = time.perf_counter()
    for step, trigger in enumerate(STEPS):
        for engagement_id in ids:
            with db.engine.begin() as connection:
                connection.execute(
                    update(Engagement).where(Engagement.id == engagement_id, Engagement.version == step + 1)
                    .values(state=STATES[step + 1], version=step + 2, updated_at=now)
                )
                log_id = connection.execute(insert(TransitionLog).returning(TransitionLog.id), [{
                    "engagement_id": engagement_id, "trigger": trigger, "from_state": STATES[step],
                    "to_state": STATES[step + 1], "version": step + 2, "actor": STAFF["identity"],
                    "actor_role": "secretariat", "channel": "cli", "at": now,
                }]).scalar_one()
                if trigger == "publish":
                    connection.execute(insert(OutboxMessage), [{
                        "dedupe_key": f"raw{log_id}", "engagement_id": engagement_id, "transition_id": log_id,
                        "notification_type": "publication_notice", "channel": "email", "recipient_name": "UNODC",
                        "recipient_address": "partnerships@unodc.example", "language": "en", "mandatory": True,
                        "context": {}, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                    }])
    return time.perf_counter() - began


def throughput(name: str, make_db, count: int) -> tuple[float, float]:  # noqa: ANN001
    """Rates of both runners (wall clock), and this process's CPU time per transition of each (robust to load;
    the PostgreSQL server's own CPU is not counted)."""
    results, cpu = [], []
    for runner in (full_path, raw_core):
        db = make_db()
        ids = seed(db, count)
        began = time.process_time()
        elapsed = runner(db, ids)
        cpu.append((time.process_time() - began) / (count * len(STEPS)))
        results.append(count * len(STEPS) / elapsed)
        db.dispose()
    full, raw = results
    print(f"  {name:<10} full path {full:8.0f} transitions/s   raw Core {raw:8.0f} writes/s   "
          f"ratio {full / raw:5.1%}  [>= 50%]   CPU per transition: full {cpu[0] * 1000:.3f} ms, "
          f"raw {cpu[1] * 1000:.3f} ms, raw / full {cpu[1] / cpu[0]:5.1%}")
    return full, raw


def sqlite_factory(folder: Path):  # noqa: ANN201
    def make() -> Database:
        path = folder / f"{uuid.uuid4().hex}.db"
        db = Database(f"sqlite:///{path}")
        db.migrate()
        return db
    return make


def postgres_factory(server_url: str, scratch: ExitStack):  # noqa: ANN201
    def make() -> Database:
        db = Database(scratch.enter_context(scratch_postgres(server_url)))
        db.migrate()
        return db
    return make


def memory(folder: Path, count: int) -> None:
    db = sqlite_factory(folder)()
    seed(db, count)
    with db.sessions() as session:
        tracemalloc.start()
        base = tracemalloc.take_snapshot()
        rows = session.scalars(select(Engagement).where(Engagement.kind == "toolkit_launch")).all()
        loaded = tracemalloc.take_snapshot()
        orm_bytes = sum(s.size_diff for s in loaded.compare_to(base, "filename")) / len(rows)
        machine = machine_for("toolkit_launch")
        # What the engine holds per live engagement: its row and a reference to the shared Machine.
        live = [(row, machine) for row in rows]
        holders = [StateHolder(row.state) for row in rows]  # what one firing creates, transiently
        ours = tracemalloc.take_snapshot()
        our_bytes = sum(s.size_diff for s in ours.compare_to(loaded, "filename")) / len(rows)
        del live, holders
        tracemalloc.stop()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        sample = rows[:1000]
        for row in sample:  # the design we avoid: every row attached to a Machine
            machine.add_model(row)
        per_row_machine = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename")) / len(sample)
        tracemalloc.stop()
    print(f"  bare ORM Engagement object: {orm_bytes:7.0f} B")
    print(f"  engine overhead per live engagement (shared Machine): {our_bytes:7.0f} B  [<= 2048 B]")
    print(f"  for comparison, attaching each row to a Machine:      {per_row_machine:7.0f} B")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engagements", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="engage-bench-"))
    try:
        with ExitStack() as scratch:
            print(f"(a) {args.engagements} engagements x {len(STEPS)} transitions, one transaction each")
            throughput("SQLite", sqlite_factory(folder), args.engagements)
            if not args.no_postgres:
                throughput("PostgreSQL", postgres_factory(args.postgres, scratch), args.engagements)
        print("(b) memory")
        memory(folder, args.engagements)
        print("(c) cold start")
        cold_starts(runs=7)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
