"""Decision latency under contention: 32 threads decide one invitation at once, on PostgreSQL.

Prints p50/p95/max of one ``record_decision`` call (from the barrier's release to its answer) per policy,
over ROUNDS rounds each, on a scratch database; asserts nothing (the race test checks the answers).

    .venv/bin/python benchmarks/decision_race.py [--rounds 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.db import Database  # noqa: E402
from scratch_postgres import scratch_postgres  # noqa: E402
from tests.decision_race import POLICIES, THREADS, new_round, race, set_policy  # noqa: E402
from tests.world import clock_at, seeded  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_postgres(args.postgres) as url:
        db = Database(url, pool_size=THREADS)
        try:
            db.migrate()
            seeded(db)
            clock, rng = clock_at(2024, 3, 1), random.Random(7)
            print(f"{THREADS} concurrent decisions per round, {args.rounds} rounds per policy, PostgreSQL; "
                  f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
