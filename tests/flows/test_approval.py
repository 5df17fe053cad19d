"""The approval's pieces in-process, against the session's Prefect API: form submissions, the relay,
the follow-up and a failing delivery run. (Suspending needs a deployment: test_deployments.py.)"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from models import EngineEvent, TransitionLog
from states.approvals import record_decision
from states.workflow import apply_transition, create_engagement

pytestmark = pytest.mark.prefect

STAFF = {"role": "secretariat", "identity": "staff@state.example"}


def _awaiting(runtime, swg: str = "2.2") -> int:
    engagement = create_engagement(runtime.db, {
        "kind": "swg_presentation", "title": f"Meta at SWG {swg}", "swg_code": swg,
        "details": {"topic": "Information sharing on drug sales online"},
        "participants": [{"organization": "Meta", "role": "presenter"}],
    }, STAFF, clock=runtime.clock)
    apply_transition(runtime.db, engagement, "request_approval", {"role": "system", "identity": "t"}, clock=runtime.clock)
    return engagement


def _log(runtime, engagement: int) -> list[TransitionLog]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == engagement)
                                    .order_by(TransitionLog.id)))


def test_form_submissions_applied_once_refusals_audited(prefect_api, runtime):
    from flows.approval import CoChairDecision, apply_submission
    from flows.runtime import use_runtime

    engagement = _awaiting(runtime)  # SWG 2.2: France and UNODC must both approve
    trusted = replace(runtime, settings=runtime.settings.model_copy(update={"prefect_form_trusted": [
        "swg22.france@cochairs.example", "swg11.canada@cochairs.example"]}))
    with use_runtime(trusted):
        untrusted = apply_submission(engagement, CoChairDecision(co_chair_email="swg22.unodc@cochairs.example",
                                                                 decision="approve"), "form:t:0")
        wrong_swg = apply_submission(engagement, CoChairDecision(co_chair_email="swg11.canada@cochairs.example",
                                                                 decision="approve"), "form:t:1")
        france = CoChairDecision(co_chair_email="SWG22.France@cochairs.example", decision="approve", comment="Oui")
        applied = apply_submission(engagement, france, "form:t:2")
        replayed = apply_submission(engagement, france, "form:t:2")  # a re-run of the same round
        twice = apply_submission(engagement, france, "form:t:3")  # the same person, a new round
    assert untrusted.kind == "refused" and "does not accept" in untrusted.message
    assert wrong_swg.kind == "refused" and "not of SWG 2.2" in wrong_swg.message
    assert applied.kind == "applied" and replayed.kind == "applied"
    assert twice.kind == "duplicate"
    rows = [(row.trigger, row.actor, row.channel, row.idempotency_key) for row in _log(runtime, engagement)[2:]]
    assert rows == [
        ("refused", "swg22.unodc@cochairs.example", "prefect_ui", "form:t:0"),
        ("refused", "swg11.canada@cochairs.example", "prefect_ui", "form:t:1"),
        ("approve", "swg22.france@cochairs.example", "prefect_ui", "form:t:2"),
        ("refused", "swg22.france@cochairs.example", "prefect_ui", "form:t:3"),
    ]


def test_relay_and_follow_up_send_the_invitation_once(prefect_api, runtime, mail_port):
    from flows.events import relay_engine_events
    from flows.follow_up import approval_follow_up

    approved, declined = _awaiting(runtime, "1.1"), _awaiting(runtime, "1.2")
    record_decision(runtime.db, approved, "swg11.incb@cochairs.example", "approve", clock=runtime.clock)
    record_decision(runtime.db, declined, "swg12.mexico@cochairs.example", "decline", clock=runtime.clock)
    published = relay_engine_events()
    assert [(item["event"], item["engagement"]) for item in published] == [
        ("engage.approval.approved", approved), ("engage.approval.declined", declined)]
    assert relay_engine_events() == []
    with runtime.db.transaction() as session:
        assert all(session.scalars(select(EngineEvent.emitted_at)))

    first = approval_follow_up(approved)  # the decision queued the invitation: the follow-up confirms, delivers
    assert first["state"] == "invitation_sent" and first["invitation"]["replayed"] and first["delivered"]["sent"] >= 1
    again = approval_follow_up(approved)  # the same event delivered twice
    assert again["invitation"]["replayed"] and again["delivered"]["sent"] == 0 and again["state"] == "invitation_sent"
    from flows.follow_up import send_invitation

    assert send_invitation(approved)["replayed"]  # two runs racing: the key makes the second a replay
    assert [row.trigger for row in _log(runtime, approved)].count("send_invitation") == 1
    assert approval_follow_up(declined)["invitation"] is None
    assert "send_invitation" not in [row.trigger for row in _log(runtime, declined)]


def test_a_dispatch_run_with_failures_is_not_green(prefect_api, runtime):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from flows.dispatch import dispatch_flow
    from flows.runtime import use_runtime

    _awaiting(runtime, "1.1")  # approval requests queued for two co-chairs
    closed = replace(runtime, settings=runtime.settings.model_copy(update={"smtp_port": 9, "smtp_timeout_seconds": 1}))
    with use_runtime(closed):
        state = asyncio.run(dispatch_flow(return_state=True))
    assert state.is_failed() and state.name == "DeliveryFailed"
    with get_client(sync_client=True) as client:
        # This run's artifact: the session's API holds other tests' dispatch runs too.
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["dispatch-notifications"]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    # A closed port is an outage, not the messages' fault: the channel is paused, no row is charged.
    assert "email channel" in str(artifact.data) and "unreachable, paused until" in str(artifact.data)
    assert "unreachable: email" in state.message


def test_the_relay_closes_runs_by_their_deadline_and_restarts_waits_without_a_form(prefect_api, runtime):
    """Waits set up as a suspended run leaves them: the relay judges them by the run's own deadline
    (not Prefect's later pause expiry) and starts again a wait whose form was never saved."""
    from prefect.client.orchestration import get_client
    from prefect.states import Suspended

    from flows.approval import CoChairDecision, approval_flow
    from flows.approval_runs import close_timed_out_approvals, reschedule_stalled_approvals

    def paused_run(engagement: int, timeout_seconds: int, with_form: bool):
        run = client.create_flow_run(approval_flow, name=f"approval-{engagement}",
                                     parameters={"engagement_id": engagement, "timeout_seconds": timeout_seconds})
        client.set_flow_run_state(run.id, Suspended(timeout_seconds=3600, pause_key="decision-0"), force=True)
        run = client.read_flow_run(run.id)
        if with_form:
            from prefect.input import keyset_from_paused_state

            client.create_flow_run_input(run.id, keyset_from_paused_state(run.state)["schema"],
                                         json.dumps(CoChairDecision.model_json_schema()))
        return run

    with get_client(sync_client=True) as client:
        overdue = paused_run(_awaiting(runtime, "1.1"), timeout_seconds=0, with_form=True)
        waiting = paused_run(_awaiting(runtime, "1.2"), timeout_seconds=3600, with_form=True)
        formless = paused_run(_awaiting(runtime, "2.2"), timeout_seconds=3600, with_form=False)

        assert close_timed_out_approvals() == [overdue.name]
        ended = client.read_flow_run(overdue.id).state
        assert ended.name == "TimedOut" and "swg11.incb@cochairs.example" in ended.message
        assert reschedule_stalled_approvals(stalled_after_seconds=3600) == []  # too recent to judge
        assert reschedule_stalled_approvals(stalled_after_seconds=0) == [formless.name]
        assert client.read_flow_run(formless.id).state.is_scheduled()
        assert client.read_flow_run(waiting.id).state.is_paused()


def test_a_follow_up_left_undone_is_taken_once_and_decided_runs_are_closed(prefect_api, runtime, mail_port):
    """The relay's net: an engagement left approved without its invitation (a follow-up killed early, data
    from before) is invited once however often the relay runs; a suspended approval run of an engagement
    decided through another door is closed, named after the decision."""
    from prefect.client.orchestration import get_client
    from prefect.states import Suspended
    from sqlalchemy import update

    from flows.approval import approval_flow
    from flows.events import relay_flow
    from models import Engagement

    left, decided = _awaiting(runtime, "1.1"), _awaiting(runtime, "1.2")
    with runtime.db.transaction() as session:
        session.execute(update(Engagement).where(Engagement.id == left).values(state="approved"))
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(approval_flow, name=f"approval-{decided}", tags=[f"engagement:{decided}"],
                                     parameters={"engagement_id": decided})
        client.set_flow_run_state(run.id, Suspended(timeout_seconds=3600, pause_key="decision-0"), force=True)
        record_decision(runtime.db, decided, "swg12.mexico@cochairs.example", "approve", channel="cli",
                        clock=runtime.clock)
        first, second = relay_flow(), relay_flow()
        closed = client.read_flow_run(run.id).state
    assert first["follow_ups"]["taken"] == [left] and second["follow_ups"]["taken"] == []
    assert first["decided"] == [run.name] and closed.name == "Approved" and closed.is_completed()
    for engagement in (left, decided):
        assert [row.trigger for row in _log(runtime, engagement)].count("send_invitation") == 1


def test_runs_and_alerts_are_named_after_their_engagement_or_job(prefect_api, runtime):
    """A run that crashed before it started carries Prefect's random name: the alert (and the relay) rename
    it after its engagement, and the alert names the engagement and the state it was left in."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed
    from sqlalchemy import update

    from flows.alerts import secretariat_alert
    from flows.events import relay_flow
    from flows.follow_up import approval_follow_up
    from flows.labels import name_unnamed_runs
    from flows.sweep import sweep_flow
    from models import Engagement

    left, other = _awaiting(runtime, "1.1"), _awaiting(runtime, "1.2")
    with runtime.db.transaction() as session:
        session.execute(update(Engagement).where(Engagement.id == left).values(state="approved"))
    with get_client(sync_client=True) as client:
        crashed = client.create_flow_run(approval_follow_up, parameters={"engagement_id": left})
        client.set_flow_run_state(crashed.id, Crashed(message="process killed"), force=True)
        forgotten = client.create_flow_run(approval_follow_up, parameters={"engagement_id": other})
        client.set_flow_run_state(forgotten.id, Crashed(message="process killed"), force=True)
        alert = secretariat_alert(crashed.name, "Crashed", "process killed", f"prefect.flow-run.{crashed.id}")
        assert client.read_flow_run(crashed.id).name == f"follow-up-{left}-meta-swg-1-1"
        assert alert["text"] == (f"Coalition Engage: flow run follow-up-{left}-meta-swg-1-1 ended Crashed. "
                                 f"Engagement #{left} 'Meta at SWG 1.1' is left 'approved'. process killed"
                                 )
        assert f"follow-up-{other}-meta-swg-1-2" in name_unnamed_runs()
        assert client.read_flow_run(forgotten.id).name == f"follow-up-{other}-meta-swg-1-2"
        relay = relay_flow(return_state=True)
        sweep = asyncio.run(sweep_flow(dispatch=False, return_state=True))
        names = [client.read_flow_run(state.state_details.flow_run_id).name for state in (relay, sweep)]
    assert names[0].startswith("relay-") and names[1].startswith("sweep-")
