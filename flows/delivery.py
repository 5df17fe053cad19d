"""The outbox delivery task every flow that queues mail ends with (and the dispatch and relay flows run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.runtime import current_runtime


@task(name="deliver-outbox", cache_policy=NO_CACHE)
def deliver_outbox(now: datetime | None = None) -> dict[str, Any]:
    """Drain every due outbox row through the notifications dispatcher (one batch task)."""
    from notifications.dispatcher import dispatch_pending

    runtime = current_runtime(now)
    report = dispatch_pending(runtime.db, clock=runtime.clock, settings=runtime.settings)
    return report.model_dump()
