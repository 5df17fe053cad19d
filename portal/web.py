"""What the portal's routes share: settings, database, clock, templates, CSRF and rate limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from models.db import Database
from portal.i18n import LANG_COOKIE, LANGUAGES, pick_language, translator
from portal.security import Csrf, RateLimit, Sessions
from settings import Settings
from states.clock import Clock
from states.sign_in import LIFETIME as SIGN_IN_LINK_LIFETIME

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Portal:
    """The portal's dependencies, built once per app."""

    settings: Settings
    db: Database
    clock: Clock
    csrf: Csrf
    sessions: Sessions
    sign_in_limit: RateLimit = field(init=False)
    sign_in_target_limit: RateLimit = field(init=False)
    submission_limit: RateLimit = field(init=False)
    pages: Environment = field(default_factory=lambda: Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), trim_blocks=True,
        lstrip_blocks=True,
    ))

    def __post_init__(self) -> None:
        # per client address; per target address over one link lifetime, so whoever asks, its owner
        # holds that many live links when the limit is reached (docs/security.md)
        self.sign_in_limit = RateLimit(self.db, self.clock, "sign_in", 5, 60)
        self.sign_in_target_limit = RateLimit(self.db, self.clock, "sign_in_target", 5,
                                              int(SIGN_IN_LINK_LIFETIME.total_seconds()))
        self.submission_limit = RateLimit(self.db, self.clock, "submission", 10, 60)

    def render(self, request: Request, template: str, status_code: int = 200, *, language: str | None = None,
               **context: Any) -> HTMLResponse:
        """A page in the request's language, its forms signed against CSRF."""
        lang = pick_language(request, language)
        html = self.pages.get_template(template).render(
            request=request, lang=lang, languages=LANGUAGES, t=translator(lang), csrf=self.csrf.token(request),
            secretariat_email=self.settings.secretariat_email, **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        self.csrf.set_cookie(request, response)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, httponly=True, secure=self.csrf.secure, samesite="lax", path="/")
        return response

    def render_word(self, request: Request, key: str) -> str:
        """One word of the catalog in the request's language."""
        return translator(pick_language(request))(key)

    def refuse(self, request: Request, message: str, status_code: int, *, language: str | None = None) -> HTMLResponse:
        """The clear page shown when something is refused; nothing was written."""
        return self.render(request, "refused.html", status_code, language=language, message=message)

    def csrf_refusal(self, request: Request, form: Mapping[str, Any]) -> HTMLResponse | None:
        """The 403 page if the posted ``form`` does not carry this site's CSRF token; ``None`` if it does."""
        if self.csrf.valid(request, form.get("csrf")):
            return None
        return self.refuse(request, self.render_word(request, "csrf_failed"), 403)

    def signed_in_as(self, request: Request, role: str) -> str | None:
        """The e-mail of the person signed in with ``role``, or ``None``."""
        who = self.sessions.current(request)
        return who[0] if who is not None and who[1] == role else None


def portal_of(request: Request) -> Portal:
    """The portal serving ``request``."""
    return request.app.state.portal


def client_key(request: Request) -> str:
    """Who a rate limit counts: the client's address (as a trusted proxy reports it, see ``create_app``)."""
    return request.client.host if request.client else "unknown"
