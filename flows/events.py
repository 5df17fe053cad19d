"""Relay engine events to Prefect, where deployment triggers (``prefect.yaml``) start follow-ups.

Each unsent ``engine_events`` row becomes one Prefect event whose id is derived from the row, so a
relay that crashes between publishing and marking the row publishes the same event id again and
Prefect's triggers, which skip event ids they have seen, start the follow-up once. The relay runs
after decisions made in flows, at the start of the dispatch flow and on its own schedule (the
``engine-relay`` deployment), which also closes approval runs decided elsewhere or whose wait
timed out, starts again approval runs whose process was killed while they ran, takes follow-ups
left undone (``flows/recovery.py``) and delivers the outbox: mail queued by a decision whose follow-up
run was killed, or held by a run killed mid-delivery (once its lease expires), leaves on the next relay.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from flows.approval_runs import close_timed_out_approvals, reschedule_stalled_approvals
from flows.labels import job_run_name
from flows.runtime import current_runtime
from states.events import PendingEvent, mark_emitted, unsent_events

EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://coalition.example/engage/engine-events")


def prefect_event_id(event: PendingEvent) -> UUID:
    """The Prefect event id of engine event ``event`` (the same on every attempt)."""
    return uuid5(EVENT_NAMESPACE, str(event.id))


def engagement_resource(engagement_id: int) -> str:
    """The Prefect resource id naming an engagement."""
    return f"engage.engagement.{engagement_id}"


async def publish(events: list[PendingEvent]) -> None:
    """Send ``events`` to the Prefect API, each confirmed before the next row is marked."""
    from prefect.events import Event, get_events_client

    runtime = current_runtime()
    async with get_events_client(checkpoint_every=1) as client:
        for event in events:
            await client.emit(Event(
                id=prefect_event_id(event), event=event.name, occurred=event.created_at,
                resource={"prefect.resource.id": engagement_resource(event.engagement_id),
                          "prefect.resource.name": f"engagement {event.engagement_id}"},
                payload=event.payload,
            ))
            mark_emitted(runtime.db, event.id, datetime.now(timezone.utc))


@task(name="relay-engine-events", cache_policy=NO_CACHE)
def relay_engine_events(limit: int = 500) -> list[dict[str, Any]]:
    """Publish every unsent engine event (at most ``limit``); what was published."""
    events = unsent_events(current_runtime().db, limit)
    if events:
        run_coro_as_sync(publish(events))
    return [{"id": event.id, "event": event.name, "engagement": event.engagement_id} for event in events]


@flow(name="engine-relay", flow_run_name=job_run_name("relay"), log_prints=False)
def relay_flow(limit: int = 500, stalled_after_seconds: float = 600) -> dict[str, Any]:
    """Publish engine events, close decided and timed-out approval runs, restart lost ones, finish follow-ups, deliver."""
    from flows.delivery import deliver_outbox
    from flows.labels import name_unnamed_runs
    from flows.recovery import close_runs_of_decided, take_unfinished_follow_ups

    published = relay_engine_events(limit)
    decided = close_runs_of_decided(published)
    follow_ups = take_unfinished_follow_ups()
    delivered = deliver_outbox()
    renamed = name_unnamed_runs()
    closed = close_timed_out_approvals()
    restarted = reschedule_stalled_approvals(stalled_after_seconds)
    get_run_logger().info("%s engine event(s) published, %s decided and %s timed-out approval run(s) closed, "
                          "%s restarted, %s follow-up(s) left undone taken, %s message(s) sent", len(published),
                          len(decided), len(closed), len(restarted), len(follow_ups["taken"]), delivered.get("sent", 0))
    return {"published": published, "decided": decided, "timed_out": closed, "restarted": restarted,
            "follow_ups": follow_ups, "delivered": delivered, "renamed": renamed}
