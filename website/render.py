"""Static website renderer: approved engagements -> a folder of HTML pages and a JSON feed.

Knows nothing of Prefect or of the database: it takes plain pydantic objects and a folder.
`publish` makes the folder hold exactly the items given, rewriting only files whose bytes change.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal, get_args

import nh3
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
)

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

#: Kinds in display order, with their human-readable titles.
KIND_TITLES: dict[str, str] = {
    "national_dialogue": "National dialogues",
    "swg_presentation": "Presentations at Sub-Working Groups",
    "alliance_meeting": "Prevent Alliance meetings",
    "toolkit_launch": "PPP toolkit",
    "website_submission": "Exchange of experiences",
    "recommendation": "Recommendations",
    "achievement": "Private-sector achievements",
    "private_sector_forum": "Private-sector forums",
}
KINDS: tuple[str, ...] = get_args(Kind)
assert set(KINDS) == set(KIND_TITLES)

SITE_TITLE = "Global Coalition to Address Synthetic Drug Threats: private-sector engagement"
HOME_LATEST = 10
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

# Conservative allow-list for partner-written HTML.
_ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote"}
_ALLOWED_ATTRIBUTES = {"a": {"href"}}
_URL_SCHEMES = {"http", "https", "mailto"}
_ABSOLUTE_ALLOWED_URL = re.compile(r"^\s*(https?|mailto):", re.IGNORECASE)
_OWNED_PAGE = re.compile(r"^[1-9][0-9]*\.html$")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


class PublishedItem(BaseModel):
    """One approved, published engagement as the website shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engagement_id: int = Field(gt=0)
    kind: Kind
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    published_at: AwareDatetime
    summary: str = ""
    body: str = ""
    partners: list[str] = []
    facts: dict[str, str] = {}
    links: list[HttpUrl] = []
    #: BCP 47 language tag of the partner-written text (the site chrome is English).
    language: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

    @field_validator("published_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @property
    def path(self) -> str:
        """Relative path of the item's page inside the site folder."""
        return f"{self.kind}/{self.engagement_id}.html"


@dataclass(frozen=True)
class SiteReport:
    """What one `publish` call did; paths are relative to the site folder, POSIX-style, sorted."""

    pages_written: list[str]
    pages_unchanged: list[str]
    pages_removed: list[str]
    index_path: Path


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


def _keep_absolute_hrefs(tag: str, attribute: str, value: str) -> str | None:
    # nh3 has already dropped disallowed schemes; this also drops relative URLs.
    if tag == "a" and attribute == "href" and not _ABSOLUTE_ALLOWED_URL.match(value):
        return None
    return value


def _human_date(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


_environment = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_environment.globals.update(site_title=SITE_TITLE, kind_titles=KIND_TITLES, kinds=KINDS)
_environment.filters.update(human_date=_human_date, iso=_iso)


@dataclass(frozen=True)
class _View:
    """An item prepared for the templates: partner HTML sanitized once and marked safe."""

    item: PublishedItem
    summary_html: Markup
    body_html: Markup

    @classmethod
    def of(cls, item: PublishedItem) -> _View:
        return cls(item, _safe(item.summary), _safe(item.body))


def _safe(partner_text: str) -> Markup:
    cleaned = sanitize(partner_text)
    return Markup(cleaned if cleaned.strip() else "")


def _sorted(items: Iterable[PublishedItem]) -> list[PublishedItem]:
    """Newest first; ties by engagement id ascending."""
    return sorted(items, key=lambda item: (-item.published_at.timestamp(), item.engagement_id))


def _feed(views: list[_View]) -> bytes:
    feed = {
        "version": JSON_FEED_VERSION,
        "title": SITE_TITLE,
        "items": [
            {
                "id": str(view.item.engagement_id),
                "url": view.item.path,
                "title": view.item.title,
                "content_html": "\n".join(part for part in (view.summary_html, view.body_html) if part),
                "date_published": _iso(view.item.published_at),
                "tags": [view.item.kind],
            }
            for view in views
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _render(template: str, **context: object) -> bytes:
    return _environment.get_template(template).render(**context).encode("utf-8")


def _write_if_changed(path: Path, content: bytes) -> bool:
    """Atomically replace `path` with `content` unless it already holds exactly these bytes."""
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a web server must be able to read the page
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _owned_pages(site_dir: Path) -> set[str]:
    """Relative paths of `<kind>/<id>.html` files under known kind folders: the only files we delete."""
    owned: set[str] = set()
    for kind in KINDS:
        folder = site_dir / kind
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if _OWNED_PAGE.match(entry.name) and (entry.is_file() or entry.is_symlink()):
                owned.add(f"{kind}/{entry.name}")
    return owned


def publish(site_dir: Path, items: Iterable[PublishedItem]) -> SiteReport:
    """Make the site hold exactly `items`.

    Writes or refreshes each item's page, rewrites the per-kind indexes, the home page and
    feed.json, then removes the pages of items not given (withdrawn). Idempotent: a file whose
    bytes would not change is not rewritten. Raises ValueError, before touching the folder,
    if two items share an engagement id.
    """
    site_dir = Path(site_dir)
    ordered = _sorted(items)
    counts = Counter(item.engagement_id for item in ordered)
    duplicates = sorted(engagement_id for engagement_id, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"engagement ids given more than once: {duplicates}")

    views = [_View.of(item) for item in ordered]
    by_kind = {kind: [view for view in views if view.item.kind == kind] for kind in KINDS}

    files: dict[str, bytes] = {}
    for view in views:
        files[view.item.path] = _render("item.html", view=view, root="../")
    for kind in KINDS:
        files[f"{kind}/index.html"] = _render("kind_index.html", kind=kind, views=by_kind[kind], root="../")
    files["index.html"] = _render(
        "home.html", counts={kind: len(by_kind[kind]) for kind in KINDS}, views=views[:HOME_LATEST], root=""
    )
    files["feed.json"] = _feed(views)

    site_dir.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    unchanged: list[str] = []
    # Pages first, then indexes and feed, so no index ever links to a page not yet written.
    for relative, content in files.items():
        (written if _write_if_changed(site_dir / relative, content) else unchanged).append(relative)

    removed = sorted(_owned_pages(site_dir) - files.keys())
    for relative in removed:
        (site_dir / relative).unlink(missing_ok=True)

    return SiteReport(
        pages_written=sorted(written),
        pages_unchanged=sorted(unchanged),
        pages_removed=removed,
        index_path=site_dir / "index.html",
    )
