"""Static website renderer: published engagements -> a folder of pages in three languages, feeds, a sitemap.

Knows nothing of Prefect or of the database: it takes plain pydantic objects and a folder.
`publish` makes the folder hold exactly the pages for the items given, rewriting only files whose
bytes change. English pages sit at the root, Spanish and French ones under ``es/`` and ``fr/``;
every page is rendered from the same templates through the message catalogs of ``website.i18n``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from website.feeds import atom_feed, json_feed, sitemap
from website.i18n import LANGUAGE_NAMES, LANGUAGES, LOCALE_DIR, N_, country_name, long_date, translations
from website.store import Entry, Store
from website.view import KINDS, FactValue, ItemSource, ItemView, ListedItem, PartnerProfile, PublishedItem

#: Kinds in display order, with their English titles (the msgids of the catalogs).
KIND_TITLES: dict[str, str] = {
    "national_dialogue": N_("National dialogues"),
    "swg_presentation": N_("Presentations at Sub-Working Groups"),
    "alliance_meeting": N_("Prevent Alliance meetings"),
    "toolkit_launch": N_("PPP toolkit"),
    "website_submission": N_("Exchange of experiences"),
    "recommendation": N_("Recommendations"),
    "achievement": N_("Private-sector achievements"),
    "private_sector_forum": N_("Private-sector forums"),
}
assert set(KINDS) == set(KIND_TITLES)

#: The seed's six priority industries, then its two future areas, then the others dialogues invite.
PRIORITY_INDUSTRIES = ("chemical", "shipping", "consignment", "social_media", "e_commerce", "banking")
FUTURE_INDUSTRIES = ("artificial_intelligence", "pharmaceuticals")
INDUSTRY_LABELS: dict[str, str] = {
    "chemical": N_("Chemical"), "shipping": N_("Shipping"), "consignment": N_("Consignment"),
    "social_media": N_("Social media"), "e_commerce": N_("E-commerce"), "banking": N_("Banking"),
    "artificial_intelligence": N_("Artificial intelligence"), "pharmaceuticals": N_("Pharmaceuticals"),
    "transportation": N_("Transportation"), "financial": N_("Financial institutions"), "other": N_("Other industries"),
}
#: The portal's submission forms, per kind that partners submit.
SUBMISSION_FORMS = {"recommendation": "/submit/recommendation", "achievement": "/submit/achievement",
                    "website_submission": "/submit/material"}
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
#: Where the site is served when no public address is set (`python -m http.server 8080 -d <data_dir>/site`).
DEFAULT_SITE_URL = "http://localhost:8080/"

SITE_TITLE = N_("Global Coalition to Address Synthetic Drug Threats: private-sector engagement")
HOME_LATEST = 10
#: Items in the JSON and Atom feeds, the newest: readers keep what they have seen, and a publication
#: renders the feeds again, so their size must not grow with the site.
FEED_LATEST = 50
#: Items per page of a list (by kind, country, industry); the first page holds up to twice as many.
INDEX_PAGE_SIZE = 50
MANIFEST = ".engage-site.json"
#: Up to this many files written, `publish` flushes each to disk; above, it flushes the file systems at once.
SYNC_ONE_BY_ONE = 200
REPORT_FOLDER = "report"

_STATIC = Path(__file__).with_name("static")
#: MiniSearch, the search page's library: installed from npm by the Makefile (`make assets`, version
#: pinned there) and copied with its licence into every published site, under these names.
MINISEARCH = Path(__file__).resolve().parent.parent / ".tools" / "minisearch" / "node_modules" / "minisearch"
_MINISEARCH_FILES = {"minisearch.js": "dist/umd/index.js", "minisearch.LICENSE.txt": "LICENSE.txt"}
#: Facts whose values come from a fixed list, so the catalogs translate them.
_ENUMERATED_FACTS = {"Topic", "Format", "Focus", "Received via", "Coalition deliverable", "In the final report"}


class SubmissionWindowInfo(BaseModel):
    """The dates during which partners can submit one kind of item through the portal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["recommendation", "achievement", "website_submission"]
    opens_on: date
    closes_on: date
    early_deadline: date | None = None


