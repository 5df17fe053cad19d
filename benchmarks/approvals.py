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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from models import Engagement  # noqa: E402
from models.db import Database  # noqa: E402
from states.directory import load_sample  # noqa: E402
from states.workflow import create_engagement  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
STAFF = {"role": "secretariat", "identity": "bench@state.example"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with(marker: bytes) -> list[int]:
    """Pids of this user's processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_until(what: str, check, timeout: float) -> float:  # noqa: ANN001 - a predicate
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--approvals", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=5)
    parser.add_argument("--worker-limit", type=int, default=4, help="flow runs the worker starts at once")
    args = parser.parse_args()

    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    engine_name, prefect_name = f"engage_bench_{uuid.uuid4().hex[:8]}", f"prefect_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        for name in (engine_name, prefect_name):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine_url = make_url(args.postgres).set(database=engine_name).render_as_string(hide_password=False)
    prefect_url = make_url(args.postgres).set(drivername="postgresql+asyncpg", database=prefect_name)
    db = Database(engine_url)
    db.migrate()
    load_sample(db)
    ids = [create_engagement(db, {
        "kind": "swg_presentation", "title": f"Benchmark presentation {n}", "swg_code": "1.1",
        "details": {"topic": "Benchmark"}, "participants": [{"organization": "Meta", "role": "presenter"}],
    }, STAFF) for n in range(args.approvals)]

    port, home = free_port(), Path(tempfile.mkdtemp(prefix="engage-bench-"))
    tag = uuid.uuid4().hex
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ENGAGE_"))},
        "PREFECT_HOME": str(home / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_url.render_as_string(hide_password=False),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_CLI_PROMPT": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_WORKER_QUERY_SECONDS": "2", "ENGAGE_PROJECT_DIR": str(PROJECT),
    }
    worker_env = {**env, "ENGAGE_DATABASE_URL": engine_url, "ENGAGE_DATA_DIR": str(home / "data"),
                  "ENGAGE_SMTP_PORT": "9", "ENGAGE_SMTP_TIMEOUT_SECONDS": "1",
                  "ENGAGE_PREFECT_FORM_TRUSTED": '["*"]', "ENGAGE_BENCH_WORKER": tag}
    log = open(home / "processes.log", "ab")  # noqa: SIM115 - lives as long as the processes
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              cwd=PROJECT, stdout=log, stderr=log, start_new_session=True)
    worker = None
    try:
        def healthy() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).status == 200
            except OSError:
                return False

        wait_until("the Prefect server", healthy, 180)
        for command in (["work-pool", "create", "engage-process", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            subprocess.run([PREFECT, *command], env=env, cwd=PROJECT, check=True, capture_output=True, timeout=300)
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "engage-process", "--limit",
                                   str(args.worker_limit)], env=worker_env, cwd=PROJECT, stdout=log, stderr=log,
                                  start_new_session=True)
        os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"]
        from prefect.client.orchestration import get_client
        from prefect.deployments import run_deployment
        from prefect.flow_runs import resume_flow_run

        with get_client(sync_client=True) as client:
            started = time.monotonic()
            runs = {engagement: run_deployment("co-chair-approval/co-chair-approval", timeout=0,
                                               parameters={"engagement_id": engagement}).id for engagement in ids}

            def all_suspended() -> bool:
                return all(client.read_flow_run(run).state.is_paused() for run in runs.values())

            seconds = wait_until(f"{len(runs)} approvals to suspend", all_suspended, 60 * 60)
            suspend_all = time.monotonic() - started
            time.sleep(5)
            approval_pids = [pid for run in runs.values()
                             for pid in processes_with(f"PREFECT__FLOW_RUN_ID={run}".encode())]
            others = [pid for pid in processes_with(f"ENGAGE_BENCH_WORKER={tag}".encode())
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
        for process in (worker, server):
            if process is not None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
        db.dispose()
        with admin.connect() as connection:
            for name in (engine_name, prefect_name):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
