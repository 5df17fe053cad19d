"""The personal portal link a mail carries, re-derived from its outbox row when it is rendered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from settings import Settings
from states.action_links import link_token


def action_url(context: Mapping[str, Any], dedupe_key: str, settings: Settings) -> str | None:
    """The signed link for the outbox row ``dedupe_key``, when a link was written with it."""
    if not context.get("link_purpose"):
        return None
    return f"{settings.public_base_url.rstrip('/')}/a/{link_token(settings.signing_key(), dedupe_key)}"