class SiteContext(BaseModel):
    """What the site shows besides the items: the partners' profiles, the windows, the portal's address."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    portal_url: str = DEFAULT_PORTAL_URL
    #: The site's public address: feeds, the sitemap and hreflang links give absolute URLs under it.
    site_url: str = Field(default=DEFAULT_SITE_URL, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    partners: list[PartnerProfile] = []
    windows: list[SubmissionWindowInfo] = []
    #: The day the site is rendered for (says whether a window is still open); None: do not say.
    today: date | None = None


@dataclass(frozen=True, order=True)
class SkippedItem:
    """A published engagement left off the site because it could not be rendered, and why."""

    engagement_id: int
    reason: str


@dataclass(frozen=True)
class SiteReport:
    """What one `publish` call did; paths are relative to the site folder, POSIX-style, sorted.

    ``items``: the items on the site; ``skipped``: those left off because they could not be rendered.
    """

    pages_written: list[str]
    pages_unchanged: list[str]
    pages_removed: list[str]
    index_path: Path
    items: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)


def failure_reason(error: Exception) -> str:
    """Why an item could not be rendered, in one line (a validation error names each bad field)."""
    if isinstance(error, ValidationError):
        text = "; ".join(f"{'.'.join(map(str, problem['loc'])) or 'item'}: {problem['msg']}" for problem in error.errors())
    else:
        text = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
    return text[:300]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def prefix(language: str) -> str:
    """The folder of ``language`` inside the site ('' for English)."""
    return "" if language == "en" else f"{language}/"


def _environment(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates do not change while the process runs: no stat per page
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    gettext = translations(language).gettext

    def fact_value(name: str, value: FactValue) -> str:
        if isinstance(value, dict):
            return value.get(language) or value["en"]
        if isinstance(value, date):
            return long_date(value, language)
        if isinstance(value, tuple):
            start, end = (long_date(day, language) for day in value)
            return gettext("%(start)s to %(end)s") % {"start": start, "end": end}
        if name == "Country":
            return country_name(value, language)
        return gettext(value) if name in _ENUMERATED_FACTS else value

    environment.globals.update(
        tr=gettext,  # for msgids that come from data: a plain str, escaped like any value
        site_title=SITE_TITLE, kind_titles=KIND_TITLES, kinds=KINDS, languages=LANGUAGES, language_names=LANGUAGE_NAMES,
        lang=language, industry_labels=INDUSTRY_LABELS, priority_industries=PRIORITY_INDUSTRIES,
        future_industries=FUTURE_INDUSTRIES, prefix=prefix,
    )
    environment.filters.update(
        iso=_iso, day=lambda moment: long_date(moment, language), country=lambda code: country_name(code, language),
        fact_value=fact_value, phrase=lambda phrase: phrase.html(language),
    )
    return environment


_ENVIRONMENTS = {language: _environment(language) for language in LANGUAGES}
#: Changes whenever a template, catalog or site asset changes: cached item pages are then rendered again.
_TEMPLATES_DIGEST = hashlib.sha256(b"".join(
    path.read_bytes() for folder in (Path(__file__).with_name("templates"), LOCALE_DIR, _STATIC)
    for path in sorted(folder.iterdir()) if path.is_file()
)).hexdigest()


@dataclass(frozen=True)
class _Pager:
    """The navigation of one page of a list, by file names in the list's folder.

    ``newer`` and ``older``: the neighbouring pages (None at either end). ``links`` run from the
    newest page to the oldest: (archive page number or None for the first page, file name or None
    for the current page), or None where pages are left out; empty when the list has one page.
    """

    newer: str | None
    older: str | None
    links: tuple[tuple[int | None, str | None] | None, ...]


@dataclass(frozen=True)
class _Paged:
    """A list of items (newest first) on pages of ``size``, so that a new item changes O(1) pages.

    The first page (``folder + first``) shows the newest items; the older ones fill archive pages
    numbered from the oldest (``folder + stem + number + ".html"``), each exactly ``size`` items. A
    new item changes the first page only, until the first page holds ``2 * size``: then its oldest
    ``size`` items become the next archive page, which never changes again but for its navigation.
    """

    folder: str
    first: str
    stem: str
    entries: list[Entry]
    size: int

    @property
    def archived(self) -> int:
        """How many archive pages the list has."""
        return max(0, len(self.entries) // self.size - 1)

    def name(self, number: int | None) -> str:
        """The file name of archive page ``number`` (None: the first page)."""
        return self.first if number is None else f"{self.stem}{number}.html"

    def entries_on(self, number: int | None) -> list[Entry]:
        """The items of archive page ``number`` (None: the first page), newest first."""
        count = len(self.entries)
        if number is None:
            return self.entries[:count - self.archived * self.size]
        end = count - (number - 1) * self.size
        return self.entries[end - self.size:end]

    def pager(self, number: int | None) -> _Pager:
        """The navigation of page ``number``: newer, older, the first and oldest pages and two on each side."""
        sequence: list[int | None] = [None, *range(self.archived, 0, -1)]  # newest to oldest
        here = sequence.index(number)
        shown = sorted({0, len(sequence) - 1, *range(max(0, here - 2), min(len(sequence), here + 3))})
        links: list[tuple[int | None, str | None] | None] = []
        for before, position in zip([-1, *shown], shown):
            if before >= 0 and position > before + 1:
                links.append(None)
            links.append((sequence[position], None if position == here else self.name(sequence[position])))
        return _Pager(
            newer=self.name(sequence[here - 1]) if here > 0 else None,
            older=self.name(sequence[here + 1]) if here + 1 < len(sequence) else None,
            links=tuple(links) if len(sequence) > 1 else (),
        )


@dataclass(frozen=True)
class _Section:
    """One page of a paged list as a template shows it (its items read from the store when it is rendered)."""

    title: str
    entries: list[Entry]
    pager: _Pager
    load: Callable[[list[Entry]], list[ListedItem]]

    def parts(self) -> tuple[str, ...]:
        """What the section shows, for a page's fingerprint."""
        return (self.title, repr(self.pager), *(entry.digest for entry in self.entries))

    @functools.cached_property
    def views(self) -> list[ListedItem]:
        """What the section shows of its items, newest first."""
        return self.load(self.entries)


