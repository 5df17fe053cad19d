"""The language of a portal page: chosen per request; its words come from the catalogs (website/i18n.py)."""

from __future__ import annotations

from starlette.requests import Request

from website.i18n import LANGUAGES

LANG_COOKIE = "engage_lang"

__all__ = ["LANGUAGES", "LANG_COOKIE", "pick_language"]


def pick_language(request: Request, preferred: str | None = None) -> str:
    """``?lang=``, then the language cookie, then the recipient's language, then the browser's."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), preferred):
        if candidate in LANGUAGES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
