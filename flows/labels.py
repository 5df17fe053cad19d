"""Names and tags that let staff find the flow runs of an engagement or a job in the Prefect UI.

A run is named when it starts (``flow_run_name``); a run that crashed before it started keeps the
random name Prefect gave it at creation, so the relay renames those (``name_unnamed_runs``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

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


# The flows whose runs carry an engagement (named after it) and the jobs (named after their moment).
ENGAGEMENT_FLOWS = {"co-chair-approval": "approval", "approval-follow-up": "follow-up"}
JOB_FLOWS = {"engine-relay": "relay", "reminder-sweep": "sweep", "dispatch-notifications": "dispatch",
             "publish-website": "publish", "final-report": "report", "secretariat-alert": "alert",
             "mail-intake": "mailbox"}


def job_name(job: str, moment: datetime | None) -> str:
    """'relay-2024-03-01-0900': the job and the minute it was due."""
    return f"{job}-{(moment or datetime.now(timezone.utc)):%Y-%m-%d-%H%M}"


def job_run_name(job: str):  # noqa: ANN201 - a callable Prefect calls with no arguments
    """A ``flow_run_name`` callable naming a job's run after its job and its scheduled minute."""

    def name() -> str:
        from prefect.runtime import flow_run

        return job_name(job, flow_run.scheduled_start_time)

    return name


def honest_name(flow_name: str, run: Any) -> str | None:
    """The name a run of ``flow_name`` should carry, or ``None`` for a flow of another project."""
    if flow_name in ENGAGEMENT_FLOWS:
        engagement = (run.parameters or {}).get("engagement_id")
        prefix = ENGAGEMENT_FLOWS[flow_name]
        return engagement_run_name(prefix, int(engagement)) if engagement is not None else None
    if flow_name in JOB_FLOWS:
        return job_name(JOB_FLOWS[flow_name], run.expected_start_time)
    return None


def name_unnamed_runs(within: timedelta = timedelta(days=1)) -> list[str]:
    """Rename recent runs of the engine's flows that still carry Prefect's random name; the new names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterStartTime

    renamed: list[str] = []
    prefixes = tuple(f"{prefix}-" for prefix in (*ENGAGEMENT_FLOWS.values(), *JOB_FLOWS.values()))
    since = datetime.now(timezone.utc) - within
    with get_client(sync_client=True) as client:
        flows = {flow.id: flow.name for flow in client.read_flows(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[*ENGAGEMENT_FLOWS, *JOB_FLOWS])))}
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[*ENGAGEMENT_FLOWS, *JOB_FLOWS])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since, is_null_=False)), limit=200,
        ) + client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[*ENGAGEMENT_FLOWS, *JOB_FLOWS])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=True)), limit=200,
        )
        for run in runs:
            if run.name.startswith(prefixes):
                continue
            name = honest_name(flows.get(run.flow_id, ""), run)
            if name:
                client.update_flow_run(run.id, name=name)
                renamed.append(name)
    return renamed
