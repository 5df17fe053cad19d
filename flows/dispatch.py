"""Deliver queued notifications (the outbox) after flows that queue them, and on a schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.runtime import current_runtime


@task(name="deliver-outbox", cache_policy=NO_CACHE)
def deliver_outbox(now: datetime | None = None) -> dict[str, Any]:
    """Drain every due outbox row through the notifications dispatcher (one batch task)."""
    from notifications.dispatcher import dispatch_pending

    runtime = current_runtime(now)
    report = dispatch_pending(runtime.db, clock=runtime.clock, settings=runtime.settings)
    return report.model_dump()


@flow(name="dispatch-notifications", log_prints=False)
async def dispatch_flow(now: datetime | None = None) -> dict[str, Any]:
    """Send every pending notification; ``now`` pins a simulated time (replays, tests)."""
    return deliver_outbox(now)
