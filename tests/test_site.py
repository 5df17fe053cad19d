"""The published site and the final report from a year built through the domain, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import feedparser
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from report import publish_reports, write_report
from report.render import EVENT_LABELS, TOPIC_LABELS
from states.publication import publish_site
from states.workflow import apply_transition
from tests.prerequisites import require_poppler
from tests.report_year import Year, build_year
from tests.world import SECRETARIAT
from website.i18n import LOCALE_DIR
from website.render import DEFAULT_SITE_URL, INDEX_PAGE_SIZE, INDUSTRY_LABELS, KIND_TITLES, SITE_TITLE

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ROOT = Path(__file__).resolve().parent.parent


class _Links(HTMLParser):
    """Every href/src of a page, and its element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text("utf-8"))
    return parser


def _publish_recommendations(db, count: int) -> list[int]:  # noqa: ANN001 - the db fixture
    """``count`` more recommendations by Química Andina (Mexico, chemical), each published after the previous one."""
    year = Year(db).on("2024-03-04")
    published = []
    for _ in range(count):
        engagement = year.create({"kind": "recommendation", "title": "Shared precursor alerts",
                                  "details": {"topic": "policy", "text": "Share the alert list."},
                                  "participants": [{"organization": "Química Andina S.A.", "role": "partner"}]})
        year.fire(engagement, "submit", "start_review", "accept")
        apply_transition(db, engagement, "publish", SECRETARIAT)  # now: newer than anything published before
        published.append(engagement)
    return published


def _publish_everything(db, site: Path, *, more: int = 0, page_size: int = INDEX_PAGE_SIZE) -> dict[str, int]:  # noqa: ANN001
    ids = build_year(db)
    for key in ("rec:early", "ach:meta"):
        apply_transition(db, ids[key], "publish", SECRETARIAT)
    ids |= {f"rec:more{number}": engagement for number, engagement in enumerate(_publish_recommendations(db, more))}
    publish_reports(db, site, today=date(2025, 1, 20), formats=("html",))
    publish_site(db, site, portal="https://portal.example", today=date(2024, 5, 1), page_size=page_size)
    return ids


def _listed(page: Path, kind: str = "recommendation") -> list[int]:
    """The ids of the items of ``kind`` a page lists, in order."""
    items = page.read_text("utf-8").split('<ol class="items">', 1)[1].split("</ol>", 1)[0]
    return [int(number) for number in re.findall(rf'href="[./a-z]*{kind}/(\d+)\.html"', items)]


def test_every_link_of_every_page_resolves_and_the_sitemap_lists_every_page(db, tmp_path: Path) -> None:  # noqa: ANN001
    site = tmp_path / "site"
    _publish_everything(db, site, more=5, page_size=2)
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 60
    for prefix in ("", "es/", "fr/"):  # the lists of six and seven items on pages of two
        for name in ("recommendation/page-2.html", "countries/mx-engagements-page-2.html", "industries/chemical-page-2.html"):
            assert (site / prefix / name).is_file(), prefix + name
    for page in pages:
        parsed = _parse(page)
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            assert not parts.scheme and not link.startswith("/"), (page, link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.relative_to(site)} links to missing {link}"
            if parts.fragment:
                assert parts.fragment in _parse(target).ids, f"{page.relative_to(site)}: no #{parts.fragment}"
    listed = {loc.text for loc in ElementTree.parse(site / "sitemap.xml").getroot().iter(f"{SITEMAP}loc")}
    assert listed == {DEFAULT_SITE_URL + page.relative_to(site).as_posix() for page in pages}


