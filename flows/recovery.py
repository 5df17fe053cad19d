"""What the relay does besides publishing: close approval runs decided elsewhere, take follow-ups left undone.

Both are cheap reads of the database and the Prefect API, so the relay (every two minutes, or
``engage up``'s watch every few seconds) keeps the runs list honest and nothing approved stalls.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.runtime import current_runtime, flow_run_id
from states.follow_ups import finish_follow_ups
from states.lifecycles.swg_presentation import APPROVED_EVENT, DECLINED_EVENT

DECIDING_EVENTS = {APPROVED_EVENT: "approved", DECLINED_EVENT: "declined"}


def close_runs_of_decided(published: list[dict[str, Any]]) -> list[str]:
    """Close (``Approved``/``Declined``) the suspended approval runs of engagements whose decision was just published."""
    from flows.approval_runs import close_decided_approvals

    closed: list[str] = []
    for item in published:
        if item["event"] in DECIDING_EVENTS:
            closed += close_decided_approvals(item["engagement"], DECIDING_EVENTS[item["event"]])
    return closed


@task(name="finish-follow-ups", cache_policy=NO_CACHE)
def take_unfinished_follow_ups() -> dict[str, Any]:
    """Take, exactly once, each follow-up left undone (an engagement approved but not invited)."""
    runtime = current_runtime()
    report = finish_follow_ups(runtime.db, runtime.clock, settings=runtime.settings, flow_run_id=flow_run_id())
    return {"taken": [item.engagement_id for item in report.done if not item.replayed], "refused": report.refused}
