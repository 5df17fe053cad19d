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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from heapq import merge
from itertools import groupby, islice
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from website.feeds import atom_feed, json_feed, sitemap
from website.i18n import LANGUAGE_NAMES, LANGUAGES, LOCALE_DIR, N_, country_name, long_date, translations
from website.store import CHUNK, Entry, Listed, Store
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
#: Where the earlier renderer listed the files it made (now in the site's store): read once, then removed.
OLD_MANIFEST = ".engage-site.json"
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
    """The list ``key`` of the site's store (``count`` items, newest first) on pages of ``size``, so that a
    new item changes O(1) pages.

    The first page (``folder + first``) shows the newest items; the older ones fill archive pages
    numbered from the oldest (``folder + stem + number + ".html"``), each exactly ``size`` items. A
    new item changes the first page only, until the first page holds ``2 * size``: then its oldest
    ``size`` items become the next archive page, and the archive page before it gets a newer page.
    An archive page links to the pages older than it, not to the newer ones (but its neighbour):
    no other page changes.
    """

    folder: str
    first: str
    stem: str
    key: str
    count: int
    size: int

    def __len__(self) -> int:
        return self.count

    @property
    def archived(self) -> int:
        """How many archive pages the list has."""
        return max(0, self.count // self.size - 1)

    def name(self, number: int | None) -> str:
        """The file name of archive page ``number`` (None: the first page)."""
        return self.first if number is None else f"{self.stem}{number}.html"

    @property
    def newest(self) -> int:
        """How many items the first page holds."""
        return self.count - self.archived * self.size

    def pager(self, number: int | None) -> _Pager:
        """The navigation of page ``number``: newer, older, the first and oldest pages and two older ones
        (on the first page, two on each side)."""
        sequence: list[int | None] = [None, *range(self.archived, 0, -1)]  # newest to oldest
        here = sequence.index(number)
        nearest = max(0, here - 2) if number is None else here  # no newer number on an archive page
        shown = sorted({0, len(sequence) - 1, *range(nearest, min(len(sequence), here + 3))})
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
class _Shown:
    """One page of a paged list, the same in every language: its items (newest first) and navigation;
    what it shows of its items is read from the store when a language's page is first rendered."""

    entries: list[Listed]
    pager: _Pager
    load: Callable[[list[Listed]], list[ListedItem]]

    @functools.cached_property
    def views(self) -> list[ListedItem]:
        """What the page shows of its items, newest first."""
        return self.load(self.entries)


@dataclass(frozen=True)
class _Section:
    """One page of a paged list as a template shows it in one language."""

    title: str
    shown: _Shown

    @property
    def pager(self) -> _Pager:
        return self.shown.pager

    @property
    def views(self) -> list[ListedItem]:
        return self.shown.views

    def parts(self) -> tuple[str, ...]:
        """What the section shows, for a page's fingerprint."""
        return (self.title, repr(self.pager), *(digest for _, digest in self.shown.entries))


class _Output:
    """The files of one publication, written as they are made: each file, its page's fingerprint and whether it
    was written are recorded in the store.

    A page whose fingerprint is the one the previous publication recorded is neither rendered nor read again.
    """

    def __init__(self, site_dir: Path, store: Store) -> None:
        self.site_dir = site_dir
        self.store = store

    def previous(self, paths: list[str]) -> dict[str, str]:
        """The fingerprints the previous publication recorded for the pages of ``paths`` still in the folder."""
        folder = str(self.site_dir)
        return {path: fingerprint for path, fingerprint in self.store.fingerprints(paths).items()
                if os.path.exists(os.path.join(folder, path))}

    def kept(self, path: str, fingerprint: str, previous: str | None) -> bool:
        """True (the page recorded and counted unchanged) if the page on disk is made of ``fingerprint``
        (``previous``: the fingerprint the previous publication recorded, if the page is still there)."""
        if previous != fingerprint:
            return False
        self.store.make(path, fingerprint, False)
        return True

    def write(self, path: str, content: bytes, fingerprint: str = "") -> None:
        """Make ``path`` hold ``content`` (rewritten only if its bytes change), made of ``fingerprint``."""
        self.wrote(path, _write_if_changed(self.site_dir / path, content), fingerprint)

    def wrote(self, path: str, changed: bool, fingerprint: str = "") -> None:
        """Record ``path`` as made of ``fingerprint`` ('': compared by its bytes); ``changed``: its bytes changed."""
        self.store.make(path, fingerprint, changed)


@dataclass
class _Site:
    """What the pages of every language are made from: the site's context, its store and where it writes."""

    context: SiteContext
    reports: dict[str, list[str]]
    page_size: int
    output: _Output
    store: Store
    #: The partners' profiles, by name.
    profiles: dict[str, PartnerProfile] = field(init=False)
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

    def __post_init__(self) -> None:
        shared = (_TEMPLATES_DIGEST, self.base_url, json.dumps(self.reports, sort_keys=True))
        self.shared = hashlib.sha256("\0".join(shared).encode())
        self.profiles = {profile.name: profile for profile in self.context.partners}

    def views(self, entries: list[Listed]) -> list[ItemView]:
        """The stored items of ``entries``, in their order."""
        items = {item.engagement_id: item for item in self.store.items(engagement_id for engagement_id, _ in entries)}
        return [ItemView.of(items[engagement_id], self.profiles, digest) for engagement_id, digest in entries]

    def listed(self, entries: list[Listed]) -> list[ListedItem]:
        """What the lists show of the stored items of ``entries``, in their order."""
        shown = {item.engagement_id: item for item in self.store.listed(engagement_id for engagement_id, _ in entries)}
        return [shown[engagement_id] for engagement_id, _ in entries]

    def place(self, item: Entry) -> list[str]:
        """The lists ``item`` is on: its kind's, its country's, and those of its partners' countries and industries."""
        lists = [f"kind/{item.kind}"]
        placed: set[tuple[str, str]] = set()  # (table, key): each item listed once
        if item.country:
            lists.append(f"country/{item.country}/{'dialogues' if item.kind == 'national_dialogue' else 'items'}")
            placed.add(("country", item.country))
        for profile in filter(None, map(self.profiles.get, item.partners)):
            for name, key in (("country", profile.country), ("industry", profile.industry)):
                if key and (name, key) not in placed:
                    placed.add((name, key))
                    lists.append(f"{name}/{key}/items")
        return lists

    def partners(self) -> tuple[dict[str, dict[str, PartnerProfile]], dict[str, dict[str, PartnerProfile]]]:
        """The countries and industries of the site's items, each with the partners of its items, by name."""
        countries: dict[str, dict[str, PartnerProfile]] = {code: {} for code in self.store.countries()}
        industries: dict[str, dict[str, PartnerProfile]] = {}
        for profile in filter(None, map(self.profiles.get, self.store.partners())):
            for key, table in ((profile.country, countries), (profile.industry, industries)):
                if key:
                    table.setdefault(key, {})[profile.name] = profile
        return countries, industries

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
        fingerprint = "" if made_of is None else self.fingerprint(language, path, *made_of)
        if made_of is not None and self.output.kept(full, fingerprint, self.output.previous([full]).get(full)):
            return
        self.output.write(full, self.render(language, path, template, **context), fingerprint)

    def list_pages(self, latest: list[ItemView]) -> None:
        """Every list page (by kind, country, industry), home, search page and feeds, in every language; each
        page of a list is read from the store once for its three languages.

        ``latest``: the newest items, whole (the feeds show their content), newest first.
        """
        lengths = self.store.lengths()
        partnered_countries, partnered_industries = self.partners()

        def paged(folder: str, first: str, stem: str, key: str) -> _Paged:
            return _Paged(folder, first, stem, key, lengths.get(key, 0), self.page_size)

        def first_page(paged: _Paged, title: Callable[[str], str]) -> dict[str, _Section]:
            """The first page of ``paged`` as its section in every language; writes its archive pages (the list
            read once, a page at a time)."""
            entries = self.store.listing(paged.key)
            newest = _Shown(list(islice(entries, paged.newest)), paged.pager(None), self.listed)
            for number in range(paged.archived, 0, -1):
                archive = _Shown(list(islice(entries, paged.size)), paged.pager(number), self.listed)
                for language in LANGUAGES:
                    section = _Section(title(language), archive)
                    self.page(language, paged.folder + paged.name(number), "archive.html", section.parts(),
                              number=number, section=section)
            return {language: _Section(title(language), newest) for language in LANGUAGES}

        def partners(profiles: dict[str, PartnerProfile]) -> list[PartnerProfile]:
            return sorted(profiles.values(), key=lambda profile: (profile.name.casefold(), profile.name))

        by_kind = {kind: paged(f"{kind}/", "index.html", "page-", f"kind/{kind}") for kind in KINDS}
        for kind, kind_list in by_kind.items():
            listed = first_page(kind_list, lambda language: translations(language).gettext(KIND_TITLES[kind]))
            for language, section in listed.items():
                self.page(language, f"{kind}/index.html", "kind_index.html", section.parts(), section=section)

        countries = {code: {"dialogues": paged("countries/", f"{code.lower()}.html", f"{code.lower()}-dialogues-page-",
                                               f"country/{code}/dialogues"),
                            "items": paged("countries/", f"{code.lower()}.html", f"{code.lower()}-engagements-page-",
                                           f"country/{code}/items"),
                            "partners": partners(partnered_countries[code])} for code in sorted(partnered_countries)}
        for language in LANGUAGES:
            self.page(language, "countries/index.html", "countries.html", table=countries,
                      countries=sorted(countries, key=lambda code: country_name(code, language)))
        for code, entry in countries.items():
            dialogues = first_page(entry["dialogues"], lambda language: translations(language).gettext(
                "National dialogues: %(country)s") % {"country": country_name(code, language)})
            others = first_page(entry["items"], lambda language: translations(language).gettext(
                "Other engagements: %(country)s") % {"country": country_name(code, language)})
            made_of = tuple(profile.model_dump_json() for profile in entry["partners"])
            for language in LANGUAGES:
                self.page(language, f"countries/{code.lower()}.html", "country.html",
                          (*dialogues[language].parts(), *others[language].parts(), *made_of),
                          code=code, entry=entry, dialogues=dialogues[language], others=others[language])

        shown_industries = [*PRIORITY_INDUSTRIES, *FUTURE_INDUSTRIES]
        shown_industries += sorted(industry for industry in partnered_industries if industry not in shown_industries)
        industries = {industry: {"partners": partners(partnered_industries.get(industry, {})),
                                 "items": paged("industries/", f"{industry}.html", f"{industry}-page-",
                                                f"industry/{industry}/items")} for industry in shown_industries}
        for language in LANGUAGES:
            self.page(language, "industries/index.html", "industries.html", industries=shown_industries, table=industries)
        for industry, entry in industries.items():
            listed = first_page(entry["items"], lambda language: translations(language).gettext(
                "Engagements: %(industry)s") % {"industry": translations(language).gettext(INDUSTRY_LABELS.get(industry, industry))})
            made_of = tuple(profile.model_dump_json() for profile in entry["partners"])
            for language in LANGUAGES:
                self.page(language, f"industries/{industry}.html", "industry.html", (*listed[language].parts(), *made_of),
                          industry=industry, entry=entry, section=listed[language])

        windows = {window.kind: window for window in self.context.windows}
        for language in LANGUAGES:
            self.page(language, "index.html", "home.html", views=latest[:HOME_LATEST],
                      counts={kind: len(kind_list) for kind, kind_list in by_kind.items()}, windows=windows,
                      forms=SUBMISSION_FORMS, portal=self.context.portal_url.rstrip("/"), today=self.context.today)
            self.page(language, "search.html", "search.html")
            title = translations(language).gettext(SITE_TITLE)
            self.output.write(prefix(language) + "feed.json", json_feed(
                latest, title=title, language=language, base=self.base_url + prefix(language),
                kind_titles={kind: translations(language).gettext(kind_title) for kind, kind_title in KIND_TITLES.items()},
            ))
            self.output.write(prefix(language) + "atom.xml", atom_feed(
                latest, title=title, language=language, base=self.base_url + prefix(language)))


#: The search index of a language: a script, not a .json file, so that the search also works on pages
#: opened from disk (file://); one document a line.
_INDEX_START, _INDEX_END = b"window.ENGAGE_SEARCH_INDEX = [\n", b"\n];\n"


def _search_index(documents: Iterator[bytes]) -> Iterator[bytes]:
    """The search index of ``documents`` (the items' in the lists' order), made as it is written."""
    yield _INDEX_START
    first = next(documents, None)
    if first is None:
        yield b"];\n"
        return
    yield first
    for document in documents:
        yield b",\n" + document
    yield _INDEX_END


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


def _sync(site_dir: Path, names: list[str]) -> None:
    """Flush the files ``names`` of ``site_dir`` to disk: one by one when they are few, else every file system
    at once (cheaper than thousands of journal commits)."""
    if len(names) > SYNC_ONE_BY_ONE:
        os.sync()
        return
    for name in names:
        descriptor = os.open(site_dir / name, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _remove(path: Path) -> bool:
    """Remove the file ``path``; whether it was there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _old_manifest(path: Path) -> Iterator[tuple[str, str]]:
    """The files and fingerprints a manifest of the earlier renderer lists (one a line), read a line at a time."""
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    pair = json.loads("{" + line.strip().rstrip(",") + "}")
                except ValueError:
                    continue  # the braces around the object, or a damaged line
                yield from ((str(name), str(fingerprint)) for name, fingerprint in pair.items())
    except FileNotFoundError:
        return


def _unrecorded_files(site_dir: Path) -> Iterator[tuple[str, str]]:
    """The files in ``site_dir`` (but the final report's, written by ``report``), each to be compared by its bytes."""
    for folder, _, names in os.walk(site_dir):
        relative = Path(folder).relative_to(site_dir).as_posix()
        if relative == REPORT_FOLDER or relative.startswith(REPORT_FOLDER + "/"):
            continue
        yield from ((name if relative == "." else f"{relative}/{name}", "") for name in names)


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
    may be a stream read from the database page by page: nothing is kept of an item in memory; the
    items, their places in the lists and the files made go to the store, `website.store`), then the
    per-kind, per-country and per-industry pages (their lists on pages of ``page_size`` items, see
    `_Paged`), the home pages, search indexes, feeds and the sitemap, then removes the files of the
    previous publication that are no longer produced (withdrawn items, fewer pages). Idempotent: a file
    whose bytes would not change is not rewritten, and item and list pages whose inputs did not change
    are not even rendered. An item that cannot be made or rendered is left off every page and reported
    in ``SiteReport.skipped``. Raises ValueError if two items share an engagement id (before touching
    the folder when ``items`` is a list) or, before touching it, if ``page_size`` is not positive;
    FileNotFoundError, before touching it too, if MiniSearch is not installed.
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
        old_manifest = site_dir / OLD_MANIFEST
        if not store.recorded():  # the earlier renderer's site lists its files in its manifest; without one, a
            # site whose store was lost: every file in its folder but the report's is compared by its bytes, and
            # removed unless made again (no page of an item withdrawn meanwhile stays on the site)
            store.record(_old_manifest(old_manifest) if old_manifest.is_file() else _unrecorded_files(site_dir))
        report = _publish(site_dir, items, _Site(context, _report_files(site_dir), page_size, _Output(site_dir, store), store),
                          assets)
        old_manifest.unlink(missing_ok=True)  # once the store records what it listed
        return report
    finally:
        store.close()


def _publish(site_dir: Path, items: Iterable[PublishedItem | ItemSource], site: _Site, assets: dict[str, bytes]) -> SiteReport:
    """`publish`'s work, once the site's folder and store are known."""
    output, store = site.output, site.store
    for name, content in assets.items():
        output.write(name, content)
    # Items first, then lists and feeds: no list links to a missing page.
    skipped, indexed = _publish_items(items, site)
    indexed |= bool(store.forget_unseen() or skipped)  # items no longer on the site

    for language in LANGUAGES:  # each search index before the search page that loads it
        path = prefix(language) + "search-index.js"
        output.wrote(path, (indexed or not (site_dir / path).is_file()) and _write_stream_if_changed(
            site_dir / path, _search_index(store.documents(language))))
    site.list_pages(site.views(store.newest(FEED_LATEST)))
    reports = sorted(name for names in site.reports.values() for name in names if name.endswith(".html"))

    def pages() -> Iterator[str]:
        return (page for page, _ in groupby(merge(store.pages(), reports)))

    sitemap_digest = site.shared.copy()  # the pages' paths digested as they are read, not held
    for page in pages():
        sitemap_digest.update(f"{page}\0".encode())
    fingerprint = sitemap_digest.hexdigest()
    if not output.kept("sitemap.xml", fingerprint, output.previous(["sitemap.xml"]).get("sitemap.xml")):
        output.wrote("sitemap.xml", _write_stream_if_changed(site_dir / "sitemap.xml", sitemap(pages(), base=site.base_url)),
                     fingerprint)

    removed = [relative for relative in store.unmade() if _remove(site_dir / relative)]
    report = SiteReport(pages_written=store.made(True), pages_unchanged=store.made(False), pages_removed=removed,
                        index_path=site_dir / "index.html", items=store.count(), skipped=sorted(skipped))
    _sync(site_dir, report.pages_written)  # on disk before the store says what they are made of
    store.commit()
    return report


def _publish_items(items: Iterable[PublishedItem | ItemSource], site: _Site) -> tuple[list[SkippedItem], bool]:
    """Write or refresh the pages of ``items``, CHUNK items at a time (one query each for what the store knows of
    them and for their pages' fingerprints); those skipped, and whether the search indexes change."""
    output, store = site.output, site.store
    skipped: list[SkippedItem] = []
    indexed = False  # whether a search document was stored
    sources = iter(items)
    while chunk := list(islice(sources, CHUNK)):
        ids = [source.engagement_id for source in chunk]
        _refuse_duplicates(Counter(ids) + Counter(store.see(ids)))
        known = store.known(ids)
        made: dict[int, tuple[Entry, ItemView | None]] = {}
        for source in chunk:
            try:
                stored = known.get(source.engagement_id)
                made[source.engagement_id] = _entry(source, stored[:2] if stored else None, site)
            except Exception as error:  # noqa: BLE001 - one item that cannot be made must not stop the site
                skipped.append(SkippedItem(source.engagement_id, failure_reason(error)))
                store.forget(source.engagement_id)
        previous = output.previous([prefix(language) + _item_path(entry) for entry, _ in made.values()
                                       for language in LANGUAGES])
        for engagement_id, (entry, view) in made.items():
            try:
                pages = {prefix(language) + _item_path(entry): site.fingerprint(language, _item_path(entry), entry.digest)
                         for language in LANGUAGES}
                # An item whose pages are current keeps its search documents, where the store has them.
                current = all(fingerprint == previous.get(path) for path, fingerprint in pages.items())
                contents: dict[str, bytes] = {}
                if not current or known.get(engagement_id, (None, None, 0))[2] < len(LANGUAGES):
                    view = view or site.views([(engagement_id, entry.digest)])[0]
                    contents = {path: site.render(language, view.item.path, "item.html", view=view)
                                for language, (path, fingerprint) in zip(LANGUAGES, pages.items())
                                if fingerprint != previous.get(path)}
                    documents = {language: _search_document(view, language).encode("ascii") for language in LANGUAGES}
                    for language, document in documents.items():
                        store.index(engagement_id, language, document)
                    indexed = True
            except Exception as error:  # noqa: BLE001 - one item that cannot be rendered must not stop the site
                skipped.append(SkippedItem(engagement_id, failure_reason(error)))
                store.forget(engagement_id)
                continue
            for path, fingerprint in pages.items():
                if not output.kept(path, fingerprint, previous.get(path)):
                    output.write(path, contents[path], fingerprint)
    return skipped, indexed


def _item_path(entry: Entry) -> str:
    """The path of the item's page inside a language's folder."""
    return f"{entry.kind}/{entry.engagement_id}.html"


def _entry(source: PublishedItem | ItemSource, known: tuple[str, Entry] | None, site: _Site) -> tuple[Entry, ItemView | None]:
    """The item's entry, and the item if it had to be made: a source whose stamp is ``known`` is not made."""
    if isinstance(source, ItemSource) and known and known[0] == source.stamp:
        return known[1], None
    view = ItemView.of(source.make() if isinstance(source, ItemSource) else source, site.profiles)
    stamp = source.stamp if isinstance(source, ItemSource) else view.digest
    if known and known[0] == stamp:
        return known[1], view
    entry = Entry.of(view)
    site.store.put(stamp, view, entry, site.place(entry))
    return entry, view


def _refuse_duplicates(counts: Counter[int]) -> None:
    """ValueError naming the engagement ids counted more than once."""
    duplicates = sorted(engagement_id for engagement_id, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"engagement ids given more than once: {duplicates}")
