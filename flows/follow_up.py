"""What follows a settled co-chair approval, recorded and watched; started by the ``engage.approval.*`` events.

The invitation does not depend on this run: the approving transaction itself sends it
(``StateSpec.then``, ``states/workflow.py``), and the relay's safety net takes it for an engagement
left approved without it (``states/follow_ups.py``). ``prefect.yaml`` declares a trigger on the
``approval-follow-up`` deployment: each ``engage.approval.approved`` or ``engage.approval.declined``
event (relayed by ``flows/events.py``) starts one short run, which confirms the invitation under the
same idempotency key (a replay when the decision sent it; the step itself if it was left undone),
delivers what is queued, closes approval runs still suspended on a form and leaves an artifact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.approval_runs import close_decided_approvals
from flows.delivery import deliver_outbox
from flows.labels import label_current_run, run_name_from_parameters
from flows.runtime import current_runtime, flow_run_id
from models.enums import Channel
from states.approvals import approval_status
from states.workflow import FOLLOW_UP_ACTOR, apply_transition, follow_up_key, replayed

DECIDED = ("approved", "declined")


@task(name="send-invitation", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def send_invitation(engagement_id: int, now: datetime | None = None) -> dict[str, Any] | None:
    """The invitation of an approved engagement: a replay when the decision sent it, else sent now; ``None``
    when the engagement was never approved."""
    runtime = current_runtime(now)
    key = follow_up_key(engagement_id, "send_invitation")
    if replayed(runtime.db, key) is None and approval_status(runtime.db, engagement_id).state != "approved":
        return None
    outcome = apply_transition(
        runtime.db, engagement_id, "send_invitation", FOLLOW_UP_ACTOR, channel=Channel.FLOW,
        flow_run_id=flow_run_id(), idempotency_key=key, clock=runtime.clock, settings=runtime.settings,
    )
    return {"state": outcome.to_state, "notifications": outcome.notifications, "replayed": outcome.replayed}


@flow(name="approval-follow-up", flow_run_name=run_name_from_parameters("follow-up"), log_prints=False)
def approval_follow_up(engagement_id: int, dispatch: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """Send the invitation of an approved engagement, or nothing more for a declined one; idempotent."""
    logger = get_run_logger()
    label_current_run(engagement_id)
    invited = send_invitation(engagement_id, now)
    delivered = deliver_outbox(now) if dispatch and invited is not None else None
    final = approval_status(current_runtime(now).db, engagement_id)
    decided = "approved" if invited is not None else final.state
    closed = close_decided_approvals(engagement_id, decided) if decided in DECIDED else []
    if invited is None:
        did = f"nothing to send: engagement is {final.state!r}"
    elif invited["replayed"]:
        did = "the invitation was queued with the decision"
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
