"""Names and tags that let staff find the flow runs of an engagement in the Prefect UI."""

from __future__ import annotations

import re

from flows.runtime import current_runtime
from states.approvals import approval_status


def slug(text: str) -> str:
    """Lower-case words joined by dashes: 'SWG 2.2' -> 'swg-2-2'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def engagement_run_name(prefix: str, engagement_id: int) -> str:
    """'approval-42-meta-swg-2-2': the flow, the engagement, its first partner and its SWG."""
    try:
        status = approval_status(current_runtime().db, engagement_id)
    except Exception:  # noqa: BLE001 - a name is never worth failing a run for
        return f"{prefix}-{engagement_id}"
    parts = [prefix, str(engagement_id), *(status.partners[:1]), *([f"swg {status.swg_code}"] if status.swg_code else [])]
    return slug(" ".join(parts))[:120]


def engagement_tags(engagement_id: int) -> list[str]:
    """Tags naming the engagement, its kind and its SWG."""
    from models import Engagement

    with current_runtime().db.transaction() as session:
        engagement = session.get(Engagement, engagement_id)
        if engagement is None:
            return [f"engagement:{engagement_id}"]
        tags = [f"engagement:{engagement_id}", f"kind:{engagement.kind}"]
        return tags + ([f"swg:{engagement.swg_code}"] if engagement.swg_code else [])


def label_current_run(engagement_id: int) -> None:
    """Add the engagement's tags to the current flow run (kept with any tags it already has)."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    tags = list(dict.fromkeys([*(context.flow_run.tags or []), *engagement_tags(engagement_id)]))
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=tags)


def run_name_from_parameters(prefix: str):  # noqa: ANN201 - a callable Prefect calls with no arguments
    """A ``flow_run_name`` callable naming the run after its ``engagement_id`` parameter."""

    def name() -> str:
        from prefect.runtime import flow_run

        return engagement_run_name(prefix, int(flow_run.parameters["engagement_id"]))

    return name
