"""Removing secrets from error text before it is stored or shown (``last_error``, reports, logs)."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://[^\s'\"<>]+")
_SECRET_PARAMETER = re.compile(
    r"(?i)\b(password|passwd|pwd|pass|secret|token|apikey|api_key|access_token|key|webhook)(\s*[=:]\s*)([^\s&;,'\"]+)"
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secrets, every URL after its scheme, and ``password=...``-like values hidden.

    URLs go whole because apprise URLs carry their tokens in any part (user, host, path, query).
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL.sub(lambda match: f"{match.group(1)}://{REDACTED}", text)
    return _SECRET_PARAMETER.sub(lambda match: f"{match.group(1)}{match.group(2)}{REDACTED}", text)
