"""The reminder sweep as a flow: remind, escalate, expire what is due, and tell staff what it did."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.delivery import deliver_outbox
from flows.dispatch import delivery_summary
from flows.events import relay_engine_events
from flows.labels import job_run_name
from flows.runtime import current_runtime, flow_run_id
from states.sweep import SweepReport, run_sweep


@task(name="sweep-due-engagements", cache_policy=NO_CACHE)
def sweep_due(now: datetime | None = None, limit: int | None = None) -> SweepReport:
    """One batch: every engagement due now, through the indexed next_due_at column."""
    runtime = current_runtime(now)
    return run_sweep(runtime.db, runtime.clock, flow_run_id(), settings=runtime.settings, limit=limit)


def report_table(report: SweepReport) -> list[dict[str, Any]]:
    rows = report.rows()
    return rows or [{"action": "nothing due", "engagement": "", "kind": "", "title": "", "state": "",
                     "notifications": 0, "note": f"nothing was due at {report.now:%Y-%m-%d %H:%M} UTC"}]


@flow(name="reminder-sweep", flow_run_name=job_run_name("sweep"), log_prints=False)
async def sweep_flow(now: datetime | None = None, dispatch: bool = True, limit: int | None = None) -> dict[str, Any]:
    """Sweep once at ``now`` (default: the runtime clock); idempotent for the same moment.

    ``dispatch``: then do what the dispatch flow does, in this run: relay engine events, deliver the outbox.
    """
    logger = get_run_logger()
    report = sweep_due(now, limit)
    logger.info(report.summary())
    for problem in report.skipped:
        logger.warning(problem)
    delivered = None
    if dispatch:
        relay_engine_events()
        delivered = deliver_outbox(now)
    description = f"**Reminder sweep**: {report.summary()}"
    if delivered is not None:
        description += f"; delivered: {delivery_summary(delivered)}"
    await create_table_artifact(table=report_table(report), key="reminder-sweep", description=description)
    return {
        "now": report.now.isoformat(),
        "reminded": [asdict(item) for item in report.reminded],
        "escalated": [asdict(item) for item in report.escalated],
        "expired": [asdict(item) for item in report.expired],
        "skipped": report.skipped,
        "notifications": report.notifications,
        "delivered": delivered,
        "timings": {"query": report.query_seconds, "decide": report.decide_seconds, "apply": report.apply_seconds},
    }
