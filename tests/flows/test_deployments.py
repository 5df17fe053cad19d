"""prefect.yaml on a real `prefect server start`, run by a real process worker, on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models import TransitionLog
from states.workflow import apply_transition
from tests.world import SYSTEM, clock_at, new_engagement, seeded

PROJECT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.postgres
def test_deploy_and_run_through_a_worker(postgres_db, tmp_path):
    clock = clock_at(2024, 3, 1)
    engagement = new_engagement(seeded(postgres_db), "swg_presentation", clock, swg_code="3.1",
                                title="Meta presents at SWG 3.1")
    apply_transition(postgres_db, engagement, "request_approval", SYSTEM, clock=clock)

    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_CLI_PROMPT": "false",
        "ENGAGE_DATABASE_URL": postgres_db.url, "ENGAGE_DATA_DIR": str(tmp_path / "data"),
        "ENGAGE_PROJECT_DIR": str(PROJECT), "ENGAGE_SMTP_PORT": "9",  # no mail server: rows stay pending
    }
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the Prefect server did not start"
                time.sleep(0.5)
        _run(env, "work-pool", "create", "engage-process", "--type", "process")
        _run(env, "--no-prompt", "deploy", "--all")
        listed = _run(env, "deployment", "ls")
        for name in ("reminder-sweep", "co-chair-approval", "publish-website", "final-report", "dispatch-notifications"):
            assert name in listed
        moment = (clock.now() + timedelta(days=7)).isoformat()
        _run(env, "deployment", "run", "reminder-sweep/reminder-sweep", "--param", f"now={moment}",
             "--param", "dispatch=false")
        _run(env, "deployment", "run", "publish-website/publish-website")
        _run(env, "worker", "start", "--pool", "engage-process", "--run-once", timeout=240)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    with postgres_db.transaction() as session:
        log = session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == engagement)).all()
    assert [row.trigger for row in log][-1] == "remind"
    assert log[-1].channel == "flow" and log[-1].flow_run_id
    assert (tmp_path / "data" / "site" / "index.html").exists()
