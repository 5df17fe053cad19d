"""prefect.yaml on a real `prefect server` (on PostgreSQL), run by a real process worker, end to end.

Approval runs suspend (no process alive while they wait); co-chairs decide through the form's API
(``resume_flow_run`` with input) and the CLI at the same moment; the settling decision's engine
event starts the ``approval-follow-up`` deployment through its trigger, which sends the invitation
over real SMTP; a form submitted while the worker is killed is applied once when a worker is back.
"""

from __future__ import annotations

import json
import mailbox
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from models import ApprovalVote, CoChair, Engagement, TransitionLog
from states.clock import SimulatedClock
from states.directory import load_sample
from states.workflow import create_engagement

PROJECT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
STAFF = {"role": "secretariat", "identity": "s@state.example"}
TRUSTED = ["swg22.france@cochairs.example", "swg22.unodc@cochairs.example", "swg11.incb@cochairs.example",
           "swg12.mexico@cochairs.example"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait(what: str, check: Callable[[], Any], timeout: float = 180, every: float = 0.5) -> Any:
    start = time.monotonic()
    end = start + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            print(f"{what}: {time.monotonic() - start:.1f} s")
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _processes_of_run(run_id: uuid.UUID) -> list[int]:
    """Processes (of this user) whose environment names the flow run: the run's own process, if alive."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _kill_tree(process: subprocess.Popen, marker: bytes) -> None:
    """SIGKILL a process group we started and every process carrying ``marker`` in its environment."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes() and int(entry.name) != os.getpid():
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


@contextmanager
def _prefect_database(server_url: str) -> Iterator[str]:
    """A scratch PostgreSQL database for Prefect's own API (asyncpg URL), dropped afterwards."""
    name = f"prefect_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _state(client: Any, run_id: uuid.UUID) -> Any:
    return client.read_flow_run(run_id).state


def _votes(db, engagement: int) -> dict[str, str]:
    with db.transaction() as session:
        rows = session.execute(select(CoChair.email, ApprovalVote.channel)
                               .join(ApprovalVote, ApprovalVote.co_chair_id == CoChair.id)
                               .where(ApprovalVote.engagement_id == engagement)).all()
    return dict(rows)


def _log(db, engagement: int) -> list[TransitionLog]:
    with db.transaction() as session:
        return list(session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == engagement)
                                    .order_by(TransitionLog.id)))


def _engagement_state(db, engagement: int) -> str:
    with db.transaction() as session:
        return session.get(Engagement, engagement).state


def _invitations(maildir: Path, to: str) -> list[Any]:
    box = mailbox.Maildir(maildir, create=False)
    return [m for m in box if to in (m["To"] or "") and (m["Subject"] or "").startswith("Invitation")]


