"""prefect.yaml on a real `prefect server` (on PostgreSQL), run by a real process worker, end to end.

Approval runs suspend (no process alive while they wait); co-chairs decide through the form's API
(``resume_flow_run`` with input) and the CLI at the same moment; the settling decision's engine
event starts the ``approval-follow-up`` deployment through its trigger, which sends the invitation
over real SMTP; a form submitted while the worker is killed is applied once when a worker is back.
"""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models import ApprovalVote, CoChair, Engagement, TransitionLog
from states.clock import SimulatedClock
from states.workflow import create_engagement
from tests.prefect_stack import PROJECT, prefect_stack, processes_with, wait_until
from tests.world import seeded

STAFF = {"role": "secretariat", "identity": "s@state.example"}
TRUSTED = ["swg22.france@cochairs.example", "swg22.unodc@cochairs.example", "swg11.incb@cochairs.example",
           "swg12.mexico@cochairs.example"]


def _processes_of_run(run_id: uuid.UUID) -> list[int]:
    """The run's own process, if alive (Prefect names the run in its flow-run processes' environment)."""
    return processes_with(f"PREFECT__FLOW_RUN_ID={run_id}".encode())


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
@pytest.mark.prefect  # a Prefect stack of its own (not the session's API): among the first tests to start
@pytest.mark.timeout(1800)  # about 3 min on a quiet machine; each flow process start is slow under load
def test_deploy_suspend_decide_follow_up_and_survive_a_killed_worker(postgres_db, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from notifications.mail_sink import running_mail_sink

    clock = SimulatedClock(datetime(2024, 3, 1, 9, tzinfo=timezone.utc))
    seeded(postgres_db)

    def presentation(swg: str) -> int:
        return create_engagement(postgres_db, {
            "kind": "swg_presentation", "title": f"Meta at SWG {swg}", "swg_code": swg,
            "details": {"topic": "Prevention"}, "participants": [{"organization": "Meta", "role": "presenter"}],
        }, STAFF, clock=clock)

    both, any_one, unanswered, crashed, decided_elsewhere = (
        presentation(swg) for swg in ("2.2", "1.1", "3.1", "1.2", "1.1"))

    maildir = tmp_path / "Maildir"
    with running_mail_sink(maildir) as smtp_port, prefect_stack(postgres_db.url, tmp_path, {
        "ENGAGE_DATABASE_URL": postgres_db.url, "ENGAGE_DATA_DIR": str(tmp_path / "data"),
        "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(smtp_port),
        "ENGAGE_PREFECT_FORM_TRUSTED": json.dumps(TRUSTED),
    }) as stack:
        worker_env = stack.worker_env
        stack.start_worker()
        with temporary_settings({PREFECT_API_URL: stack.env["PREFECT_API_URL"]}), get_client(sync_client=True) as client:
            assert {deployment.name for deployment in client.read_deployments()} == {
                "co-chair-approval", "approval-follow-up", "engine-relay", "reminder-sweep", "publish-website",
                "final-report", "dispatch-notifications", "secretariat-alert", "mail-intake"}
            # 1. The approval run asks the co-chairs and suspends: no process is left for it.
            run = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": both},
                                 timeout=0)
            state = wait_until("the approval run to suspend", lambda: (s := _state(client, run.id)).is_paused() and s)
            wait_until("the run's process to end", lambda: not _processes_of_run(run.id), timeout=30)
            named = client.read_flow_run(run.id)
            assert named.name == f"approval-{both}-meta-swg-2-2"
            assert {f"engagement:{both}", "kind:swg_presentation", "swg:2.2"} <= set(named.tags)
            description = wait_until("the form", lambda: _form_text(client, run.id, state))
            assert "Meta" in description and "2.2" in description and "all co-chairs must approve" in description
            assert _engagement_state(postgres_db, both) == "awaiting_approval"

            # 2. A person the form does not trust: refused, audited with its channel, a fresh form says why.
            resume_flow_run(run.id, run_input={"co_chair_email": "swg11.canada@cochairs.example",
                                               "decision": "approve"})
            again = wait_until("a fresh form", lambda: (s := _state(client, run.id)).is_paused()
                              and s.state_details.pause_key != state.state_details.pause_key and s)
            refusal = [row for row in _log(postgres_db, both) if row.trigger == "refused"]
            assert len(refusal) == 1 and refusal[0].channel == "prefect_ui"
            assert refusal[0].actor == "swg11.canada@cochairs.example" and "does not accept" in refusal[0].comment
            why = wait_until("the fresh form", lambda: _form_text(client, run.id, again))
            assert "not recorded (refused)" in why
            assert _votes(postgres_db, both) == {}

            # 3. France through the form and UNODC through the CLI, at the same moment.
            cli = threading.Thread(target=lambda: _cli_approve(worker_env, both, "swg22.unodc@cochairs.example"))
            cli.start()
            resume_flow_run(run.id, run_input={"co_chair_email": "swg22.france@cochairs.example",
                                               "decision": "approve", "comment": "Bienvenue"})
            cli.join(60)
            wait_until("both votes", lambda: len(_votes(postgres_db, both)) == 2)
            assert _votes(postgres_db, both) == {"swg22.france@cochairs.example": "prefect_ui",
                                                 "swg22.unodc@cochairs.example": "cli"}
            # The settling decision's event is relayed (by the run, or by the scheduled relay).
            run_deployment("engine-relay/engine-relay", timeout=0)
            wait_until("the invitation", lambda: _engagement_state(postgres_db, both) == "invitation_sent", timeout=120)
            wait_until("the invitation e-mail", lambda: _invitations(maildir, "policy@meta.example"), timeout=60)
            final = wait_until("the approval run to end", lambda: (s := _state(client, run.id)).is_final() and s)
            assert final.is_completed() and final.name == "Approved", final
            log = _log(postgres_db, both)
            assert [row.trigger for row in log].count("send_invitation") == 1
            assert [row.trigger for row in log].count("approve") == 2

            # 4. Kill the worker and its flow processes while a run waits; decide while no worker is up.
            second = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": any_one},
                                    timeout=0)
            late = run_deployment("co-chair-approval/co-chair-approval", timeout=0,
                                  parameters={"engagement_id": unanswered, "timeout_seconds": 20})
            late = wait_until("the short run's name", lambda: (r := client.read_flow_run(late.id)).name.startswith(
                "approval-") and r)
            third = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": crashed},
                                   timeout=0)
            wait_until("the second and third runs to suspend",
                       lambda: _state(client, second.id).is_paused() and _state(client, third.id).is_paused())
            # Prefect saves a suspended run's form just after the state: wait for both forms, then kill.
            wait_until("their forms", lambda: all(_form_text(client, r.id, _state(client, r.id)) for r in (second, third)))
            stack.kill_workers()
            resume_flow_run(second.id, run_input={"co_chair_email": "swg11.incb@cochairs.example",
                                                  "decision": "approve"})
            time.sleep(2)
            assert _votes(postgres_db, any_one) == {}  # no worker: nothing applied yet, nothing lost
            assert _state(client, second.id).is_scheduled()
            stack.start_worker()
            wait_until("the vote after the restart", lambda: _votes(postgres_db, any_one), timeout=90)
            wait_until("the second invitation", lambda: _engagement_state(postgres_db, any_one) == "invitation_sent",
                       timeout=120)
            assert _votes(postgres_db, any_one) == {"swg11.incb@cochairs.example": "prefect_ui"}
            triggers = [row.trigger for row in _log(postgres_db, any_one)]
            assert triggers.count("approve") == 1 and triggers.count("send_invitation") == 1
            wait_until("the second invitation e-mail", lambda: len(_invitations(maildir, "policy@meta.example")) == 2)

            # 5. Kill the worker and the flow process while the resumed run is running; the relay restarts it.
            wait_until("the third run to suspend", lambda: _state(client, third.id).is_paused())
            resume_flow_run(third.id, run_input={"co_chair_email": "swg12.mexico@cochairs.example",
                                                 "decision": "approve"})
            wait_until("the resumed run to run", lambda: _state(client, third.id).is_running(), every=0.05)
            stack.kill_workers()
            stack.start_worker()
            run_deployment("engine-relay/engine-relay", timeout=0, parameters={"stalled_after_seconds": 0})
            wait_until("the third invitation", lambda: _engagement_state(postgres_db, crashed) == "invitation_sent",
                       timeout=180)
            triggers = [row.trigger for row in _log(postgres_db, crashed)]
            assert triggers.count("approve") == 1 and triggers.count("send_invitation") == 1
            assert _votes(postgres_db, crashed) == {"swg12.mexico@cochairs.example": "prefect_ui"}

            # 6. An approval nobody answers in time ends TimedOut (the scheduled relay closes it).
            # (it suspended with a 20 s timeout and the relay closes it, or it started too late to suspend)
            run_deployment("engine-relay/engine-relay", timeout=0)
            ended = wait_until("the timeout", lambda: (s := _state(client, late.id)).is_final() and s, timeout=120)
            assert ended.name == "TimedOut" and "swg31.nigeria@cochairs.example" in ended.message
            assert _engagement_state(postgres_db, unanswered) == "awaiting_approval"
            # ... and the trigger on ended runs starts the secretariat's chat alert about it.
            alert = client.read_deployment_by_name("secretariat-alert/secretariat-alert")

            def alerted() -> bool:
                runs = client.read_flow_runs(limit=200)
                return any(r.deployment_id == alert.id and r.parameters.get("run_name") == late.name
                           and r.parameters.get("state") == "TimedOut" for r in runs)

            wait_until("the secretariat alert", alerted, timeout=120)

            # 7. Decided through the CLI while its approval run waits: the invitation is queued with the decision;
            # a form submitted before the relay closes the run is audited as refused, and the run says why.
            seventh = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": decided_elsewhere},
                                     timeout=0)
            waiting = wait_until("the seventh run to suspend", lambda: (s := _state(client, seventh.id)).is_paused() and s)
            wait_until("its form", lambda: _form_text(client, seventh.id, waiting))
            _cli_approve(worker_env, decided_elsewhere, "swg11.incb@cochairs.example")
            assert _engagement_state(postgres_db, decided_elsewhere) == "invitation_sent"
            try:
                resume_flow_run(seventh.id, run_input={"co_chair_email": "swg11.canada@cochairs.example",
                                                       "decision": "approve"})
                resumed = True
            except Exception:  # noqa: BLE001 - the scheduled relay closed the run first: no form to submit
                resumed = False
            ended = wait_until("the seventh run to end", lambda: (s := _state(client, seventh.id)).is_final() and s,
                               timeout=180)
            if resumed:
                refused = [row for row in _log(postgres_db, decided_elsewhere) if row.trigger == "refused"]
                assert len(refused) == 1 and refused[0].actor == "swg11.canada@cochairs.example", refused
                assert ended.name == "Refused" and "does not accept" in ended.message, ended  # told why
            else:
                assert ended.name == "Approved", ended
            assert [row.trigger for row in _log(postgres_db, decided_elsewhere)].count("send_invitation") == 1


def _form_text(client: Any, run_id: uuid.UUID, state: Any) -> str | None:
    """The description above a suspended run's form, once the run has saved it."""
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        return client.read_flow_run_input(run_id, state.state_details.run_input_keyset["description"])
    except PrefectHTTPStatusError:  # 404 until the run has saved it
        return None


def _cli_approve(env: dict[str, str], engagement: int, email: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from cli.app import main; main()", "approve", str(engagement), "--as", email],
        env={**env, "PYTHONPATH": str(PROJECT)}, cwd=PROJECT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
