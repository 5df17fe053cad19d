"""The site's view model: published items as the renderer and the feeds both read them.

`PublishedItem` and `PartnerProfile` are what publication hands the website; `ItemView` is an item
prepared once for every output (partner HTML sanitized and marked safe, a digest of its inputs).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property, lru_cache
from typing import Annotated, Literal, get_args

import nh3
from markupsafe import Markup
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator

from website.i18n import Phrase, translations

Kind = Literal[
    "national_dialogue",
    "swg_presentation",
    "alliance_meeting",
    "toolkit_launch",
    "website_submission",
    "recommendation",
    "achievement",
    "private_sector_forum",
]

KINDS: tuple[str, ...] = get_args(Kind)

# Conservative allow-list for partner-written HTML.
_ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote"}
_ALLOWED_ATTRIBUTES = {"a": {"href"}}
_URL_SCHEMES = {"http", "https", "mailto"}
_ABSOLUTE_ALLOWED_URL = re.compile(r"^\s*(https?|mailto):", re.IGNORECASE)
_LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"

#: A fact's value: text shown as written (partner and staff text is never read as a date), a typed day
#: or span of days, shown as a long date in the page's language, or reference data written in each
#: language (``{"en": ..., "es": ..., "fr": ...}``: the page's, else the English).
FactValue = str | date | tuple[date, date] | dict[str, str]


class Section(BaseModel):
    """A part of an item's body under a heading (a catalog msgid): a list, partner-written paragraphs, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    entries: list[str] = []
    text: str = ""


class PublishedItem(BaseModel):
    """One approved, published engagement as the website shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engagement_id: int = Field(gt=0)
    kind: Kind
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    published_at: AwareDatetime
    #: What the engine says of the item (e.g. who convened how many partners), in the language of each page.
    lead: Phrase | None = None
    summary: str = ""
    body: str = ""
    #: After the body: headed lists and texts (areas of discussion, commitments, recommendations).
    sections: list[Section] = []
    partners: list[str] = []
    facts: dict[str, FactValue] = {}
    links: list[HttpUrl] = []
    #: ISO 3166 alpha-2 code of the country the engagement took place in (national dialogues).
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    #: BCP 47 language tag of the partner-written text; None: the language of the page.
    language: str | None = Field(default=None, pattern=_LANGUAGE_TAG)

    @field_validator("published_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @property
    def path(self) -> str:
        """Relative path of the item's page inside a language's folder."""
        return f"{self.kind}/{self.engagement_id}.html"


class PartnerProfile(BaseModel):
    """Where a partner organization is from and which industry it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    industry: str | None = None


def sanitize(html: str) -> str:
    """Partner-written text -> safe HTML fragment (allow-listed tags, http/https/mailto links only)."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        attribute_filter=_keep_absolute_hrefs,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def plain_text(html: str) -> str:
    """Partner-written text -> plain text (every tag dropped, whitespace collapsed)."""
    spaced = html.replace("<", " <")  # blocks and list items stay separate words
    text = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"}, strip_comments=True)
    return " ".join(html_lib.unescape(text).split())


def _keep_absolute_hrefs(tag: str, attribute: str, value: str) -> str | None:
    # nh3 has already dropped disallowed schemes; this also drops relative URLs.
    if tag == "a" and attribute == "href" and not _ABSOLUTE_ALLOWED_URL.match(value):
        return None
    return value


@dataclass(frozen=True)
class ItemView:
    """An item prepared for the outputs: partner HTML sanitized once, when first needed, and marked safe."""

    item: PublishedItem
    profiles: tuple[PartnerProfile, ...]
    #: What the pages showing the item are made from: the item and its partners' profiles.
    digest: str

    @cached_property
    def summary_html(self) -> Markup:
        """The summary, sanitized (a publication whose pages are cached never needs it)."""
        return _safe(self.item.summary)

    @cached_property
    def body_html(self) -> Markup:
        """The body, sanitized."""
        return _safe(self.item.body)

    @cached_property
    def sections(self) -> tuple[tuple[Section, Markup], ...]:
        """The item's sections, each with its text sanitized."""
        return tuple((section, _safe(section.text)) for section in self.item.sections)

    def content_html(self, language: str) -> Markup:
        """Everything the item says, as one piece of HTML in ``language`` (feeds, search)."""
        gettext = translations(language).gettext
        parts = [Markup("<p>%s</p>") % self.item.lead.html(language)] if self.item.lead else []
        parts += [self.summary_html, self.body_html]
        for section, text in self.sections:
            parts.append(Markup("<p><strong>%s</strong></p>") % gettext(section.title))
            if section.entries:
                entries = Markup("").join(Markup("<li>%s</li>") % entry for entry in section.entries)
                parts.append(Markup("<ul>%s</ul>") % entries)
            parts.append(text)
        return Markup("\n").join(part for part in parts if part)

    def search_text(self, language: str) -> str:
        """What the item says in ``language``, as plain text for the search index."""
        return plain_text(self.content_html(language))[:600]

    @classmethod
    def of(cls, item: PublishedItem, profiles: dict[str, PartnerProfile], digest: str | None = None) -> ItemView:
        """``item`` with its partners' ``profiles``; ``digest``: its digest, when known (computed otherwise)."""
        shown = tuple(profiles.get(name) or PartnerProfile(name=name) for name in item.partners)
        if digest is None:
            digest = hashlib.sha256("\0".join((item.model_dump_json(), *map(_profile_json, shown))).encode()).hexdigest()
        return cls(item, shown, digest)


@dataclass(frozen=True, slots=True)
class ListedItem:
    """What a list shows of an item (``_items.html``), as the site's store keeps it: it reads as an `ItemView`
    does (``view.item.title``, ``view.summary_html``), without the body, sections, facts and links."""

    engagement_id: int
    kind: str
    title: str
    published_at: datetime
    country: str | None
    language: str | None
    lead: Phrase | None
    summary_html: Markup

    @property
    def item(self) -> ListedItem:
        """Itself: the lists read an item's fields as ``view.item.<field>``."""
        return self

    @property
    def path(self) -> str:
        """Relative path of the item's page inside a language's folder."""
        return f"{self.kind}/{self.engagement_id}.html"

    @classmethod
    def of(cls, view: ItemView) -> ListedItem:
        item = view.item
        return cls(item.engagement_id, item.kind, item.title, item.published_at, item.country, item.language, item.lead,
                   view.summary_html)


@dataclass(frozen=True)
class ItemSource:
    """A published item not made yet: its engagement id, a ``stamp`` that changes whenever anything the
    item is made from changes, and how to make it. The site makes again only items whose stamp changed."""

    engagement_id: int
    stamp: str
    make: Callable[[], PublishedItem]


@lru_cache(maxsize=4096)
def _profile_json(profile: PartnerProfile) -> str:
    """A profile as JSON, made once per profile however many items name it."""
    return profile.model_dump_json()


def _safe(partner_text: str) -> Markup:
    cleaned = sanitize(partner_text)
    return Markup(cleaned if cleaned.strip() else "")