def test_languages_countries_hreflang_and_the_take_part_section(db, tmp_path: Path) -> None:  # noqa: ANN001
    site = tmp_path / "site"
    ids = _publish_everything(db, site)
    mexico = {lang: (site / prefix / "countries/mx.html").read_text("utf-8")
              for lang, prefix in (("en", ""), ("es", "es"), ("fr", "fr"))}
    assert "<h1>Mexico</h1>" in mexico["en"] and "<h1>México</h1>" in mexico["es"] and "<h1>Mexique</h1>" in mexico["fr"]
    assert f"national_dialogue/{ids['dialogue:MX']}.html" in mexico["en"] and "Química Andina S.A." in mexico["en"]
    for text in mexico.values():
        for lang, href in (("en", "countries/mx.html"), ("es", "es/countries/mx.html"), ("fr", "fr/countries/mx.html")):
            assert f'<link rel="alternate" hreflang="{lang}" href="{DEFAULT_SITE_URL}{href}">' in text
    home = (site / "fr/index.html").read_text("utf-8")
    assert '<a href="https://portal.example/submit/recommendation">Envoyer une recommandation</a>' in home
    assert "Ouvert jusqu'au 30 septembre 2024." in home  # the window, in the page's language
    assert "report/report-fr.html" in home
    chemical = (site / "es/industries/chemical.html").read_text("utf-8")
    assert "<h1>Química</h1>" in chemical and "Química Andina S.A." in chemical and "(<a href=\"../../es/countries/mx.html\">México</a>)" in chemical
    dialogue = (site / f"national_dialogue/{ids['dialogue:MX']}.html").read_text("utf-8")
    assert "<dd>Mexico</dd>" in dialogue and "<dd>29 January 2024</dd>" in dialogue


def test_lists_are_paged_and_one_more_item_rewrites_only_the_pages_it_changes(db, tmp_path: Path) -> None:  # noqa: ANN001
    site = tmp_path / "site"
    ids = _publish_everything(db, site, more=5, page_size=2)
    more = [ids[f"rec:more{number}"] for number in range(5)]
    # Newest first; the first page holds what the full archive pages (numbered from the oldest) do not.
    assert _listed(site / "recommendation/index.html") == [more[4], more[3]]
    assert _listed(site / "fr/recommendation/page-2.html") == [more[2], more[1]]
    assert _listed(site / "es/recommendation/page-1.html") == [more[0], ids["rec:early"]]
    assert not (site / "recommendation/page-3.html").exists()
    assert _listed(site / "countries/mx-engagements-page-1.html") == [more[0], ids["rec:early"]]
    assert _listed(site / "industries/chemical.html", "national_dialogue") == []
    assert _listed(site / "industries/chemical-page-1.html", "national_dialogue") == [ids["dialogue:MX"]]
    page = (site / "es/recommendation/page-2.html").read_text("utf-8")
    assert "<h1>Recomendaciones, página 2</h1>" in page
    assert '<nav class="pager" aria-label="Páginas: Recomendaciones">' in page
    assert '<a href="index.html" rel="prev">Más recientes</a>' in page and '<a href="page-1.html" rel="next">Anteriores</a>' in page
    assert '<span aria-current="page">2</span>' in page
    assert f'<link rel="alternate" hreflang="fr" href="{DEFAULT_SITE_URL}fr/recommendation/page-2.html">' in page

    def publish_one_more() -> tuple[list[str], int]:
        past = 1_000_000_000  # any rewrite shows in the mtimes
        for path in site.rglob("*"):
            os.utime(path, (past, past))
        new = _publish_recommendations(db, 1)[0]
        written = publish_site(db, site, portal="https://portal.example", today=date(2024, 5, 1), page_size=2).pages_written
        touched = sorted(path.relative_to(site).as_posix() for path in site.rglob("*")
                         if path.is_file() and path.stat().st_mtime != past)
        assert touched == written
        names = {name.removeprefix("es/").removeprefix("fr/") for name in written} - {"sitemap.xml"}
        assert len(written) == 3 * len(names) + 1  # the same pages in every language, and the sitemap
        return sorted(names), new

    shared = ["atom.xml", "feed.json", "index.html", "search-index.js"]
    written, new = publish_one_more()  # 7 recommendations, 7 from Mexico, 8 chemical: a third chemical archive page
    assert written == sorted([*shared, f"recommendation/{new}.html", "recommendation/index.html", "countries/mx.html",
                              "industries/chemical.html", *(f"industries/chemical-page-{n}.html" for n in (2, 3))])
    written, new = publish_one_more()  # 8, 8, 9: a third archive page of recommendations and of Mexico's engagements
    assert written == sorted([*shared, f"recommendation/{new}.html", "recommendation/index.html", "countries/mx.html",
                              "industries/chemical.html", *(f"recommendation/page-{n}.html" for n in (2, 3)),
                              *(f"countries/mx-engagements-page-{n}.html" for n in (2, 3))])
    assert _listed(site / "recommendation/page-3.html") == [more[4], more[3]]


