"""The co-chair approval flow against the session's Prefect API: UI form, bad input, CLI path, timeout."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from models import ApprovalVote, CoChair, TransitionLog
from states.approvals import DecisionStatus, record_decision
from states.workflow import create_engagement

pytestmark = pytest.mark.prefect

STAFF = {"role": "secretariat", "identity": "staff@state.example"}


def _presentation(runtime, swg: str = "2.2") -> int:
    return create_engagement(runtime.db, {
        "kind": "swg_presentation", "title": f"Meta at SWG {swg}", "swg_code": swg,
        "details": {"topic": "Information sharing on drug sales online"},
        "participants": [{"organization": "Meta", "role": "presenter"}],
    }, STAFF, clock=runtime.clock)


def _start(engagement: int, **options: Any) -> tuple[threading.Thread, dict[str, Any]]:
    from flows.approval import approval_flow

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = approval_flow(engagement, **options)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def _run_id(runtime, engagement: int, timeout: float = 60):
    from uuid import UUID

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with runtime.db.transaction() as session:
            found = session.scalar(select(TransitionLog.flow_run_id).where(
                TransitionLog.engagement_id == engagement, TransitionLog.trigger == "request_approval"))
        if found:
            return UUID(found)
        time.sleep(0.1)
    raise AssertionError("the flow never requested approval")


def _wait_paused(run_id, *, after: str | None = None, timeout: float = 30) -> Any:
    """Wait until the run is paused (with a pause key other than ``after``); return its state."""
    from prefect.client.orchestration import get_client

    end = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < end:
            state = client.read_flow_run(run_id).state
            if state.is_paused() and state.state_details.pause_key != after:
                return state
            if state.is_final():
                raise AssertionError(f"run ended while a pause was expected: {state}")
            time.sleep(0.1)
    raise AssertionError("the run did not pause")


def _votes(runtime, engagement: int) -> dict[str, tuple[str, str]]:
    with runtime.db.transaction() as session:
        rows = session.execute(select(CoChair.email, ApprovalVote.decision, ApprovalVote.channel)
                               .join(ApprovalVote, ApprovalVote.co_chair_id == CoChair.id)
                               .where(ApprovalVote.engagement_id == engagement)).all()
    return {email: (decision, channel) for email, decision, channel in rows}


def test_ui_form_refusals_and_cli_decision(prefect_api, runtime):
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    engagement = _presentation(runtime)  # SWG 2.2: all of France and UNODC must approve
    thread, box = _start(engagement, timeout_seconds=120, pause_window_seconds=60, poll_seconds=0.2)
    run_id = _run_id(runtime, engagement)
    paused = _wait_paused(run_id)
    keyset = paused.state_details.run_input_keyset
    with get_client(sync_client=True) as client:
        description = client.read_flow_run_input(run_id, keyset["description"])
    assert "Meta" in description and "2.2" in description and "Information sharing" in description

    # Bad input is refused by the server (JSON schema) and the run stays paused.
    for bad in ({"co_chair_email": "not an e-mail", "decision": "approve"},
                {"co_chair_email": "swg22.france@cochairs.example", "decision": "maybe"},
                {"decision": "approve"}):
        with pytest.raises(RuntimeError, match="Cannot resume"):
            resume_flow_run(run_id, run_input=bad)
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(run_id).state.is_paused()

    # A co-chair of another SWG: refused by the domain, logged, and the flow waits again.
    resume_flow_run(run_id, run_input={"co_chair_email": "swg11.canada@cochairs.example", "decision": "approve"})
    paused = _wait_paused(run_id, after=paused.state_details.pause_key)
    # France approves through the form: the policy needs UNODC too, so it pauses again.
    resume_flow_run(run_id, run_input={"co_chair_email": "swg22.france@cochairs.example", "decision": "approve",
                                       "comment": "Bienvenue"})
    _wait_paused(run_id, after=paused.state_details.pause_key)
    assert _votes(runtime, engagement) == {"swg22.france@cochairs.example": ("approve", "prefect_ui")}

    # UNODC decides on the CLI while the run is paused: the flow notices, re-reads and finishes.
    result = record_decision(runtime.db, engagement, "swg22.unodc@cochairs.example", "approve", channel="cli",
                             clock=runtime.clock, settings=runtime.settings)
    assert result.status is DecisionStatus.APPLIED and result.state == "approved"
    thread.join(30)
    assert not thread.is_alive() and "error" not in box, box
    outcome = box["result"]
    assert outcome["state"] == "approved"
    assert any("not of SWG 2.2" in message for message in outcome["refused"])
    assert _votes(runtime, engagement) == {
        "swg22.france@cochairs.example": ("approve", "prefect_ui"), "swg22.unodc@cochairs.example": ("approve", "cli"),
    }
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_completed()


def test_decline_via_form_and_decision_recorded_before_the_run(prefect_api, runtime):
    from prefect.flow_runs import resume_flow_run

    # SWG 1.1 ('any'): a decision through the form settles it.
    first = _presentation(runtime, "1.1")
    thread, box = _start(first, timeout_seconds=60, pause_window_seconds=30, poll_seconds=0.2)
    run_id = _run_id(runtime, first)
    _wait_paused(run_id)
    resume_flow_run(run_id, run_input={"co_chair_email": "SWG11.INCB@cochairs.example", "decision": "decline",
                                       "comment": "Out of scope"})
    thread.join(30)
    assert box["result"]["state"] == "declined"
    # A second decision afterwards, from another channel, changes nothing and does not crash.
    late = record_decision(runtime.db, first, "swg11.incb@cochairs.example", "approve", channel="cli", clock=runtime.clock)
    assert late.status is DecisionStatus.ALREADY_DECIDED

    # A decision recorded while no run waits is honoured by the next run without pausing.
    from states.workflow import apply_transition

    second = _presentation(runtime, "1.2")
    apply_transition(runtime.db, second, "request_approval", {"role": "system", "identity": "t"}, clock=runtime.clock)
    record_decision(runtime.db, second, "swg12.mexico@cochairs.example", "approve", channel="cli", clock=runtime.clock)
    from flows.approval import approval_flow

    assert approval_flow(second, timeout_seconds=5, poll_seconds=0.2)["state"] == "approved"


def test_timeout_leaves_it_awaiting_and_the_run_completed(prefect_api, runtime):
    from flows.approval import approval_flow

    engagement = _presentation(runtime, "3.1")
    state = approval_flow(engagement, timeout_seconds=2, pause_window_seconds=1, poll_seconds=0.2, return_state=True)
    assert state.is_completed()
    assert state.result()["state"] == "awaiting_approval"