class _Output:
    """The files of one publication, written as they are made: what was written, kept, and each page's fingerprint.

    A page whose fingerprint is the one the previous publication recorded is neither rendered nor read again.
    """

    def __init__(self, site_dir: Path, previous: dict[str, str]) -> None:
        self.site_dir = site_dir
        self.previous = previous
        #: Every file of this publication, with its page's fingerprint ('' for files compared by their bytes).
        self.made: dict[str, str] = {}
        self.written: list[str] = []
        self.unchanged: list[str] = []

    def kept(self, path: str, fingerprint: str) -> bool:
        """Record ``path``'s fingerprint; True (and the page counted unchanged) if the page on disk is made of it."""
        previous = self.previous.get(path)
        if previous == fingerprint:
            self.made[path] = previous  # the same string: one copy in memory
            self.unchanged.append(path)
            return True
        self.made[path] = fingerprint
        return False

    def write(self, path: str, content: bytes) -> None:
        """Make ``path`` hold ``content`` (rewritten only if its bytes change)."""
        self.wrote(path, _write_if_changed(self.site_dir / path, content))

    def wrote(self, path: str, changed: bool) -> None:
        """Record ``path`` as made (``changed``: its bytes changed), compared by its bytes."""
        self.made.setdefault(path, "")
        (self.written if changed else self.unchanged).append(path)


