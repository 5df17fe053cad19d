"""Chat and webhook delivery for the Secretariat through apprise URLs."""

from __future__ import annotations

import logging
import re

import apprise

from notifications.errors import PermanentDeliveryError
from notifications.redaction import redact
from notifications.templates import RenderedMessage

_URL_SEPARATORS = re.compile(r"[/:@?&=#,;]+")


def url_parts(url: str) -> set[str]:
    """The pieces of an apprise URL after its scheme (user, password, host, path, query): any may be a token."""
    return {part for part in _URL_SEPARATORS.split(url.partition("://")[2]) if len(part) >= 3}


class _MaskedTargets(logging.Filter):
    """Masks, in apprise's own log records, every piece of the URLs given to a chat channel (apprise logs tokens)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.parts:
            record.msg, record.args = redact(record.getMessage(), self.parts), ()
        return True


_MASKED = _MaskedTargets()
logging.getLogger("apprise").addFilter(_MASKED)


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
            problems = [redact(entry.message, url_parts(url)) for entry in result.logs()
                        if entry.level in {"WARNING", "ERROR", "CRITICAL"}]
            raise ConnectionError("; ".join(problems) or f"chat notification failed ({result.status})")

    def _target(self, url: str) -> apprise.Apprise:
        target = self._targets.get(url)
        if target is None:
            _MASKED.parts |= url_parts(url)
            target = apprise.Apprise()
            if not target.add(url):
                raise PermanentDeliveryError("not a valid apprise URL (the address is not shown, it may hold a secret)")
            self._targets[url] = target
        return target
