"""The link a mail carries, re-derived from its outbox row when it is rendered: a personal signed portal link,
or a public page (a form to fill in, a published page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from settings import Settings
from states.action_links import link_token


PATHS = {"submission_confirmation": "confirm", "sign_in": "signin"}  # by link purpose; default "a"
#: Public portal pages a mail points to, by link purpose: nothing personal, no token.
FORMS = {"recommendation_form": "/submit/recommendation", "material_form": "/submit/material"}
#: Link purposes whose URL the outbox row carries whole (``page_url``): a page on the published website.
PAGE_PURPOSES = frozenset({"published_page"})


def action_url(context: Mapping[str, Any], dedupe_key: str, settings: Settings) -> str | None:
    """The link of the outbox row ``dedupe_key``: signed when a link row was written with it, else its public page."""
    purpose = context.get("link_purpose")
    if not purpose:
        return None
    base = settings.public_base_url.rstrip("/")
    if purpose in FORMS:
        return base + FORMS[purpose]
    if purpose in PAGE_PURPOSES:
        return context.get("page_url")
    path = PATHS.get(purpose, "a")
    return f"{base}/{path}/{link_token(settings.signing_key(), dedupe_key)}"