@dataclass
class _Site:
    """Everything the list pages of every language are made from: the items' entries (newest first) and the store."""

    context: SiteContext
    reports: dict[str, list[str]]
    page_size: int
    output: _Output
    store: Store
    #: The partners' profiles, by name.
    profiles: dict[str, PartnerProfile] = field(init=False)
    #: The items the lists show, newest first (see `list_items`).
    entries: list[Entry] = field(init=False, default_factory=list)
    by_kind: dict[str, list[Entry]] = field(init=False, default_factory=dict)
    countries: dict[str, dict[str, list]] = field(init=False, default_factory=dict)
    industries: dict[str, dict[str, list]] = field(init=False, default_factory=dict)
    #: The digest of what every page is made of: templates, catalogs, the site's address, the report links.
    shared: hashlib._Hash = field(init=False)

    def fingerprint(self, language: str, path: str, *parts: str) -> str:
        """What a page is made of: the templates and catalogs, the site's address, the report links, its
        language and path, and ``parts``."""
        digest = self.shared.copy()
        digest.update("\0".join((language, path, *parts)).encode())
        return digest.hexdigest()

    @property
    def base_url(self) -> str:
        """The site's public address, ending in a slash."""
        return self.context.site_url.rstrip("/") + "/"

    def paged(self, folder: str, first: str, stem: str, entries: list[Entry]) -> _Paged:
        """``entries`` on pages of this site's size."""
        return _Paged(folder, first, stem, entries, self.page_size)

    def __post_init__(self) -> None:
        shared = (_TEMPLATES_DIGEST, self.base_url, json.dumps(self.reports, sort_keys=True))
        self.shared = hashlib.sha256("\0".join(shared).encode())
        self.profiles = {profile.name: profile for profile in self.context.partners}

    def views(self, entries: list[Entry]) -> list[ItemView]:
        """The stored items of ``entries``, in their order."""
        items = {item.engagement_id: item for item in self.store.items(entry.engagement_id for entry in entries)}
        return [ItemView.of(items[entry.engagement_id], self.profiles, entry.digest) for entry in entries]

    def listed(self, entries: list[Entry]) -> list[ListedItem]:
        """What the lists show of the stored items of ``entries``, in their order."""
        shown = {item.engagement_id: item for item in self.store.listed(entry.engagement_id for entry in entries)}
        return [shown[entry.engagement_id] for entry in entries]

    def list_items(self, entries: list[Entry]) -> None:
        """Sort ``entries`` into the lists: by kind, and by country and industry with the partners of each."""
        self.entries = sorted(entries, key=lambda entry: entry.age, reverse=True)
        self.by_kind = {kind: [] for kind in KINDS}
        for entry in self.entries:
            self.by_kind[entry.kind].append(entry)
        self.countries = defaultdict(lambda: {"dialogues": [], "partners": [], "items": []})
        self.industries = defaultdict(lambda: {"partners": [], "items": []})
        named: set[tuple[str, str, str]] = set()  # (table, key, partner name): each partner listed once
        for item in self.entries:
            placed: set[tuple[str, str]] = set()  # (table, key): each item listed once
            if item.country:
                country = self.countries[item.country]
                (country["dialogues"] if item.kind == "national_dialogue" else country["items"]).append(item)
                placed.add(("country", item.country))
            for profile in filter(None, map(self.profiles.get, item.partners)):
                for name, key, table in (("country", profile.country, self.countries),
                                         ("industry", profile.industry, self.industries)):
                    if not key:
                        continue
                    entry = table[key]
                    if (name, key, profile.name) not in named:
                        named.add((name, key, profile.name))
                        entry["partners"].append(profile)
                    if (name, key) not in placed:
                        placed.add((name, key))
                        entry["items"].append(item)
        for table in (self.countries, self.industries):
            for entry in table.values():
                entry["partners"].sort(key=lambda profile: profile.name.casefold())

    def render(self, language: str, path: str, template: str, **context: object) -> bytes:
        """``template`` rendered as the page ``path`` of ``language``."""
        depth = path.count("/") + (1 if language != "en" else 0)
        return _ENVIRONMENTS[language].get_template(template).render(
            here=path, root="../" * depth, home="../" * depth + prefix(language), reports=self.reports,
            site_url=self.base_url, **context
        ).encode("utf-8")

    def page(self, language: str, path: str, template: str, made_of: tuple[str, ...] | None = None,
             **context: object) -> None:
        """Write ``template`` as ``path``, unless the page is already made of the same ``made_of`` (fingerprint)."""
        full = prefix(language) + path
        if made_of is not None and self.output.kept(full, self.fingerprint(language, path, *made_of)):
            return
        self.output.write(full, self.render(language, path, template, **context))

    def item_pages(self, entry: Entry) -> dict[str, tuple[str, bool]]:
        """The item's page in every language, by path: (fingerprint, whether the page on disk is made of it)."""
        pages: dict[str, tuple[str, bool]] = {}
        path = f"{entry.kind}/{entry.engagement_id}.html"
        for language in LANGUAGES:
            fingerprint = self.fingerprint(language, path, entry.digest)
            full = prefix(language) + path
            pages[full] = (fingerprint, self.output.previous.get(full) == fingerprint)
        return pages

    def lists(self, language: str, latest: list[ItemView]) -> None:
        """Every list page of ``language`` (by kind, country, industry), its home, search page and feeds.

        ``latest``: the newest items, whole (the feeds show their content), newest first.
        """
        gettext = translations(language).gettext
        page = functools.partial(self.page, language)

        def first_page(paged: _Paged, title: str) -> _Section:
            """The first page of ``paged`` as its section; writes its archive pages."""
            for number in range(1, paged.archived + 1):
                path = paged.folder + paged.name(number)
                section = _Section(title, paged.entries_on(number), paged.pager(number), self.listed)
                page(path, "archive.html", section.parts(), number=number, section=section)
            return _Section(title, paged.entries_on(None), paged.pager(None), self.listed)

        def partners(entry: dict[str, list]) -> tuple[str, ...]:
            return tuple(profile.model_dump_json() for profile in entry["partners"])

        for kind in KINDS:
            listed = first_page(self.paged(f"{kind}/", "index.html", "page-", self.by_kind[kind]), gettext(KIND_TITLES[kind]))
            page(f"{kind}/index.html", "kind_index.html", listed.parts(), section=listed)
        countries = sorted(self.countries, key=lambda code: country_name(code, language))
        page("countries/index.html", "countries.html", countries=countries, table=self.countries)
        for code in countries:
            entry, name, stem = self.countries[code], country_name(code, language), code.lower()
            dialogues = first_page(self.paged("countries/", f"{stem}.html", f"{stem}-dialogues-page-", entry["dialogues"]),
                                   gettext("National dialogues: %(country)s") % {"country": name})
            others = first_page(self.paged("countries/", f"{stem}.html", f"{stem}-engagements-page-", entry["items"]),
                                gettext("Other engagements: %(country)s") % {"country": name})
            page(f"countries/{stem}.html", "country.html", (*dialogues.parts(), *others.parts(), *partners(entry)),
                 code=code, entry=entry, dialogues=dialogues, others=others)
        shown = [*PRIORITY_INDUSTRIES, *FUTURE_INDUSTRIES]
        shown += sorted(industry for industry in self.industries if industry not in shown)
        page("industries/index.html", "industries.html", industries=shown, table=self.industries)
        for industry in shown:
            entry = self.industries.get(industry, {"partners": [], "items": []})
            label = gettext(INDUSTRY_LABELS.get(industry, industry))
            listed = first_page(self.paged("industries/", f"{industry}.html", f"{industry}-page-", entry["items"]),
                                gettext("Engagements: %(industry)s") % {"industry": label})
            page(f"industries/{industry}.html", "industry.html", (*listed.parts(), *partners(entry)),
                 industry=industry, entry=entry, section=listed)
        windows = {window.kind: window for window in self.context.windows}
        page("index.html", "home.html", views=latest[:HOME_LATEST], counts={k: len(v) for k, v in self.by_kind.items()},
             windows=windows, forms=SUBMISSION_FORMS, portal=self.context.portal_url.rstrip("/"), today=self.context.today)
        page("search.html", "search.html")
        title = gettext(SITE_TITLE)
        self.output.write(prefix(language) + "feed.json", json_feed(
            latest, title=title, language=language, base=self.base_url + prefix(language),
            kind_titles={kind: gettext(kind_title) for kind, kind_title in KIND_TITLES.items()},
        ))
        self.output.write(prefix(language) + "atom.xml", atom_feed(
            latest, title=title, language=language, base=self.base_url + prefix(language)))


