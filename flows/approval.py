"""Co-chair approval of an invitation to present: ask the co-chairs, then wait for their decision.

The decision can come from the Prefect UI (a typed form on the paused run), from the CLI
(``engage approve/decline``) or, later, from a signed e-mail link: all go through
``states.approvals.record_decision``, and the DATABASE is the truth. While paused, the flow also
watches the database: when a decision arrives through another channel it resumes itself, re-reads
the state and either finishes (approved / declined) or pauses again while the SWG's policy still
needs votes. Each pause ends (by the flow itself, before Prefect's pause timeout) after
``pause_window_seconds``; the whole wait ends after ``timeout_seconds`` with the engagement still
awaiting approval (the reminder sweep reminds and escalates it), never with a failed run.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import EmailStr, Field, ValidationError
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.input import RunInput, keyset_from_paused_state
from prefect.states import Paused, Running
from prefect.utilities.engine import propose_state_sync

from flows.dispatch import deliver_outbox
from flows.runtime import current_runtime, flow_run_id
from models.enums import Channel
from states.approvals import AWAITING, DecisionStatus, approval_status, record_decision
from states.errors import EngageError, NotAllowedError
from states.inputs import InputError
from states.workflow import apply_transition

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
GRACE_SECONDS = 60


class CoChairDecision(RunInput):
    """The form a co-chair fills in on the paused run in the Prefect UI."""

    co_chair_email: EmailStr = Field(
        description="Your e-mail as a co-chair of this SWG", json_schema_extra={"pattern": EMAIL_PATTERN},
    )
    decision: Literal["approve", "decline"] = Field(description="Approve or decline the invitation")
    comment: str = Field(default="", max_length=2000, description="Optional comment for the Secretariat")


def _load_input(form: type[CoChairDecision], keyset: dict[str, str], logger: Any) -> CoChairDecision | None:
    try:
        return form.load(keyset)
    except ValidationError as error:
        logger.warning("the decision form was refused: %s", "; ".join(e["msg"] for e in error.errors()))
    except Exception as error:  # noqa: BLE001 - no input stored (resumed without the form)
        logger.warning("the run was resumed without a decision (%s); waiting again", type(error).__name__)
    return None


def wait_for_decision(description: str, window: float, poll: float, changed: Any) -> CoChairDecision | None:
    """Pause the current run with the decision form until it is submitted, ``changed()`` or ``window`` ends.

    Like ``prefect.flow_runs.pause_flow_run(wait_for_input=...)``, but the flow also watches the
    database and resumes itself (so it is never failed by a pause timeout).
    """
    logger = get_run_logger()
    run_id = FlowRunContext.get().flow_run.id
    form = CoChairDecision.with_initial_data(description=description)
    proposed = Paused(timeout_seconds=int(window) + GRACE_SECONDS, reschedule=False, pause_key=f"decision-{uuid4().hex[:12]}")
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = keyset
    with get_client(sync_client=True) as client:
        state = propose_state_sync(client=client, state=proposed, flow_run_id=run_id)
        if not state.is_paused():
            raise RuntimeError(f"the run could not be paused (state {state.type.value})")
        form.save(keyset)
        logger.info("waiting for a co-chair decision (form on this paused run) for up to %.0f s", window)
        end = time.monotonic() + window
        while True:
            time.sleep(max(0.05, min(poll, end - time.monotonic())))
            flow_run = client.read_flow_run(run_id)
            if flow_run.state and flow_run.state.is_running():
                return _load_input(form, keyset, logger)
            if changed() or time.monotonic() >= end:
                propose_state_sync(client=client, state=Running(), flow_run_id=run_id)
                # A form submitted at the same moment wins the race: use it if it is there.
                try:
                    return form.load(keyset) if client.read_flow_run_input(run_id, keyset["response"]) else None
                except Exception:  # noqa: BLE001 - no response stored
                    return None


@task(name="request-approval", cache_policy=NO_CACHE)
def request_approval(engagement_id: int, now: datetime | None = None) -> dict[str, Any]:
    runtime = current_runtime(now)
    status = approval_status(runtime.db, engagement_id)
    if status.state != "proposed":
        return {"requested": False, "state": status.state}
    outcome = apply_transition(
        runtime.db, engagement_id, "request_approval", {"role": "system", "identity": "approval flow"},
        channel=Channel.FLOW, flow_run_id=flow_run_id(), idempotency_key=f"approval:{engagement_id}:request",
        clock=runtime.clock, settings=runtime.settings,
    )
    return {"requested": True, "state": outcome.to_state, "notifications": outcome.notifications}


@flow(name="co-chair-approval", log_prints=False)
def approval_flow(engagement_id: int, timeout_seconds: int = 14 * 24 * 3600, pause_window_seconds: int = 3600,
                  poll_seconds: float = 10, dispatch: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """Ask the SWG's co-chairs about engagement ``engagement_id`` and wait for the decision.

    Returns the final state ('approved', 'declined', ...) or 'awaiting_approval' after ``timeout_seconds``.
    """
    logger = get_run_logger()
    runtime = current_runtime(now)
    requested = request_approval(engagement_id, now)
    if requested.get("notifications") and dispatch:
        deliver_outbox(now)
    deadline = time.monotonic() + timeout_seconds
    refused: list[str] = []
    while True:
        status = approval_status(runtime.db, engagement_id)
        if status.state != AWAITING:
            logger.info("engagement %s is %r: done", engagement_id, status.state)
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.warning("no final decision within %s s; engagement %s still awaits approval (the sweep reminds)",
                           timeout_seconds, engagement_id)
            break
        seen = (status.version, status.decided)

        def changed() -> bool:
            now_status = approval_status(runtime.db, engagement_id)
            return (now_status.version, now_status.decided) != seen

        answer = wait_for_decision(status.describe_markdown(), min(pause_window_seconds, remaining), poll_seconds, changed)
        if answer is None:
            continue
        try:
            result = record_decision(
                runtime.db, engagement_id, answer.co_chair_email, answer.decision, answer.comment or None,
                Channel.PREFECT_UI, runtime.clock, flow_run_id=flow_run_id(), settings=runtime.settings,
            )
        except (NotAllowedError, InputError) as error:
            refused.append(str(error))
            logger.warning("decision refused: %s; still waiting", error)
            continue
        except EngageError as error:
            refused.append(str(error))
            logger.error("decision could not be applied: %s; still waiting", error)
            continue
        (logger.info if result.status is DecisionStatus.APPLIED else logger.warning)(result.message)
        if dispatch and result.outcome and result.outcome.notifications:
            deliver_outbox(now)
    final = approval_status(runtime.db, engagement_id)
    return {
        "engagement_id": engagement_id, "state": final.state,
        "votes": {vote.email: vote.decision for vote in final.votes}, "refused": refused,
    }
