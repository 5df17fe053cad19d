"""Rendering notifications from the Jinja2 templates in ``notifications/templates``.

Each notification type has one template per language, ``<lang>/<type>.j2``, with a ``subject``
block and a ``body`` block of paragraphs separated by blank lines. It is rendered twice: through
``_layout.txt`` for the plain-text part and, autoescaped, through ``_layout.html`` for the HTML
part; ``<lang>/_strings.j2`` holds the greeting, sign-off and footer. Unknown languages fall back
to English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, pass_context
from markupsafe import Markup
from jinja2.runtime import Context

from models.enums import EngagementKind, Language, NotificationType
from notifications.wrap import wrap

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE = Language.EN

_MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}
_KIND_LABELS = {
    "en": {
        EngagementKind.NATIONAL_DIALOGUE: "national dialogue",
        EngagementKind.SWG_PRESENTATION: "Sub-Working Group presentation",
        EngagementKind.ALLIANCE_MEETING: "Prevent Alliance meeting",
        EngagementKind.TOOLKIT_LAUNCH: "public-private partnership toolkit launch",
        EngagementKind.WEBSITE_SUBMISSION: "website contribution",
        EngagementKind.RECOMMENDATION: "recommendation",
        EngagementKind.ACHIEVEMENT: "private-sector achievement",
        EngagementKind.PRIVATE_SECTOR_FORUM: "private-sector forum",
    },
    "es": {
        EngagementKind.NATIONAL_DIALOGUE: "diálogo nacional",
        EngagementKind.SWG_PRESENTATION: "presentación ante un subgrupo de trabajo",
        EngagementKind.ALLIANCE_MEETING: "reunión de la Alianza de Prevención",
        EngagementKind.TOOLKIT_LAUNCH: "presentación del conjunto de herramientas sobre alianzas público-privadas",
        EngagementKind.WEBSITE_SUBMISSION: "contribución al sitio web",
        EngagementKind.RECOMMENDATION: "recomendación",
        EngagementKind.ACHIEVEMENT: "logro del sector privado",
        EngagementKind.PRIVATE_SECTOR_FORUM: "foro del sector privado",
    },
    "fr": {
        EngagementKind.NATIONAL_DIALOGUE: "dialogue national",
        EngagementKind.SWG_PRESENTATION: "présentation devant un sous-groupe de travail",
        EngagementKind.ALLIANCE_MEETING: "réunion de l'Alliance de prévention",
        EngagementKind.TOOLKIT_LAUNCH: "lancement de la boîte à outils sur les partenariats public-privé",
        EngagementKind.WEBSITE_SUBMISSION: "contribution au site web",
        EngagementKind.RECOMMENDATION: "recommandation",
        EngagementKind.ACHIEVEMENT: "réalisation du secteur privé",
        EngagementKind.PRIVATE_SECTOR_FORUM: "forum du secteur privé",
    },
}

_SPACES = re.compile(r"[ \t\r\n]+")  # ASCII only: French typography keeps its no-break spaces


@dataclass(frozen=True)
class RenderedMessage:
    """A notification ready to be put on a channel; ``language`` is the one actually used."""

    subject: str
    text: str
    html: str
    language: str


@pass_context
def _localized_date(context: Context, value: object) -> str:
    """``2024-02-09`` as "9 February 2024", "9 de febrero de 2024" or "9 février 2024"."""
    lang = context.get("lang", "en")
    moment: date | datetime
    if isinstance(value, date):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if len(str(value)) <= 10:
            moment = moment.date()
    month = _MONTHS[lang][moment.month - 1]
    day = "1er" if lang == "fr" and moment.day == 1 else str(moment.day)
    text = {"en": f"{day} {month} {moment.year}", "es": f"{day} de {month} de {moment.year}"}.get(
        lang, f"{day} {month} {moment.year}"
    )
    if isinstance(moment, datetime):
        text += f", {moment:%H:%M} {moment.tzname() or 'UTC'}"
    return text


@pass_context
def _kind_label(context: Context, value: object) -> str:
    """An engagement kind in words, in the message's language."""
    labels = _KIND_LABELS[context.get("lang", "en")]
    try:
        return labels[EngagementKind(str(value))]
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


def _environment(autoescape: bool) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=autoescape,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # compiled once per process: no file check on every render
        cache_size=-1,  # a plain dict: a few dozen templates, looked up without the LRU cache's lock
    )
    environment.filters.update(
        ldate=_localized_date, kind_label=_kind_label, http_url=_http_url, paragraphs=_paragraphs, wrap=wrap
    )
    # No template calls Jinja2's globals (range, dict, namespace...); without them each render
    # copies no global namespace (calling one now fails the render instead).
    environment.globals.clear()
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)
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
    name = f"{lang}/{kind.value}.j2"
    text_template = _TEXT.get_template(name)
    text_context = text_template.new_context({**context, "lang": lang, "layout": "_layout.txt"})  # one for both
    subject = _SPACES.sub(" ", "".join(text_template.blocks["subject"](text_context))).strip()
    text = _BLANK_LINES.sub("\n\n", "".join(text_template.root_render_func(text_context))).strip() + "\n"
    html = _HTML.get_template(name).render(context, lang=lang, subject=subject, layout="_layout.html")
    return RenderedMessage(subject=subject, text=text, html=html, language=lang)
