"""Tell the secretariat's chat that a flow run needs attention (started by a trigger in prefect.yaml)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.runtime import current_runtime
from notifications.chat_channel import ChatChannel
from notifications.templates import RenderedMessage


@flow(name="secretariat-alert", log_prints=False)
def secretariat_alert(run_name: str, state: str, message: str = "") -> dict[str, Any]:
    """Post '<run> ended <state>: <message>' to every ``ENGAGE_CHAT_URLS`` target."""
    settings = current_runtime().settings
    text = f"Coalition Engage: flow run {run_name} ended {state}. {message}".strip()
    channel, failed = ChatChannel(settings.smtp_timeout_seconds), []
    for url in settings.chat_urls:
        try:
            channel.send(RenderedMessage(subject=f"Flow run {run_name}: {state}", text=text, html="", language="en"), url)
        except Exception as error:  # noqa: BLE001 - reported below, one target's failure must not hide the others
            failed.append(type(error).__name__)
    if not settings.chat_urls:
        get_run_logger().warning("no ENGAGE_CHAT_URLS configured; alert only in this run's log: %s", text)
    return {"posted": len(settings.chat_urls) - len(failed), "failed": failed, "text": text}
