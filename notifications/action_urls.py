"""The personal portal link a mail carries, re-derived from its outbox row when it is rendered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from settings import Settings
from states.action_links import link_token


PATHS = {"submission_confirmation": "confirm", "sign_in": "signin"}  # by link purpose; default "a"


def action_url(context: Mapping[str, Any], dedupe_key: str, settings: Settings) -> str | None:
    """The signed link for the outbox row ``dedupe_key``, when a link was written with it."""
    purpose = context.get("link_purpose")
    if not purpose:
        return None
    path = PATHS.get(purpose, "a")
    return f"{settings.public_base_url.rstrip('/')}/{path}/{link_token(settings.signing_key(), dedupe_key)}"