def _tree(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_an_incremental_publication_writes_the_bytes_of_a_full_one(db, tmp_path: Path) -> None:  # noqa: ANN001
    """Items added, withdrawn, edited in place (no new version) and a partner's profile changed: the site
    brought up to date holds exactly the files a publication into an empty folder writes."""
    from sqlalchemy import update

    from models import Engagement, Organization

    site, fresh = tmp_path / "site", tmp_path / "fresh"
    ids = build_year(db)
    apply_transition(db, ids["rec:early"], "publish", SECRETARIAT)
    more = _publish_recommendations(db, 4)
    options = {"portal": "https://portal.example", "today": date(2024, 5, 1), "page_size": 2}
    publish_site(db, site, **options)
    before = _tree(site)

    _publish_recommendations(db, 2)
    apply_transition(db, more[1], "unpublish", SECRETARIAT)
    with db.transaction() as session:
        row = session.get(Engagement, ids["dialogue:MX"])
        session.execute(update(Engagement).where(Engagement.id == row.id).values(title="National dialogue, Mexico"))
    report = publish_site(db, site, **options)
    assert report.pages_removed and report.pages_written
    assert _tree(site) != before and _tree(site) == _tree(publish_site(db, fresh, **options).index_path.parent)

    with db.transaction() as session:  # a partner's profile: every page listing its engagements changes
        session.execute(update(Organization).where(Organization.name == "Química Andina S.A.").values(industry="banking"))
    publish_site(db, site, **options)
    publish_site(db, tmp_path / "again", **options)
    assert _tree(site) == _tree(tmp_path / "again")
    assert publish_site(db, site, **options).pages_written == []

    started = []  # on pages of two, one of two more recommendations starts an archive page of each of their lists
    for number in range(2):
        _publish_recommendations(db, 1)
        before = set(_tree(site))
        started += [name for name in publish_site(db, site, **options).pages_written if "-page-" in name and name not in before]
        assert _tree(site) == _tree(publish_site(db, tmp_path / f"more-{number}", **options).index_path.parent)
    assert "countries/mx-engagements-page-3.html" in started and "industries/banking-page-3.html" in started


def test_feeds_parse_and_carry_the_items(db, tmp_path: Path) -> None:  # noqa: ANN001
    site = tmp_path / "site"
    ids = _publish_everything(db, site)
    published = {ids["dialogue:MX"], ids["rec:early"], ids["ach:meta"]}
    for prefix, language in (("", "en"), ("es/", "es"), ("fr/", "fr")):
        feed = json.loads((site / f"{prefix}feed.json").read_text("utf-8"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["language"] == language
        assert feed["title"] and feed["home_page_url"] == f"{DEFAULT_SITE_URL}{prefix}index.html"
        assert feed["feed_url"] == f"{DEFAULT_SITE_URL}{prefix}feed.json"
        assert {int(item["id"]) for item in feed["items"]} == published
        for item in feed["items"]:
            assert item["title"] and item["date_published"].endswith("Z") and (site / item["url"].removeprefix(DEFAULT_SITE_URL)).is_file()
        parsed = feedparser.parse((site / f"{prefix}atom.xml").read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == "atom10" and parsed.feed.language == language
        assert {entry.id.rsplit(":", 1)[1] for entry in parsed.entries} == {str(i) for i in published}
        root = ElementTree.parse(site / f"{prefix}atom.xml").getroot()
        assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}updated") is not None
        assert all(entry.find(f"{ATOM}link").get("href") for entry in root.iter(f"{ATOM}entry"))


def test_hostile_partner_text_is_inert_on_every_page_and_in_the_report(db, tmp_path: Path) -> None:  # noqa: ANN001
    site = tmp_path / "site"
    ids = _publish_everything(db, site)
    for path in site.rglob("*"):
        if path.is_file() and not path.name.endswith(".pdf") and "assets" not in path.parts:
            text = path.read_text("utf-8")
            assert "<script>alert" not in text and "<img" not in text, path
            assert not re.search(r"<[^>]*\son\w+=", text), path
    page = (site / f"recommendation/{ids['rec:early']}.html").read_text("utf-8")
    assert '&lt;script&gt;alert("report")&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;Precursor alerts' in page
    report = (site / "report/report-en.html").read_text("utf-8")
    assert "&lt;script&gt;alert(&#34;report&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;Precursor alerts" in report
    assert "<script" not in report


def test_the_pdf_holds_the_figures_on_a4_pages(sqlite_db, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    require_poppler()
    build_year(sqlite_db)
    with caplog.at_level(logging.INFO):
        pdf = write_report(sqlite_db, tmp_path / "report.pdf", format="pdf", today=date(2025, 1, 20)).path
    # No line of WeasyPrint's about CSS it does not apply (the charts' SVG styles) reaches a console or a log.
    assert [record.getMessage() for record in caplog.records if record.name.startswith("weasyprint")] == []
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+595\.\d* x 841\.\d* pts \(A4\)", info), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("Private-sector engagement in 2024: final report", "Contents",
                     "In the 2 of 3 national dialogues that reported, national authorities convened 9 public and 19 private partners.",
                     "5 partners came from the six priority industries, 0 from the future areas of opportunity and 0 from other industries.",
                     "1 submission arrived after its window had closed and was refused.",
                     '<script>alert("report")</script><img src=x onerror=alert(2)>Precursor alerts',
                     "Química Andina S.A."):
        assert expected in " ".join(text.split()) or expected in text, expected
    assert re.search(r"The year in numbers \.+ ?3", " ".join(text.split()))  # after the title page and the summary
    assert re.search(rf"\b2\s*/\s*{pages}\b", text) and re.search(rf"\b{pages}\s*/\s*{pages}\b", text)  # page numbers
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == pages >= 2


def test_catalogs_translate_every_message() -> None:
    msgids = {SITE_TITLE, *KIND_TITLES.values(), *INDUSTRY_LABELS.values(), *TOPIC_LABELS.values(), *EVENT_LABELS.values()}
    for folder in ("website/templates", "report/templates"):
        for _file, _line, message, *_ in extract_from_dir(
            ROOT / folder, method_map=[("**.html", "jinja2")], options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}
        ):
            msgids.add(message if isinstance(message, str) else message[0])
    for language in ("es", "fr"):
        with (LOCALE_DIR / f"{language}.po").open("rb") as handle:
            catalog = read_po(handle)
        missing = sorted(m for m in msgids if not (catalog.get(m) and catalog.get(m).string))
        assert missing == [], f"{language}.po lacks {missing}"


def test_engage_report_writes_the_report_and_refuses_bad_options(sqlite_db, tmp_path: Path) -> None:  # noqa: ANN001
    build_year(sqlite_db)
    environment = {"ENGAGE_DATABASE_URL": str(sqlite_db.engine.url), "ENGAGE_DATA_DIR": str(tmp_path / "data"),
                   "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-c", "from cli.app import main; main()", "report"]
    done = subprocess.run([*command, "--lang", "es", "--out", str(tmp_path / "informe.html")], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "final report 2024 (es, html)" in done.stdout
    assert "La colaboración con el sector privado en 2024: informe final" in (tmp_path / "informe.html").read_text("utf-8")
    done = subprocess.run([*command, "--format", "pdf"], env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data/site/report/report-en.pdf").read_bytes().startswith(b"%PDF")
    home = (tmp_path / "data/site/index.html").read_text("utf-8")
    assert 'href="report/report-en.pdf"' in home and "report-en.html" not in home  # the PDF only, so far
    for option, value in (("--format", "docx"), ("--lang", "de")):
        done = subprocess.run([*command, option, value], env=environment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 1 and option in done.stderr and value in done.stderr
