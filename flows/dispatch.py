"""Deliver queued notifications (the outbox) after flows that queue them, and on a schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.artifacts import acreate_table_artifact
from prefect.states import Completed, Failed, State

from flows.delivery import deliver_outbox
from flows.events import relay_engine_events
from flows.labels import job_run_name
from flows.runtime import current_runtime


def delivery_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row for the run's counts, one per unreachable channel, then one per message that failed: whom and why."""
    from notifications.problems import delivery_problems

    counts = ", ".join(f"{name} {value}" for name, value in report.items() if isinstance(value, int))
    rows: list[dict[str, Any]] = [{"message": "this run", "engagement": "", "type": "", "recipient": "",
                                   "status": counts, "why": ""}]
    rows += [{"message": "", "engagement": "", "type": "", "recipient": f"{o['channel']} channel",
              "status": f"unreachable, paused until {o['paused_until']:%Y-%m-%d %H:%M} UTC", "why": o["error"]}
             for o in report.get("outages", [])]
    if report.get("retrying") or report.get("dead"):
        rows += [{"message": p.id, "engagement": p.engagement_id or "", "type": p.notification_type,
                  "recipient": p.recipient, "status": f"{p.status} after {p.attempts} attempt(s)", "why": p.error}
                 for p in delivery_problems(current_runtime().db)]
    return rows


def delivery_summary(report: dict[str, Any]) -> str:
    """One line for a delivery report: sent, to retry, failed for good, and the channels that could not be reached."""
    summary = (f"{report.get('sent', 0)} sent, {report.get('retrying', 0)} to retry, "
               f"{report.get('dead', 0)} failed for good")
    if outages := report.get("outages"):
        summary += "; unreachable: " + ", ".join(sorted({o["channel"] for o in outages}))
    return summary


@flow(name="dispatch-notifications", flow_run_name=job_run_name("dispatch"), log_prints=False)
async def dispatch_flow(now: datetime | None = None) -> State:
    """Publish engine events, then send every pending notification; ``now`` pins a simulated time.

    Ends ``Failed`` (named ``DeliveryFailed``) when a message could not be delivered in this run, or
    a channel (the mail server, the chat) could not be reached and was paused.
    """
    relay_engine_events()
    report = deliver_outbox(now)
    outages = report.get("outages", [])
    summary = delivery_summary(report)
    await acreate_table_artifact(table=delivery_table(report), key="dispatch-notifications",
                                 description=f"**Notification delivery**: {summary}")
    if report.get("retrying") or report.get("dead") or outages:
        return Failed(name="DeliveryFailed", message=summary, data=report)
    return Completed(message=summary, data=report)
