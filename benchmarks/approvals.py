"""Benchmark of waiting approvals on a real Prefect server (PostgreSQL) with one process worker.

Starts ``prefect server`` on a scratch PostgreSQL database, deploys ``prefect.yaml``, starts one
worker polling every 2 s, then:

1. starts N approval runs (default 200) and waits until all are suspended; prints the flow
   processes still alive, their memory, the worker's memory and the connections to the engine's
   database while they all wait (the goal: no process, no connection per waiting approval);
2. decides K of them through the form's API (``resume_flow_run`` with input) and prints the time
   from the submission to the follow-up's committed ``invitation_sent`` state.

Not a test. Prints figures.

    .venv/bin/python benchmarks/approvals.py                          # 200 approvals, 5 decisions
    .venv/bin/python benchmarks/approvals.py --approvals 40 --decisions 3 --worker-limit 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from models import Engagement  # noqa: E402
from models.db import Database  # noqa: E402
from scratch_postgres import scratch_postgres  # noqa: E402
from states.directory import load_sample  # noqa: E402
from states.workflow import create_engagement  # noqa: E402
from tests.prefect_stack import PrefectStack, prefect_stack, processes_with, wait_until  # noqa: E402

STAFF = {"role": "secretariat", "identity": "bench@state.example"}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--approvals", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=5)
    parser.add_argument("--worker-limit", type=int, default=4, help="flow runs the worker starts at once")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="engage-bench-"))
    with scratch_postgres(args.postgres) as engine_url:
        db = Database(engine_url)
        db.migrate()
        load_sample(db)
        ids = [create_engagement(db, {
            "kind": "swg_presentation", "title": f"Benchmark presentation {n}", "swg_code": "1.1",
            "details": {"topic": "Benchmark"}, "participants": [{"organization": "Meta", "role": "presenter"}],
        }, STAFF) for n in range(args.approvals)]
        try:
            with prefect_stack(args.postgres, home, {
                "ENGAGE_DATABASE_URL": engine_url, "ENGAGE_DATA_DIR": str(home / "data"),
                "ENGAGE_SMTP_PORT": "9", "ENGAGE_SMTP_TIMEOUT_SECONDS": "1", "ENGAGE_PREFECT_FORM_TRUSTED": '["*"]',
            }) as stack:
                measure(stack, db, ids, engine_url, args)
        finally:
            db.dispose()


def measure(stack: PrefectStack, db: Database, ids: list[int], engine_url: str, args: argparse.Namespace) -> None:
    """Start the approvals, wait for them all to suspend, print what they hold, then time some decisions."""
    worker = stack.start_worker("--limit", str(args.worker_limit))
    os.environ["PREFECT_API_URL"] = stack.env["PREFECT_API_URL"]
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    engine_name = make_url(engine_url).database
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    try:
        with get_client(sync_client=True) as client:
            started = time.monotonic()
            runs = {engagement: run_deployment("co-chair-approval/co-chair-approval", timeout=0,
                                               parameters={"engagement_id": engagement}).id for engagement in ids}

            def all_suspended() -> bool:
                return all(client.read_flow_run(run).state.is_paused() for run in runs.values())

            last = time.monotonic()
            wait_until(f"{len(runs)} approvals to suspend", all_suspended, 60 * 60)
            seconds, suspend_all = time.monotonic() - last, time.monotonic() - started
            time.sleep(5)
            approval_pids = [pid for run in runs.values()
                             for pid in processes_with(f"PREFECT__FLOW_RUN_ID={run}".encode())]
            others = [pid for pid in processes_with(stack.marker)
                      if pid != worker.pid and pid not in approval_pids]
            with admin.connect() as connection:
                connections = connection.execute(
                    text("select count(*) from pg_stat_activity where datname = :name"), {"name": engine_name}
                ).scalar_one()
            db.dispose()
            print(f"{len(runs)} approvals suspended after {suspend_all:.1f} s (last wait {seconds:.1f} s), "
                  f"worker limit {args.worker_limit}, polling every 2 s")
            print(f"while all wait: approval flow processes alive {len(approval_pids)} "
                  f"({sum(rss_mib(p) for p in approval_pids):.0f} MiB); worker RSS {rss_mib(worker.pid):.0f} MiB; "
                  f"other flow processes (scheduled relay/dispatch runs) {len(others)} "
                  f"({sum(rss_mib(p) for p in others):.0f} MiB); connections to the engine database from any "
                  f"process {connections} (the benchmark's own pool closed)")
            latencies = []
            for engagement in ids[: args.decisions]:
                submitted = time.monotonic()
                resume_flow_run(runs[engagement], run_input={"co_chair_email": "swg11.incb@cochairs.example",
                                                             "decision": "approve"})

                def invited(engagement: int = engagement) -> bool:
                    with db.transaction() as session:
                        return session.scalar(select(Engagement.state).where(Engagement.id == engagement)) == \
                            "invitation_sent"

                wait_until("the invitation", invited, 600)
                latencies.append(time.monotonic() - submitted)
            if latencies:
                print(f"decision (form) -> follow-up committed invitation_sent: median {statistics.median(latencies):.1f} s, "
                      f"max {max(latencies):.1f} s over {len(latencies)} decisions")
            with db.transaction() as session:
                counted = session.scalar(select(func.count()).select_from(Engagement)
                                         .where(Engagement.state == "invitation_sent"))
            print(f"engagements invited: {counted}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        admin.dispose()


if __name__ == "__main__":
    main()