@pytest.mark.postgres
@pytest.mark.timeout(1800)  # about 5 min on a quiet machine; each flow process start is slow under load
def test_deploy_suspend_decide_follow_up_and_survive_a_killed_worker(postgres_db, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from notifications.mail_sink import running_mail_sink

    clock = SimulatedClock(datetime(2024, 3, 1, 9, tzinfo=timezone.utc))
    load_sample(postgres_db)

    def presentation(swg: str) -> int:
        return create_engagement(postgres_db, {
            "kind": "swg_presentation", "title": f"Meta at SWG {swg}", "swg_code": swg,
            "details": {"topic": "Prevention"}, "participants": [{"organization": "Meta", "role": "presenter"}],
        }, STAFF, clock=clock)

    both, any_one, unanswered, crashed = (presentation(swg) for swg in ("2.2", "1.1", "3.1", "1.2"))

    port = _free_port()
    maildir = tmp_path / "Maildir"
    with _prefect_database(postgres_db.url) as prefect_db, running_mail_sink(maildir) as smtp_port:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ENGAGE_"))},
            "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_CLI_PROMPT": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_LOGGING_LEVEL": "WARNING",
            "ENGAGE_PROJECT_DIR": str(PROJECT),
        }
        worker_env = {
            **env, "ENGAGE_DATABASE_URL": postgres_db.url, "ENGAGE_DATA_DIR": str(tmp_path / "data"),
            "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(smtp_port),
            "ENGAGE_PREFECT_FORM_TRUSTED": json.dumps(TRUSTED), "ENGAGE_TEST_WORKER": uuid.uuid4().hex,
        }
        marker = f"ENGAGE_TEST_WORKER={worker_env['ENGAGE_TEST_WORKER']}".encode()
        logs = tmp_path / "logs"
        logs.mkdir()

        def start(name: str, *args: str, environment: dict[str, str]) -> subprocess.Popen:
            out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
            return subprocess.Popen([PREFECT, *args], env=environment, cwd=PROJECT, stdout=out, stderr=out,
                                    start_new_session=True)

        server = start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port), environment=env)
        worker: subprocess.Popen | None = None
        try:
            _wait("the Prefect server", lambda: _healthy(port, server), timeout=120)
            _run(env, "work-pool", "create", "engage-process", "--type", "process")
            _run(env, "--no-prompt", "deploy", "--all")
            listed = _run(env, "deployment", "ls")
            for name in ("co-chair-approval", "approval-follow-up", "engine-relay", "reminder-sweep",
                         "publish-website", "dispatch-notifications", "secretariat-alert"):
                assert name in listed
            worker = start("worker", "worker", "start", "--pool", "engage-process", environment=worker_env)

            with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), get_client(sync_client=True) as client:
                # 1. The approval run asks the co-chairs and suspends: no process is left for it.
                run = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": both},
                                     timeout=0)
                state = _wait("the approval run to suspend", lambda: (s := _state(client, run.id)).is_paused() and s)
                _wait("the run's process to end", lambda: not _processes_of_run(run.id), timeout=30)
                named = client.read_flow_run(run.id)
                assert named.name == f"approval-{both}-meta-swg-2-2"
                assert {f"engagement:{both}", "kind:swg_presentation", "swg:2.2"} <= set(named.tags)
                description = _wait("the form", lambda: _form_text(client, run.id, state))
                assert "Meta" in description and "2.2" in description and "all co-chairs must approve" in description
                assert _engagement_state(postgres_db, both) == "awaiting_approval"

                # 2. A person the form does not trust: refused, audited with its channel, a fresh form says why.
                resume_flow_run(run.id, run_input={"co_chair_email": "swg11.canada@cochairs.example",
                                                   "decision": "approve"})
                again = _wait("a fresh form", lambda: (s := _state(client, run.id)).is_paused()
                              and s.state_details.pause_key != state.state_details.pause_key and s)
                refusal = [row for row in _log(postgres_db, both) if row.trigger == "refused"]
                assert len(refusal) == 1 and refusal[0].channel == "prefect_ui"
                assert refusal[0].actor == "swg11.canada@cochairs.example" and "does not accept" in refusal[0].comment
                why = _wait("the fresh form", lambda: _form_text(client, run.id, again))
                assert "not recorded (refused)" in why
                assert _votes(postgres_db, both) == {}

                # 3. France through the form and UNODC through the CLI, at the same moment.
                cli = threading.Thread(target=lambda: _cli_approve(worker_env, both, "swg22.unodc@cochairs.example"))
                cli.start()
                resume_flow_run(run.id, run_input={"co_chair_email": "swg22.france@cochairs.example",
                                                   "decision": "approve", "comment": "Bienvenue"})
                cli.join(60)
                _wait("both votes", lambda: len(_votes(postgres_db, both)) == 2)
                assert _votes(postgres_db, both) == {"swg22.france@cochairs.example": "prefect_ui",
                                                     "swg22.unodc@cochairs.example": "cli"}
                # The settling decision's event is relayed (by the run, or by the scheduled relay).
                run_deployment("engine-relay/engine-relay", timeout=0)
                _wait("the invitation", lambda: _engagement_state(postgres_db, both) == "invitation_sent", timeout=120)
                _wait("the invitation e-mail", lambda: _invitations(maildir, "policy@meta.example"), timeout=60)
                final = _wait("the approval run to end", lambda: (s := _state(client, run.id)).is_final() and s)
                assert final.is_completed() and final.name == "Approved", final
                log = _log(postgres_db, both)
                assert [row.trigger for row in log].count("send_invitation") == 1
                assert [row.trigger for row in log].count("approve") == 2

                # 4. Kill the worker and its flow processes while a run waits; decide while no worker is up.
                second = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": any_one},
                                        timeout=0)
                late = run_deployment("co-chair-approval/co-chair-approval", timeout=0,
                                      parameters={"engagement_id": unanswered, "timeout_seconds": 20})
                late = _wait("the short run's name", lambda: (r := client.read_flow_run(late.id)).name.startswith(
                    "approval-") and r)
                third = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": crashed},
                                       timeout=0)
                _wait("the second and third runs to suspend",
                      lambda: _state(client, second.id).is_paused() and _state(client, third.id).is_paused())
                # Prefect saves a suspended run's form just after the state: wait for both forms, then kill.
                _wait("their forms", lambda: all(_form_text(client, r.id, _state(client, r.id)) for r in (second, third)))
                _kill_tree(worker, marker)
                resume_flow_run(second.id, run_input={"co_chair_email": "swg11.incb@cochairs.example",
                                                      "decision": "approve"})
                time.sleep(3)
                assert _votes(postgres_db, any_one) == {}  # no worker: nothing applied yet, nothing lost
                assert _state(client, second.id).is_scheduled()
                worker = start("worker", "worker", "start", "--pool", "engage-process", environment=worker_env)
                _wait("the vote after the restart", lambda: _votes(postgres_db, any_one), timeout=90)
                _wait("the second invitation", lambda: _engagement_state(postgres_db, any_one) == "invitation_sent",
                      timeout=120)
                assert _votes(postgres_db, any_one) == {"swg11.incb@cochairs.example": "prefect_ui"}
                triggers = [row.trigger for row in _log(postgres_db, any_one)]
                assert triggers.count("approve") == 1 and triggers.count("send_invitation") == 1
                _wait("the second invitation e-mail", lambda: len(_invitations(maildir, "policy@meta.example")) == 2)

                # 5. Kill the worker and the flow process while the resumed run is running; the relay restarts it.
                _wait("the third run to suspend", lambda: _state(client, third.id).is_paused())
                resume_flow_run(third.id, run_input={"co_chair_email": "swg12.mexico@cochairs.example",
                                                     "decision": "approve"})
                _wait("the resumed run to run", lambda: _state(client, third.id).is_running(), every=0.05)
                _kill_tree(worker, marker)
                worker = start("worker", "worker", "start", "--pool", "engage-process", environment=worker_env)
                run_deployment("engine-relay/engine-relay", timeout=0, parameters={"stalled_after_seconds": 0})
                _wait("the third invitation", lambda: _engagement_state(postgres_db, crashed) == "invitation_sent",
                      timeout=180)
                triggers = [row.trigger for row in _log(postgres_db, crashed)]
                assert triggers.count("approve") == 1 and triggers.count("send_invitation") == 1
                assert _votes(postgres_db, crashed) == {"swg12.mexico@cochairs.example": "prefect_ui"}

                # 6. An approval nobody answers in time ends TimedOut (the scheduled relay closes it).
                # (it suspended with a 20 s timeout and the relay closes it, or it started too late to suspend)
                run_deployment("engine-relay/engine-relay", timeout=0)
                ended = _wait("the timeout", lambda: (s := _state(client, late.id)).is_final() and s, timeout=120)
                assert ended.name == "TimedOut" and "swg31.nigeria@cochairs.example" in ended.message
                assert _engagement_state(postgres_db, unanswered) == "awaiting_approval"
                # ... and the trigger on ended runs starts the secretariat's chat alert about it.
                alert = client.read_deployment_by_name("secretariat-alert/secretariat-alert")

                def alerted() -> bool:
                    runs = client.read_flow_runs(limit=200)
                    return any(r.deployment_id == alert.id and r.parameters.get("run_name") == late.name
                               and r.parameters.get("state") == "TimedOut" for r in runs)

                _wait("the secretariat alert", alerted, timeout=120)
        finally:
            if worker is not None:
                _kill_tree(worker, marker)
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


def _form_text(client: Any, run_id: uuid.UUID, state: Any) -> str | None:
    """The description above a suspended run's form, once the run has saved it."""
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        return client.read_flow_run_input(run_id, state.state_details.run_input_keyset["description"])
    except PrefectHTTPStatusError:  # 404 until the run has saved it
        return None


def _healthy(port: int, server: subprocess.Popen) -> bool:
    assert server.poll() is None, "the Prefect server exited"
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
        return True
    except OSError:
        return False


def _cli_approve(env: dict[str, str], engagement: int, email: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from cli.app import main; main()", "approve", str(engagement), "--as", email],
        env={**env, "PYTHONPATH": str(PROJECT)}, cwd=PROJECT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
