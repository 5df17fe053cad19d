"""Co-chair approval of an invitation to present: ask the co-chairs, then SUSPEND until one decides.

While it waits, the run holds nothing: ``suspend_flow_run`` ends the flow's process and leaves a
typed ``CoChairDecision`` form on the run in the Prefect UI. Submitting the form reschedules the
run; a worker (whenever one is up) starts it again from the top: asking the co-chairs is replayed
by its idempotency key, each earlier form round returns its stored submission, and a submission is
applied at most once (its audit row carries the key ``prefect-form:<run>:<round>``). The decision
goes through ``states.approvals.record_decision`` like every channel's; the transition that settles
an approval sends the invitation in its own transaction, and records an engine event, which
``flows/events.py`` relays to Prefect, where a trigger starts ``approval-follow-up`` (which records
and watches). A form submitted after the engagement was decided elsewhere is audited as refused. Refusals are audited and shown on a fresh form;
the run ends in a state named after the outcome: ``Approved``, ``Declined``, ``Duplicate``,
``Refused`` or ``TimedOut``, with an artifact naming each co-chair's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import EmailStr, Field
from sqlalchemy import select
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput, keyset_from_paused_state
from prefect.input.actions import read_flow_run_input
from prefect.states import Cancelled, Completed, State, Suspended

from flows.approval_runs import DEFAULT_TIMEOUT, FLOW_NAME, approval_deadline, outcome_markdown
from flows.delivery import deliver_outbox
from flows.events import relay_engine_events
from flows.labels import label_current_run, run_name_from_parameters
from flows.runtime import current_runtime, flow_run_id
from models import TransitionLog
from models.enums import Channel, Role
from settings import Settings
from states.approvals import AWAITING, ApprovalStatus, DecisionStatus, approval_status, record_decision
from states.errors import EngageError
from states.refusals import REFUSED, record_refusal
from states.workflow import apply_transition

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Prefect's own pause expiry comes this long after the approval's deadline, so the relay (every
# two minutes) names a timed-out run ``TimedOut`` before the server's service marks it ``Failed``;
# the server's expiry only acts if no relay ran in all that time.
PAUSE_GRACE = timedelta(minutes=30)


class CoChairDecision(RunInput):
    """The form a co-chair fills in on the suspended run in the Prefect UI."""

    co_chair_email: EmailStr = Field(
        description="Your e-mail as a co-chair of this SWG", json_schema_extra={"pattern": EMAIL_PATTERN},
    )
    decision: Literal["approve", "decline"] = Field(description="Approve or decline the invitation")
    comment: str = Field(default="", max_length=2000, description="Optional comment for the Secretariat")


@dataclass(frozen=True)
class Handled:
    """What became of one form submission."""

    kind: Literal["applied", "refused", "duplicate"]
    message: str


def form_trusts(settings: Settings, email: str) -> bool:
    """Whether the Prefect form may speak for ``email`` (``ENGAGE_PREFECT_FORM_TRUSTED``)."""
    trusted = {entry.strip().lower() for entry in settings.prefect_form_trusted}
    return "*" in trusted or email.strip().lower() in trusted


def _earlier(key: str) -> Handled | None:
    """The outcome of a submission already handled under ``key`` (by an earlier attempt of the run)."""
    with current_runtime().db.transaction() as session:
        log = session.scalars(select(TransitionLog).where(TransitionLog.idempotency_key == key)).first()
    if log is None:
        return None
    if log.trigger == REFUSED:
        kind = "duplicate" if (log.comment or "").startswith(("already", "no longer")) else "refused"
        return Handled(kind, log.comment or "")
    return Handled("applied", f"{log.actor} decided to {log.trigger}")


@task(name="apply-form-submission", cache_policy=NO_CACHE)
def apply_submission(engagement_id: int, answer: CoChairDecision, key: str, now: datetime | None = None) -> Handled:
    """Record a form submission once: the decision, or an audited refusal saying why."""
    runtime = current_runtime(now)
    if (earlier := _earlier(key)) is not None:
        return earlier
    email = str(answer.co_chair_email).strip().lower()

    def refuse(kind: Literal["refused", "duplicate"], reason: str) -> Handled:
        record_refusal(runtime.db, engagement_id, answer.decision, email, Role.CO_CHAIR.value, reason,
                       Channel.PREFECT_UI, runtime.clock, flow_run_id=flow_run_id(), idempotency_key=key)
        return Handled(kind, reason)

    if not form_trusts(runtime.settings, email):
        return refuse("refused", f"the Prefect form does not accept decisions for {email}; use the signed link "
                                 "in your approval e-mail, or ask the Secretariat")
    try:
        result = record_decision(
            runtime.db, engagement_id, email, answer.decision, answer.comment or None, Channel.PREFECT_UI,
            runtime.clock, flow_run_id=flow_run_id(), idempotency_key=key, settings=runtime.settings,
        )
    except EngageError as error:
        return refuse("refused", str(error))
    if result.status is DecisionStatus.ALREADY_DECIDED:
        return refuse("duplicate", f"already decided: {result.message}")
    if result.status is DecisionStatus.NOT_AWAITING:
        return refuse("duplicate", f"no longer needed: {result.message}")
    return Handled("applied", result.message)


@task(name="request-approval", cache_policy=NO_CACHE)
def request_approval(engagement_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Fire ``request_approval`` once (replayed by its idempotency key on every later attempt)."""
    runtime = current_runtime(now)
    status = approval_status(runtime.db, engagement_id)
    if status.state != "proposed":
        return {"requested": False, "state": status.state}
    outcome = apply_transition(
        runtime.db, engagement_id, "request_approval", {"role": "system", "identity": "approval flow"},
        channel=Channel.FLOW, flow_run_id=flow_run_id(), idempotency_key=f"approval:{engagement_id}:request",
        clock=runtime.clock, settings=runtime.settings,
    )
    return {"requested": not outcome.replayed, "state": outcome.to_state, "notifications": outcome.notifications}


