"""Tell the secretariat's chat that a flow run needs attention (started by a trigger in prefect.yaml).

The alert names the run as it is named now (a run that crashed before it started is renamed after
its engagement or job), and for a run about an engagement, the engagement and the state it was
left in, read from the database.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger

from flows.labels import honest_name, job_run_name
from flows.runtime import current_runtime
from notifications.chat_channel import ChatChannel
from notifications.templates import RenderedMessage
from states.approvals import approval_status
from states.errors import EngageError

FLOW_RUN_RESOURCE = "prefect.flow-run."


def about_run(flow_run_id: str) -> tuple[str | None, str]:
    """The run's honest name (``None`` if unknown) and what it was about: the engagement and its state now."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id.removeprefix(FLOW_RUN_RESOURCE)))
            name = honest_name(client.read_flow(run.flow_id).name, run) or run.name
            if name != run.name:  # crashed before it started: named after its engagement or job now
                client.update_flow_run(run.id, name=name)
    except Exception:  # noqa: BLE001 - an alert is sent whatever the API says
        return None, ""
    engagement = (run.parameters or {}).get("engagement_id")
    if engagement is None:
        return name, ""
    try:
        status = approval_status(current_runtime().db, int(engagement))
    except (EngageError, ValueError):
        return name, f"Engagement #{engagement} (not found)."
    return name, f"Engagement #{status.engagement_id} {status.title!r} is left {status.state!r}."


@flow(name="secretariat-alert", flow_run_name=job_run_name("alert"), log_prints=False)
def secretariat_alert(run_name: str, state: str, message: str = "", flow_run_id: str = "") -> dict[str, Any]:
    """Post '<run> ended <state>. <engagement and its state>. <message>' to every ``ENGAGE_CHAT_URLS`` target."""
    settings = current_runtime().settings
    honest, engagement = about_run(flow_run_id) if flow_run_id else (None, "")
    run_name = honest or run_name
    text = " ".join(part for part in (
        f"Coalition Engage: flow run {run_name} ended {state}.", engagement, message.strip()) if part)
    channel, failed = ChatChannel(settings.smtp_timeout_seconds), []
    for url in settings.chat_urls:
        try:
            channel.send(RenderedMessage(subject=f"Flow run {run_name}: {state}", text=text, html="", language="en"), url)
        except Exception as error:  # noqa: BLE001 - reported below, one target's failure must not hide the others
            failed.append(type(error).__name__)
    if not settings.chat_urls:
        get_run_logger().warning("no ENGAGE_CHAT_URLS configured; alert only in this run's log: %s", text)
    return {"posted": len(settings.chat_urls) - len(failed), "failed": failed, "text": text}
