"""The approval runs as Prefect sees them: close those decided elsewhere or past their deadline, restart lost ones.

The approval flow (``flows/approval.py``) suspends while co-chairs decide; these functions act on
its runs from outside: the follow-up closes the runs of an engagement decided through another
channel, and the relay (``flows/events.py``) moves runs past their deadline to ``TimedOut`` and
reschedules runs whose process was lost. Each run's artifact names every co-chair's answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from prefect.input import keyset_from_paused_state
from prefect.states import Cancelled, Completed, Scheduled

from flows.runtime import current_runtime
from states.approvals import ApprovalStatus, approval_status

FLOW_NAME = "co-chair-approval"
DEFAULT_TIMEOUT = 14 * 24 * 3600


def outcome_markdown(status: ApprovalStatus, headline: str) -> str:
    """The artifact staff read: the outcome and each co-chair's answer (or that none came)."""
    rows = [f"| {v.name} | {v.email} | {v.decision or '**no answer**'} | {v.channel or ''} |" for v in status.votes]
    waiting = [v.email for v in status.votes if not v.decision]
    return "\n".join([
        f"## {headline}", "",
        f"Engagement #{status.engagement_id} *{status.title}* is `{status.state}`; policy: {status.policy_text}.", "",
        "| Co-chair | E-mail | Decision | Channel |", "|---|---|---|---|", *rows, "",
        f"Not answered: {', '.join(waiting)}" if waiting and status.awaiting else "",
    ])


def approval_deadline(run: Any) -> datetime:
    """When an approval run stops waiting: its creation plus its ``timeout_seconds`` parameter."""
    timeout = int(run.parameters.get("timeout_seconds", DEFAULT_TIMEOUT))
    return (run.created or datetime.now(timezone.utc)) + timedelta(seconds=timeout)


def _open_approval_runs(client: Any, engagement_id: int | None = None) -> list[Any]:
    from prefect.client.schemas.filters import (
        FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    if engagement_id is not None:
        run_filter.tags = FlowRunFilterTags(all_=[f"engagement:{engagement_id}"])
    return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
                                 flow_run_filter=run_filter)


def close_decided_approvals(engagement_id: int, outcome: str) -> list[str]:
    """End the suspended approval runs of an engagement decided elsewhere (CLI, portal, another run).

    ``outcome`` is the decided state (``approved`` or ``declined``) the runs are named after.
    """
    from prefect.client.orchestration import get_client

    closed: list[str] = []
    with get_client(sync_client=True) as client:
        for run in _open_approval_runs(client, engagement_id):
            client.set_flow_run_state(run.id, Completed(
                name=outcome.title(), message=f"decided through another channel: {outcome}",
            ), force=True)
            closed.append(run.name)
    return closed


def reschedule_stalled_approvals(stalled_after_seconds: float = 600) -> list[str]:
    """Start again approval runs whose process was lost: left Pending or Running, or paused with no form.

    An approval run only runs for seconds between two waits; one Running for longer lost its
    process (a killed worker, an out-of-memory kill). Prefect saves a suspended run's form just
    after its Paused state, so a process killed in between leaves a wait nobody can answer.
    Rescheduled, a run walks its form rounds again: stored submissions are applied once
    (idempotency keys), and it suspends for the next one, with its form.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    rescheduled: list[str] = []
    now = datetime.now(timezone.utc)
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING, StateType.PAUSED]))),
        ):
            since = run.state.timestamp if run.state else now
            if (now - since).total_seconds() < stalled_after_seconds:
                continue
            if run.state and run.state.is_paused() and _has_form(client, run):
                continue
            client.set_flow_run_state(run.id, Scheduled(message="its process was lost; started again"), force=True)
            rescheduled.append(run.name)
    return rescheduled


def _has_form(client: Any, run: Any) -> bool:
    """Whether the paused ``run`` has its form saved (the schema Prefect shows in the UI)."""
    import httpx

    try:
        client.read_flow_run_input(run.id, keyset_from_paused_state(run.state)["schema"])
    except httpx.HTTPStatusError as error:
        if error.response.status_code == 404:
            return False
        raise
    return True


def close_timed_out_approvals() -> list[str]:
    """Move suspended approval runs past their deadline to ``TimedOut``, with the artifact of who did not answer."""
    from prefect.client.orchestration import get_client

    closed: list[str] = []
    now = datetime.now(timezone.utc)
    with get_client(sync_client=True) as client:
        for run in _open_approval_runs(client):
            if approval_deadline(run) > now:
                continue
            engagement_id = int(run.parameters["engagement_id"])
            status = approval_status(current_runtime().db, engagement_id)
            waiting = [v.email for v in status.votes if not v.decision]
            client.create_artifact(_artifact_request(run.id, status))
            client.set_flow_run_state(run.id, Cancelled(
                name="TimedOut", message=f"no final decision in time; not answered: {', '.join(waiting) or 'nobody'}",
            ), force=True)
            closed.append(run.name)
    return closed


def _artifact_request(run_id: Any, status: ApprovalStatus) -> Any:
    from prefect.client.schemas.actions import ArtifactCreate

    return ArtifactCreate(key=f"approval-{status.engagement_id}", type="markdown", flow_run_id=run_id,
                          description=f"Co-chair approval of engagement {status.engagement_id}: timed out",
                          data=outcome_markdown(status, "timed out: no final decision"))