class _SearchIndex:
    """The search index of one language, one document a line, made as the items come without holding
    their documents: each is written to a scratch file, or, for an item whose page did not change, read
    from the previous index at the end; the index is written as it is read."""

    _START = b"window.ENGAGE_SEARCH_INDEX = [\n"

    def __init__(self, language: str, path: Path) -> None:
        self.language = language
        self.path = path
        #: Where the previous index holds each item's document, in its order.
        self.indexed = _documents(path)
        self.scratch = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `write`
        #: Where each item's document is in the scratch file (None: in the previous index).
        self.places: dict[int, tuple[int, int] | None] = {}

    def keep(self, engagement_id: int) -> bool:
        """Keep the item's previous document, if the index has one (True) for an item whose page did not change."""
        if engagement_id in self.indexed:
            self.places[engagement_id] = None
            return True
        return False

    def add(self, view: ItemView) -> None:
        """Index ``view``."""
        document = _search_document(view, self.language).encode("ascii")
        self.places[view.item.engagement_id] = (self.scratch.tell(), len(document))
        self.scratch.write(document)

    def write(self, order: list[Entry]) -> bool:
        """Write the index, its documents in the order of ``order``; whether its bytes changed (not even read
        when it is the previous index)."""
        with self.scratch, ExitStack() as stack:
            if not any(self.places.values()) and list(self.indexed) == [entry.engagement_id for entry in order]:
                return False
            previous = stack.enter_context(open(self.path, "rb")) if None in self.places.values() else None

            def chunks() -> Iterator[bytes]:
                # A script, not a .json file, so that the search also works on pages opened from disk (file://).
                yield self._START
                for number, entry in enumerate(order):
                    place = self.places[entry.engagement_id]
                    source, (offset, length) = (self.scratch, place) if place else (previous, self.indexed[entry.engagement_id])
                    source.seek(offset)
                    yield (b",\n" if number else b"") + source.read(length)
                yield b"\n];\n" if order else b"];\n"

            return _write_stream_if_changed(self.path, chunks())


