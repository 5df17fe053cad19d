"""What the portal's routes share: settings, database, clock, templates, CSRF and rate limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from models.db import Database
from portal.i18n import LANG_COOKIE, LANGUAGES, pick_language
from portal.security import Csrf, RateLimit, Sessions
from settings import Settings
from states.clock import Clock
from states.errors import EngageError
from states.sign_in import LIFETIME as SIGN_IN_LINK_LIFETIME
from states.words import word
from website.i18n import N_, Phrase, long_date, long_datetime, translations

TEMPLATES = Path(__file__).parent / "templates"
#: What a page can say: a catalog message with its parameters, a refusal of the engine, or (rarely) plain text.
Said = Phrase | EngageError | str
REFUSED = N_("This link cannot be used")
TOO_MANY = Phrase.of(N_("Too many attempts. Please wait a minute and try again."))
CSRF_FAILED = Phrase.of(N_("The form had expired or did not come from this site. Please open the link again and resend."))


def say(message: Said, language: str) -> Markup | str:
    """``message`` in ``language``: a phrase through the catalog, a refusal through its phrase (or its fields'
    phrases); a refusal the engine still words only in English is shown as such, tagged ``lang="en"``."""
    if isinstance(message, EngageError):
        problems = getattr(message, "problems", ())
        if message.phrase is not None:
            message = message.phrase
        elif problems:
            return Markup(" ").join(problem.phrase.html(language) for problem in problems)
        else:
            return str(message) if language == "en" else Markup('<span lang="en">%s</span>') % str(message)
    return message.html(language) if isinstance(message, Phrase) else message


#: Form fields the domain names otherwise (a report's areas are one text box, one line each).
_FIELD_NAMES = {"areas_of_discussion": "areas"}
_PREFIXES = ("details.", "data.")


def form_errors(error: EngageError, fields: tuple[str, ...]) -> dict[str, list[Said]]:
    """``error`` as messages by the form's ``fields`` (``""``: about none of them), every problem at once."""
    problems = getattr(error, "problems", ())
    if not problems:
        return {"": [error]}
    errors: dict[str, list[Said]] = {}
    for problem in problems:
        name = problem.field
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        name = name.split(".")[0]
        name = _FIELD_NAMES.get(name, name)
        errors.setdefault(name if name in fields else "", []).append(problem.phrase)
    return errors


def _day(value: date | str | None, language: str) -> str:
    """A date (or an ISO date's text) as a long date in ``language``; nothing for nothing."""
    if not value:
        return ""
    return long_date(date.fromisoformat(value[:10]) if isinstance(value, str) else value, language)


@lru_cache(maxsize=None)
def pages(language: str) -> Environment:
    """The portal's templates in ``language``: gettext (newstyle, trimmed) from the one catalog, Babel dates."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                              trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"],
                              auto_reload=False)  # compiled once per process: no stat of the file per page
    environment.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    catalog = translations(language)
    environment.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    environment.filters.update(
        ldate=lambda value: _day(value, language),
        ldatetime=lambda value: long_datetime(value, language) if value else "",
        tr=lambda value: catalog.gettext(str(value)) if value else "",  # a msgid held in data
        say=lambda value: say(value, language),
        word=lambda value: word(value, catalog.gettext),  # a state, step, channel... by its code
    )
    return environment


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
        html = pages(lang).get_template(template).render(
            request=request, lang=lang, languages=LANGUAGES, csrf=self.csrf.token(request),
            secretariat_email=self.settings.secretariat_email, **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        self.csrf.set_cookie(request, response)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, httponly=True, secure=self.csrf.secure, samesite="lax", path="/")
        return response

    def refuse(self, request: Request, message: Said, status_code: int, *, language: str | None = None,
               heading: str = REFUSED) -> HTMLResponse:
        """The clear page shown when something is refused, said in the page's language; nothing was written.

        ``heading`` is a msgid (marked with ``N_``); the default speaks of a link.
        """
        return self.render(request, "refused.html", status_code, language=language, message=message, heading=heading)

    def csrf_refusal(self, request: Request, form: Mapping[str, Any]) -> HTMLResponse | None:
        """The 403 page if the posted ``form`` does not carry this site's CSRF token; ``None`` if it does."""
        if self.csrf.valid(request, form.get("csrf")):
            return None
        return self.refuse(request, CSRF_FAILED, 403, heading=N_("The form could not be sent"))

    def signed_in_as(self, request: Request, *roles: str) -> str | None:
        """The e-mail of the person signed in with one of ``roles``, or ``None``."""
        who = self.sessions.current(request)
        return who[0] if who is not None and who[1] in roles else None


def portal_of(request: Request) -> Portal:
    """The portal serving ``request``."""
    return request.app.state.portal


def one_transaction(page: Callable[..., Response]) -> Callable[..., Response]:
    """A page (a route's sync function, called by name) whose reads share one transaction (``Database.request``),
    opened in the worker thread that makes the page and ended with it: anyio runs each call in a copy of the
    caller's context, so no other request, nor the next page that thread makes, sees it."""
    @wraps(page)
    def read(**params: Any) -> Response:
        with portal_of(params["request"]).db.request():
            return page(**params)
    return read


def client_key(request: Request) -> str:
    """Who a rate limit counts: the client's address (as a trusted proxy reports it, see ``create_app``)."""
    return request.client.host if request.client else "unknown"
