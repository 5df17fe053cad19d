"""What follows a settled co-chair approval, started by the ``engage.approval.*`` events it records.

``prefect.yaml`` declares a trigger on the ``approval-follow-up`` deployment: each
``engage.approval.approved`` or ``engage.approval.declined`` event (relayed by ``flows/events.py``)
starts one short run. Approved: fire ``send_invitation`` (idempotency key per engagement, so a
repeated event sends one invitation) and deliver it. Declined: nothing more is sent (the decision
notice went out with the decline). Either way, approval runs still suspended on a form are closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.approval_runs import close_decided_approvals
from flows.dispatch import deliver_outbox
from flows.labels import label_current_run, run_name_from_parameters
from flows.runtime import current_runtime, flow_run_id
from models.enums import Channel
from states.approvals import approval_status
from states.workflow import apply_transition

FOLLOW_UP_ACTOR = {"role": "system", "identity": "approval follow-up"}
DECIDED = ("approved", "declined")


@task(name="send-invitation", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def send_invitation(engagement_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Invite the partner once an approval is granted (a replay when already done)."""
    runtime = current_runtime(now)
    outcome = apply_transition(
        runtime.db, engagement_id, "send_invitation", FOLLOW_UP_ACTOR, channel=Channel.FLOW,
        flow_run_id=flow_run_id(), idempotency_key=f"follow-up:{engagement_id}:send_invitation",
        clock=runtime.clock, settings=runtime.settings,
    )
    return {"state": outcome.to_state, "notifications": outcome.notifications, "replayed": outcome.replayed}


@flow(name="approval-follow-up", flow_run_name=run_name_from_parameters("follow-up"), log_prints=False)
def approval_follow_up(engagement_id: int, dispatch: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """Send the invitation of an approved engagement, or nothing more for a declined one; idempotent."""
    logger = get_run_logger()
    label_current_run(engagement_id)
    status = approval_status(current_runtime(now).db, engagement_id)
    invited: dict[str, Any] | None = None
    if status.state == "approved":
        invited = send_invitation(engagement_id, now)
    delivered = deliver_outbox(now) if dispatch and invited and invited["notifications"] else None
    closed = close_decided_approvals(engagement_id, status.state) if status.state in DECIDED else []
    final = approval_status(current_runtime(now).db, engagement_id)
    if invited is None:
        did = f"nothing to send: engagement is {status.state!r}"
    elif invited["replayed"]:
        did = "the invitation had already been sent"
    else:
        did = f"invitation sent to {', '.join(final.partners)} ({invited['notifications']} message(s) queued)"
    if delivered is not None:
        did += f"; delivery: {delivered.get('sent', 0)} sent, {delivered.get('retrying', 0)} retrying, " \
               f"{delivered.get('dead', 0)} failed for good"
    logger.info("engagement %s: %s", engagement_id, did)
    create_markdown_artifact(
        key=f"follow-up-{engagement_id}",
        markdown=f"## Approval follow-up, engagement #{engagement_id}\n\n*{final.title}* is `{final.state}`: {did}."
                 + (f"\n\nClosed approval form(s): {', '.join(closed)}" if closed else ""),
        description=f"Follow-up of engagement {engagement_id}: {did}",
    )
    return {"engagement_id": engagement_id, "state": final.state, "invitation": invited, "delivered": delivered,
            "closed_forms": closed}
