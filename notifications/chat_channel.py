"""Chat and webhook delivery for the Secretariat through apprise URLs."""

from __future__ import annotations

import apprise

from notifications.errors import PermanentDeliveryError
from notifications.templates import RenderedMessage


class ChatChannel:
    """Posts notifications to apprise URLs (``json://``, ``slack://``, ``mmost://``...)."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._targets: dict[str, apprise.Apprise] = {}

    def send(self, rendered: RenderedMessage, url: str) -> None:
        """Deliver one notification to ``url``; raises with apprise's own explanation on failure."""
        result = self._target(url).notify(
            body=rendered.text, title=rendered.subject, body_format=apprise.NotifyFormat.TEXT, timeout=self.timeout_seconds
        )
        if not result:
            problems = [entry.message for entry in result.logs() if entry.level in {"WARNING", "ERROR", "CRITICAL"}]
            raise ConnectionError("; ".join(problems) or f"chat notification failed ({result.status})")

    def _target(self, url: str) -> apprise.Apprise:
        target = self._targets.get(url)
        if target is None:
            target = apprise.Apprise()
            if not target.add(url):
                raise PermanentDeliveryError("not a valid apprise URL (the address is not shown, it may hold a secret)")
            self._targets[url] = target
        return target