def stored_submission(pause_key: str) -> CoChairDecision | None:
    """The submission already stored for form round ``pause_key`` of this run, if any.

    Every attempt of the run (after a resume, a crash, a retry) walks the rounds again from the
    first; rounds already answered are read back instead of suspended again.
    """
    stored = read_flow_run_input(keyset_from_paused_state(Suspended(pause_key=pause_key))["response"])
    return CoChairDecision(**stored) if stored else None


def decided_as(status: ApprovalStatus) -> str:
    """What the co-chairs' votes decided (``approved``/``declined``), else the state (e.g. ``withdrawn``)."""
    outcome = status.outcome
    return outcome.value if outcome is not None and outcome.value in ("approved", "declined") else status.state


def form_description(status: ApprovalStatus, last: Handled | None) -> str:
    """The engagement as co-chairs see it above the form, with what became of the last submission."""
    text = status.describe_markdown()
    if last is None:
        return text
    if last.kind == "applied":
        return f"> **Recorded**: {last.message}.\n\n{text}"
    return f"> **Your last submission was not recorded ({last.kind})**: {last.message}\n\n{text}"


def _artifact(status: ApprovalStatus, headline: str) -> None:
    create_markdown_artifact(markdown=outcome_markdown(status, headline), key=f"approval-{status.engagement_id}",
                             description=f"Co-chair approval of engagement {status.engagement_id}: {headline}")


@flow(name=FLOW_NAME, flow_run_name=run_name_from_parameters("approval"), log_prints=False)
def approval_flow(engagement_id: int, timeout_seconds: int = DEFAULT_TIMEOUT, dispatch: bool = True,
                  now: datetime | None = None) -> State:
    """Ask the co-chairs about engagement ``engagement_id``, then suspend until a form is submitted.

    Must run from a deployment (a suspended run is rescheduled on its work pool when resumed).
    Ends ``Approved``/``Declined`` (Completed), or ``Duplicate``/``Refused``/``TimedOut`` (Cancelled).
    """
    logger = get_run_logger()
    runtime = current_runtime(now)
    label_current_run(engagement_id)
    requested = request_approval(engagement_id, now)
    if requested.get("notifications") and dispatch:
        deliver_outbox(now)
    last: Handled | None = None
    round_number = 0
    while True:
        status = approval_status(runtime.db, engagement_id)
        key, pause_key = f"prefect-form:{flow_run_id()}:{round_number}", f"decision-{round_number}"
        answer = stored_submission(pause_key)
        if status.state != AWAITING and answer is not None:
            # A form submitted after the engagement was decided elsewhere: audited as refused, and told why.
            round_number += 1
            last = apply_submission(engagement_id, answer, key, now)
            logger.warning("form submission %s: %s", last.kind, last.message)
            continue
        if status.state != AWAITING:
            relay_engine_events()
            if last is not None and last.kind != "applied":
                _artifact(status, f"{last.kind}: {last.message}")
                return Cancelled(name=last.kind.capitalize(), message=last.message)
            decided = decided_as(status)
            _artifact(status, decided)
            return Completed(name=decided.replace("_", " ").title().replace(" ", ""),
                             message=f"engagement {engagement_id} is {status.state}", data=decided)
        remaining = (approval_deadline(FlowRunContext.get().flow_run) - datetime.now(timezone.utc)).total_seconds()
        if remaining <= 0:
            _artifact(status, "timed out: no final decision")
            waiting = ", ".join(v.email for v in status.votes if not v.decision) or "nobody"
            return Cancelled(name="TimedOut", message=f"no final decision within {timeout_seconds} s; "
                                                      f"not answered: {waiting}")
        if answer is None:
            form = CoChairDecision.with_initial_data(description=form_description(status, last))
            answer = suspend_flow_run(wait_for_input=form, key=pause_key,
                                      timeout=int(remaining + PAUSE_GRACE.total_seconds()) + 1)
        round_number += 1
        last = apply_submission(engagement_id, answer, key, now)
        (logger.info if last.kind == "applied" else logger.warning)("form submission %s: %s", last.kind, last.message)
        if last.kind == "applied":
            relay_engine_events()
            if dispatch:  # a settling approval queued the invitation in its transaction: deliver it now
                deliver_outbox(now)