def _documents(index: Path) -> dict[int, tuple[int, int]]:
    """Where a search index written by `_SearchIndex` holds each document: (offset, length) by engagement id,
    in the index's order (read a line at a time)."""
    places: dict[int, tuple[int, int]] = {}
    try:
        with open(index, "rb") as lines:
            offset = 0
            for line in lines:
                if line.startswith(b'{"id":'):
                    places[int(line[6:line.index(b",")])] = (offset, len(line.rstrip(b",\n")))
                offset += len(line)
    except FileNotFoundError:
        pass
    return places


def _search_document(view: ItemView, language: str) -> str:
    """One item's search document, as one line of JSON with no markup, even inside strings."""
    gettext = translations(language).gettext
    document = {
        "id": view.item.engagement_id, "url": view.item.path, "title": view.item.title,
        "kind": gettext(KIND_TITLES[view.item.kind]), "partners": " ".join(view.item.partners),
        "country": country_name(view.item.country, language) if view.item.country else "",
        "text": view.search_text(language),
    }
    line = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    return line.replace("<", "\\u003c").replace(">", "\\u003e")


def _report_files(site_dir: Path) -> dict[str, list[str]]:
    """The final report's files already in the site, by language (written by ``report``)."""
    found: dict[str, list[str]] = {}
    for language in LANGUAGES:
        names = [f"{REPORT_FOLDER}/report-{language}.{ext}" for ext in ("html", "pdf")]
        present = [name for name in names if (site_dir / name).is_file()]
        if present:
            found[language] = present
    return found


