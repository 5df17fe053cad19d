"""Rendering notifications from the Jinja2 templates in ``notifications/templates``.

Each notification type has one template, ``<type>.j2``, with a ``subject`` block and a ``body``
block of paragraphs separated by blank lines, whose strings are marked for translation
(``{% trans %}``, ``_()``); the catalogs of ``locale/`` give their Spanish and French (see
``website.i18n``). It is rendered twice: through ``_layout.txt`` for the plain-text part and,
autoescaped, through ``_layout.html`` for the HTML part; ``_strings.j2`` holds what both layouts
say. Dates are written by Babel in the message's language. Unknown languages fall back to English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo
from urllib.parse import urlsplit

from babel.dates import format_interval, get_timezone_name
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from models.enums import EngagementKind, Language, NotificationType
from notifications.wrap import wrap
from website.i18n import BABEL_LOCALES, N_, long_date, long_datetime, translations

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE = Language.EN

#: Engagement kinds in words (msgids of the catalogs).
_KIND_LABELS = {
    EngagementKind.NATIONAL_DIALOGUE: N_("national dialogue"),
    EngagementKind.SWG_PRESENTATION: N_("Sub-Working Group presentation"),
    EngagementKind.ALLIANCE_MEETING: N_("Prevent Alliance meeting"),
    EngagementKind.TOOLKIT_LAUNCH: N_("public-private partnership toolkit launch"),
    EngagementKind.WEBSITE_SUBMISSION: N_("website contribution"),
    EngagementKind.RECOMMENDATION: N_("recommendation"),
    EngagementKind.ACHIEVEMENT: N_("private-sector achievement"),
    EngagementKind.PRIVATE_SECTOR_FORUM: N_("private-sector forum"),
}

_SPACES = re.compile(r"[ \t\r\n]+")  # ASCII only: French typography keeps its no-break spaces


@dataclass(frozen=True)
class RenderedMessage:
    """A notification ready to be put on a channel; ``language`` is the one actually used."""

    subject: str
    text: str
    html: str
    language: str


def _localized_date(value: object, language: str) -> str:
    """``2024-02-09`` as "9 February 2024", "9 de febrero de 2024" or "9 février 2024"; a moment with its time."""
    if isinstance(value, date):
        return long_datetime(value, language) if isinstance(value, datetime) else long_date(value, language)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return long_date(moment, language) if len(str(value)) <= 10 else long_datetime(moment, language)


def _meeting_day(context: Context, value: object, language: str) -> str:
    """The meeting's first day, and its hours in its own time zone when it has them:
    "19 March 2024, 14:00 – 16:00 (Central European Standard Time)", in the message's language."""
    day = _localized_date(value, language)
    start, end, zone = (context.get(name) for name in ("meeting_start_time", "meeting_end_time", "meeting_time_zone"))
    if not (start and end and zone):
        return day
    first, place, locale = date.fromisoformat(str(value)), ZoneInfo(str(zone)), BABEL_LOCALES.get(language, language)
    starts = datetime.combine(first, time.fromisoformat(str(start)), place)
    ends = datetime.combine(first, time.fromisoformat(str(end)), place)
    hours = format_interval(starts, ends, "Hm", tzinfo=place, locale=locale)
    return f"{day}, {hours} ({get_timezone_name(starts, 'long', locale=locale)})"


def _kind_label(value: object, gettext: Callable[[str], str]) -> str:
    """An engagement kind in words, in the message's language."""
    try:
        return gettext(_KIND_LABELS[EngagementKind(str(value))])
    except ValueError:
        return str(value).replace("_", " ")


def _http_url(value: object) -> str:
    """The value if it is an http(s) URL, else an empty string (no ``javascript:`` links)."""
    text = str(value or "")
    return text if urlsplit(text).scheme in {"http", "https"} and "\n" not in text else ""


def _paragraphs(value: str) -> list[str]:
    """Split on blank lines and collapse whitespace inside each paragraph (keeps ``Markup``)."""
    kind = Markup if isinstance(value, Markup) else str
    parts = re.split(r"\n[ \t]*\n", str(value))
    return [kind(_SPACES.sub(" ", part).strip()) for part in parts if part.strip()]


@lru_cache(maxsize=None)
def _environment(language: str, autoescape: bool) -> Environment:
    """The templates' environment for one language and part (text or HTML), built on first use."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=autoescape,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # compiled once per process: no file check on every render
        cache_size=-1,  # a plain dict: a few dozen templates, looked up without the LRU cache's lock
        extensions=["jinja2.ext.i18n"],
    )
    environment.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    catalog = translations(language)
    environment.filters.update(
        ldate=lambda value: _localized_date(value, language),
        meeting_day=pass_context(lambda context, value: _meeting_day(context, value, language)),
        kind_label=lambda value: _kind_label(value, catalog.gettext),
        # Msgids that come from data (a default name, what a sign-in link opens): a plain str, escaped like any value.
        tr=lambda value: catalog.gettext(str(value)) if value else "",
        http_url=_http_url, paragraphs=_paragraphs, wrap=wrap,
    )
    # No template calls Jinja2's globals (range, dict, namespace...); without them each render
    # copies only the gettext functions (``_``, the i18n extension's alias, and those installed next).
    gettext_alias = environment.globals["_"]
    environment.globals.clear()
    environment.globals["_"] = gettext_alias
    environment.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    return environment


_LANGUAGES = frozenset(member.value for member in Language)
_BLANK_LINES = re.compile(r"\n[ \t]*(\n[ \t]*)+")


def resolve_language(language: str | None) -> str:
    """The supported language closest to ``language`` (``es-MX`` -> ``es``), English otherwise."""
    code = (language or "").strip().lower()[:2]
    return code if code in _LANGUAGES else DEFAULT_LANGUAGE.value


def render_message(notification_type: str, language: str | None, context: Mapping[str, Any]) -> RenderedMessage:
    """Render subject, plain text and HTML of one notification.

    Raises ``ValueError`` for an unknown notification type. Missing optional context keys
    render as nothing.
    """
    try:
        kind = NotificationType(notification_type)
    except ValueError:
        raise ValueError(f"unknown notification type {notification_type!r}") from None
    lang = resolve_language(language)
    name = f"{kind.value}.j2"
    text_template = _environment(lang, autoescape=False).get_template(name)
    text_context = text_template.new_context({**context, "lang": lang, "layout": "_layout.txt"})  # one for both
    subject = _SPACES.sub(" ", "".join(text_template.blocks["subject"](text_context))).strip()
    text = _BLANK_LINES.sub("\n\n", "".join(text_template.root_render_func(text_context))).strip() + "\n"
    html_template = _environment(lang, autoescape=True).get_template(name)
    html = html_template.render(context, lang=lang, subject=subject, layout="_layout.html")
    return RenderedMessage(subject=subject, text=text, html=html, language=lang)
