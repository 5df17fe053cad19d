"""Decision latency under contention, and the CPU time of one decision.

By default: 32 threads decide one invitation at once, on PostgreSQL; prints p50/p95/max of one
``record_decision`` call (from the barrier's release to its answer) per policy, over ROUNDS rounds each,
on a scratch database; asserts nothing (the race test checks the answers).

``--cpu N``: N invitations under the ``all`` policy, decided one call after the other on SQLite and
PostgreSQL; prints this process's CPU time per ``record_decision`` call by outcome (a vote that leaves
the approval pending, the vote that settles it, a replayed key, a second vote, a vote after the end).
The PostgreSQL server's own CPU is not counted.

    .venv/bin/python benchmarks/decision_race.py [--rounds 100] [--postgres URL]
    .venv/bin/python benchmarks/decision_race.py --cpu 200 [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.db import Database  # noqa: E402
from scratch_postgres import scratch_postgres  # noqa: E402
from states.approvals import record_decision  # noqa: E402
from states.workflow import apply_transition  # noqa: E402
from tests.decision_race import CHAIRS, POLICIES, THREADS, new_round, race, set_policy  # noqa: E402
from tests.world import SYSTEM, clock_at, new_engagement, seeded  # noqa: E402

# One invitation's calls, in order, under the ``all`` policy: (co-chair, decision, key, what it measures).
CPU_CALLS = (
    (0, "approve", "first", "vote, still pending"),
    (0, "approve", "first", "replayed key"),
    (1, "approve", None, "vote, still pending"),
    (0, "decline", None, "second vote (already decided)"),
    (2, "approve", None, "vote that settles it"),
    (1, "decline", None, "vote after the end (not awaiting)"),
)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_per_decision(db: Database, name: str, invitations: int) -> None:
    """Decide ``invitations`` invitations one call at a time; print the CPU time per call by outcome."""
    seeded(db)
    set_policy(db, "all", None)
    clock = clock_at(2024, 3, 1)
    ids = []
    for _ in range(invitations):
        ids.append(new_engagement(db, "swg_presentation", clock, swg_code="3.1", title="CPU per decision"))
        apply_transition(db, ids[-1], "request_approval", SYSTEM, clock=clock)
    spent: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for eid in ids:
        for chair, decision, key, label in CPU_CALLS:
            began = time.process_time()
            record_decision(db, eid, CHAIRS[chair], decision, None, "cli", clock,
                            idempotency_key=key and f"cpu:{eid}:{key}")
            spent[label] += time.process_time() - began
            counts[label] += 1
    total = sum(spent.values()) / sum(counts.values())
    print(f"  {name:<10} all calls {total * 1000:5.2f} ms CPU each ({sum(counts.values())} calls; load average {load()})")
    for label in dict.fromkeys(label for *_, label in CPU_CALLS):
        print(f"    {label:<36} {spent[label] / counts[label] * 1000:5.2f} ms")


def cpu_mode(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/decisions.db")
        db.migrate()
        cpu_per_decision(db, "SQLite", args.cpu)
        db.dispose()
    if args.no_postgres:
        return
    with scratch_postgres(args.postgres) as url:
        db = Database(url)
        try:
            db.migrate()
            cpu_per_decision(db, "PostgreSQL", args.cpu)
        finally:
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--cpu", type=int, metavar="INVITATIONS", help="CPU time per decision instead")
    parser.add_argument("--no-postgres", action="store_true", help="with --cpu: SQLite only")
    args = parser.parse_args()
    if args.cpu:
        cpu_mode(args)
        return
    with scratch_postgres(args.postgres) as url:
        db = Database(url, pool_size=THREADS)
        try:
            db.migrate()
            seeded(db)
            clock, rng = clock_at(2024, 3, 1), random.Random(7)
            print(f"{THREADS} concurrent decisions per round, {args.rounds} rounds per policy, PostgreSQL; "
                  f"load average {load()}")
            with ThreadPoolExecutor(THREADS) as pool:
                for policy, quorum in POLICIES:
                    set_policy(db, policy, quorum)
                    seconds: list[float] = []
                    began = time.perf_counter()
                    for _ in range(args.rounds):
                        seconds += race(db, clock, new_round(db, clock, policy, rng), pool).seconds
                    elapsed = time.perf_counter() - began
                    cuts = statistics.quantiles(seconds, n=100)
                    print(f"  {policy:<7} p50 {cuts[49] * 1000:6.1f} ms   p95 {cuts[94] * 1000:6.1f} ms   "
                          f"max {max(seconds) * 1000:6.1f} ms   {args.rounds / elapsed:5.1f} rounds/s")
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