def _write_if_changed(path: Path, content: bytes) -> bool:
    """Atomically replace `path` with `content` unless it already holds exactly these bytes.

    A new file is written in place (no page links to it before `publish` writes the pages that do).
    Not synced to disk here: `publish` syncs once, before its manifest names the files.
    """
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        try:
            new = open(path, "xb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            new = open(path, "xb")  # noqa: SIM115
        with new:
            new.write(content)
        os.chmod(path, 0o644)
        return True
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a web server must be able to read the page
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _write_stream_if_changed(path: Path, chunks: Iterable[bytes]) -> bool:
    """`_write_if_changed` for content made as it is written, never held whole: compared once written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.writelines(chunks)
        if _same_bytes(Path(temporary), path):
            os.unlink(temporary)
            return False
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _same_bytes(first: Path, second: Path) -> bool:
    """Whether two files hold the same bytes (False if ``second`` is missing), read a MiB at a time."""
    try:
        with open(first, "rb") as one, open(second, "rb") as other:
            while True:
                block = one.read(1 << 20)
                if block != other.read(1 << 20):
                    return False
                if not block:
                    return True
    except FileNotFoundError:
        return False


def _sync(paths: list[Path]) -> None:
    """Flush ``paths`` to disk: one by one when they are few, else every file system at once (cheaper than
    thousands of journal commits)."""
    if len(paths) > SYNC_ONE_BY_ONE:
        os.sync()
        return
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _present_files(site_dir: Path) -> set[str]:
    """The files now in ``site_dir``, by path relative to it (one directory listing per folder, no stat per file)."""
    found: set[str] = set()
    for folder, _, names in os.walk(site_dir):
        relative = Path(folder).relative_to(site_dir).as_posix()
        found.update(names if relative == "." else (f"{relative}/{name}" for name in names))
    return found


def _previous_files(site_dir: Path) -> dict[str, str]:
    """The files the last `publish` wrote (the only files we ever delete), with the pages' fingerprints."""
    try:
        manifest = json.loads((site_dir / MANIFEST).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(path): str(fingerprint) for path, fingerprint in manifest.items()} if isinstance(manifest, dict) else {}


def _minisearch_assets() -> dict[str, bytes]:
    """MiniSearch's script and licence as the site publishes them; FileNotFoundError naming the fix if missing."""
    try:
        return {f"assets/{name}": (MINISEARCH / source).read_bytes() for name, source in _MINISEARCH_FILES.items()}
    except FileNotFoundError:
        raise FileNotFoundError(f"MiniSearch (the site's search) is not installed in {MINISEARCH}: "
                                "run `make assets`") from None


def publish(site_dir: Path, items: Iterable[PublishedItem | ItemSource], context: SiteContext | None = None, *,
            page_size: int = INDEX_PAGE_SIZE) -> SiteReport:
    """Make the site hold exactly `items`, in every language.

    ``items``: the items, or their sources (`ItemSource`: an item whose stamp is the one the site's
    store recorded is not even made). Writes or refreshes each item's pages as the items come (``items``
    may be a stream read from the database page by page: only each item's `Entry` is kept; the items
    go to the store, `website.store`), then the per-kind, per-country and per-industry pages (their
    lists on pages of ``page_size`` items, see `_Paged`), the home pages, search indexes, feeds and the
    sitemap, then removes the files of the previous publication that are no longer produced (withdrawn
    items, fewer pages). Idempotent: a file whose bytes would not change is not rewritten, and item and
    list pages whose inputs did not change are not even rendered. An item that cannot be made or
    rendered is left off every page and reported in ``SiteReport.skipped``. Raises ValueError if two
    items share an engagement id (before touching the folder when ``items`` is a list) or, before
    touching it, if ``page_size`` is not positive; FileNotFoundError, before touching it too, if
    MiniSearch is not installed.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    if isinstance(items, list):
        _refuse_duplicates(Counter(item.engagement_id for item in items))
    site_dir = Path(site_dir)
    context = context or SiteContext()
    assets: dict[str, bytes] = {f"assets/{path.name}": path.read_bytes() for path in sorted(_STATIC.iterdir())}
    assets |= _minisearch_assets()
    site_dir.mkdir(parents=True, exist_ok=True)
    store = Store(site_dir, context.partners)  # waits for another publication of the site to end
    try:
        previous = _previous_files(site_dir)
        # A cached page counts only if its file is still there.
        present = _present_files(site_dir)
        previous = {path: fingerprint for path, fingerprint in previous.items() if not fingerprint or path in present}
        del present
        return _publish(site_dir, items, _Site(context, _report_files(site_dir), page_size, _Output(site_dir, previous), store),
                        assets)
    finally:
        store.close()


def _publish(site_dir: Path, items: Iterable[PublishedItem | ItemSource], site: _Site, assets: dict[str, bytes]) -> SiteReport:
    """`publish`'s work, once the site's folder, previous files and store are known."""
    output, store = site.output, site.store
    for name, content in assets.items():
        output.write(name, content)
    indexes = {language: _SearchIndex(language, site_dir / prefix(language) / "search-index.js") for language in LANGUAGES}
    stored = store.stamps()  # what is left at the end is no longer on the site
    entries: list[Entry] = []
    seen: set[int] = set()
    skipped: list[SkippedItem] = []
    # Items first, then lists and feeds: no list links to a missing page.
    for source in items:
        engagement_id = source.engagement_id
        if engagement_id in seen:
            _refuse_duplicates(Counter([engagement_id, engagement_id]))
        seen.add(engagement_id)
        known = stored.pop(engagement_id, None)
        try:
            entry, view = _entry(source, known, site)
            pages = site.item_pages(entry)
            # An item whose pages are current keeps its search documents, where the indexes have them.
            current = all(fresh for _, fresh in pages.values())
            missing = [index for index in indexes.values() if not (current and index.keep(engagement_id))]
            contents: dict[str, bytes] = {}
            if missing or not current:
                view = view or site.views([entry])[0]
                contents = {path: site.render(language, view.item.path, "item.html", view=view)
                            for language, (path, (_, fresh)) in zip(LANGUAGES, pages.items()) if not fresh}
                for index in missing:
                    index.add(view)
        except Exception as error:  # noqa: BLE001 - one item that cannot be rendered must not stop the site
            skipped.append(SkippedItem(engagement_id, failure_reason(error)))
            store.forget([engagement_id])
            continue
        for path, (fingerprint, _) in pages.items():
            if not output.kept(path, fingerprint):
                output.write(path, contents[path])
        entries.append(entry)
    del seen
    store.forget(stored)
    del stored

    site.list_items(entries)
    del entries
    latest = site.views(site.entries[:FEED_LATEST])
    for language in LANGUAGES:  # each search index before the search page that loads it
        output.wrote(prefix(language) + "search-index.js", indexes.pop(language).write(site.entries))
        site.lists(language, latest)
    pages = sorted(name for name in output.made if name.endswith(".html"))
    pages += [name for names in site.reports.values() for name in names if name.endswith(".html")]
    if not output.kept("sitemap.xml", site.fingerprint("", "sitemap.xml", *pages)):
        output.write("sitemap.xml", sitemap(pages, [], base=site.base_url))

    removed = sorted(output.previous.keys() - output.made.keys())
    for relative in removed:
        (site_dir / relative).unlink(missing_ok=True)
    _sync([site_dir / name for name in output.written])  # on disk before the manifest says what they are made of
    store.commit()
    if output.made != output.previous or not (site_dir / MANIFEST).is_file():
        manifest = {path: output.made[path] for path in sorted(output.made)}
        _write_if_changed(site_dir / MANIFEST, (json.dumps(manifest, indent=0) + "\n").encode("utf-8"))

    return SiteReport(
        pages_written=sorted(output.written),
        pages_unchanged=sorted(output.unchanged),
        pages_removed=removed,
        index_path=site_dir / "index.html",
        items=len(site.entries),
        skipped=sorted(skipped),
    )


def _entry(source: PublishedItem | ItemSource, known: tuple[str, Entry] | None, site: _Site) -> tuple[Entry, ItemView | None]:
    """The item's entry, and the item if it had to be made: a source whose stamp is ``known`` is not made."""
    if isinstance(source, ItemSource) and known and known[0] == source.stamp:
        return known[1], None
    view = ItemView.of(source.make() if isinstance(source, ItemSource) else source, site.profiles)
    stamp = source.stamp if isinstance(source, ItemSource) else view.digest
    return (known[1] if known and known[0] == stamp else site.store.put(stamp, view)), view


def _refuse_duplicates(counts: Counter[int]) -> None:
    """ValueError naming the engagement ids counted more than once."""
    duplicates = sorted(engagement_id for engagement_id, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"engagement ids given more than once: {duplicates}")
