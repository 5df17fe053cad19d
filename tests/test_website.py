"""The static website renderer: real files in tmp_path, no mocks."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pydantic import ValidationError

from website import KIND_TITLES, KINDS, PublishedItem, SiteReport, publish
from website.render import FEED_LATEST, FUTURE_INDUSTRIES, OLD_MANIFEST, PRIORITY_INDUSTRIES

UTC = timezone.utc
HOSTILE = (
    "<p>Before <script>alert(1)</script> middle "
    '<img src="x.png" onerror="alert(2)"> '
    '<a href="javascript:alert(3)">click</a> '
    '<a href="JaVaScRiPt:alert(4)" onclick="alert(5)">again</a> '
    "<style>body { display: none }</style>"
    '<iframe src="https://evil.example"></iframe>'
    '<a href="https://www.unodc.org/">UNODC</a> after</p>'
)
FORBIDDEN = ("<script", "alert(", "onerror", "onclick", "javascript:", "<style", "display: none", "<iframe", "<img")


def dialogue(**overrides: object) -> PublishedItem:
    values: dict[str, object] = {
        "engagement_id": 12,
        "kind": "national_dialogue",
        "title": "National dialogue in Mexico",
        "published_at": datetime(2024, 2, 20, 9, 30, tzinfo=UTC),
        "summary": "<p>Chemical and shipping companies discussed the <strong>three WG topics</strong>.</p>",
        "body": "<ul><li>Precursor control</li><li>Information sharing</li></ul>",
        "partners": ["Acme Chemicals", "Blue Shipping"],
        "facts": {"Date": date(2024, 2, 12), "Organizing agency": "Ministry of Health", "Public partners": "4"},
        "links": ["https://example.org/dialogue-video"],
    }
    values.update(overrides)
    return PublishedItem(**values)


def toolkit(**overrides: object) -> PublishedItem:
    values: dict[str, object] = {
        "engagement_id": 30,
        "kind": "toolkit_launch",
        "title": "PPP toolkit launched",
        "published_at": datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        "summary": "UNODC presented the toolkit at the SWG 2.2 session.",
    }
    values.update(overrides)
    return PublishedItem(**values)


def all_files(site: Path) -> dict[str, str]:
    return {path.relative_to(site).as_posix(): path.read_text("utf-8") for path in site.rglob("*") if path.is_file()}


class _Balance(HTMLParser):
    VOID = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_publishes_pages_indexes_home_and_feed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    report = publish(site, [dialogue(), toolkit()])

    assert isinstance(report, SiteReport)
    assert report.index_path == site / "index.html" and report.items == 2
    expected = {"sitemap.xml", "assets/site.css", "assets/search.js", "assets/minisearch.js", "assets/minisearch.LICENSE.txt"}
    for prefix in ("", "es/", "fr/"):
        expected |= {f"{prefix}{name}" for name in (
            "index.html", "feed.json", "atom.xml", "search.html", "search-index.js", "national_dialogue/12.html",
            "toolkit_launch/30.html", "countries/index.html", "industries/index.html")}
        expected |= {f"{prefix}{kind}/index.html" for kind in KINDS}
        expected |= {f"{prefix}industries/{industry}.html" for industry in (*PRIORITY_INDUSTRIES, *FUTURE_INDUSTRIES)}
    assert set(report.pages_written) == expected == set(all_files(site))  # nothing else: no manifest
    assert report.pages_unchanged == [] and report.pages_removed == []

    page = (site / "national_dialogue/12.html").read_text("utf-8")
    for text in ("National dialogue in Mexico", "<strong>three WG topics</strong>", "<li>Precursor control</li>",
                 "Acme Chemicals", "<dt>Organizing agency</dt>", "<dd>Ministry of Health</dd>",
                 'href="https://example.org/dialogue-video"', 'datetime="2024-02-20T09:30:00Z"', "20 February 2024",
                 "<dd>12 February 2024</dd>"):
        assert text in page
    assert 'href="30.html"' not in page
    spanish = (site / "es/national_dialogue/12.html").read_text("utf-8")
    assert '<html lang="es">' in spanish and "20 de febrero de 2024" in spanish and "<dt>Organismo organizador</dt>" in spanish

    dialogues = (site / "national_dialogue/index.html").read_text("utf-8")
    assert KIND_TITLES["national_dialogue"] in dialogues and "national_dialogue/12.html" in dialogues
    assert "PPP toolkit launched" not in dialogues
    assert "Nothing has been published here yet." in (site / "recommendation/index.html").read_text("utf-8")
    assert "Todavía no se ha publicado nada aquí." in (site / "es/recommendation/index.html").read_text("utf-8")
    home = (site / "index.html").read_text("utf-8")
    assert home.index("PPP toolkit launched") < home.index("National dialogue in Mexico")  # newest first

    feed = json.loads((site / "feed.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["title"] and feed["language"] == "en"
    assert [item["id"] for item in feed["items"]] == ["30", "12"]
    first, second = feed["items"]
    assert first == {
        "id": "30",
        "url": "http://localhost:8080/toolkit_launch/30.html",
        "title": "PPP toolkit launched",
        "content_html": "UNODC presented the toolkit at the SWG 2.2 session.",
        "date_published": "2024-03-01T12:00:00Z",
        "tags": ["toolkit_launch", "PPP toolkit"],
    }
    assert second["content_html"].startswith("<p>Chemical and shipping companies")
    assert second["authors"] == [{"name": "Acme Chemicals"}, {"name": "Blue Shipping"}]
    assert datetime.fromisoformat(second["date_published"]) == datetime(2024, 2, 20, 9, 30, tzinfo=UTC)

    for name, text in all_files(site).items():
        if name.endswith(".html"):
            language = name.split("/")[0] if name.split("/")[0] in ("es", "fr") else "en"
            assert text.startswith(f'<!DOCTYPE html>\n<html lang="{language}">'), name
            scripts = re.findall(r"<script[^>]*>", text)
            assert scripts == ([] if not name.endswith("search.html") else [  # JavaScript only where it searches
                f'<script src="{"../" if language != "en" else ""}assets/minisearch.js">', '<script src="search-index.js">',
                f'<script src="{"../" if language != "en" else ""}assets/search.js">']), name
            checker = _Balance()
            checker.feed(text)
            assert checker.errors == [] and checker.stack == [], name
            assert text.count("<h1") == 1, name


def test_hostile_partner_html_survives_in_no_written_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    publish(site, [dialogue(summary=HOSTILE, body=HOSTILE), toolkit(body=HOSTILE)])

    files = all_files(site)
    for name, text in files.items():
        if name.startswith("assets/"):
            continue  # the site's own stylesheet and scripts, no partner text
        text = re.sub(r'<script src="[^"]*(minisearch|search-index|search)\.js"></script>', "", text)  # ours only
        for needle in FORBIDDEN:
            assert needle not in text.lower(), (name, needle)
    # The harmless parts of the text remain, and the safe link stays a link.
    page = files["national_dialogue/12.html"]
    assert "Before" in page and "after" in page and "click" in page
    assert '<a href="https://www.unodc.org/" rel="noopener noreferrer nofollow">UNODC</a>' in page
    feed = json.loads(files["feed.json"])
    for item in feed["items"]:
        assert "UNODC" in item["content_html"]
        for needle in FORBIDDEN:
            assert needle not in item["content_html"].lower()


def test_relative_and_data_links_are_dropped(tmp_path: Path) -> None:
    summary = '<a href="/admin">a</a><a href="data:text/html,x">b</a><a href="mailto:x@example.org">c</a>'
    publish(tmp_path, [dialogue(summary=summary)])
    page = (tmp_path / "national_dialogue/12.html").read_text("utf-8")
    assert 'href="/admin"' not in page and "data:" not in page
    assert 'href="mailto:x@example.org"' in page


def test_republishing_the_same_items_writes_nothing(tmp_path: Path) -> None:
    items = [dialogue(), toolkit()]
    first = publish(tmp_path, items)
    past = 1_000_000_000  # make any rewrite visible in the mtimes, however coarse the clock
    for path in tmp_path.rglob("*"):
        os.utime(path, (past, past))
    snapshot = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in tmp_path.rglob("*") if path.is_file()}

    second = publish(tmp_path, list(reversed(items)))

    assert second.pages_written == [] and second.pages_removed == []
    assert second.pages_unchanged == first.pages_written
    after = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in tmp_path.rglob("*") if path.is_file()}
    assert after == snapshot  # same files, same bytes, same mtimes, no temp files left behind


def test_a_changed_item_rewrites_only_what_shows_it(tmp_path: Path) -> None:
    publish(tmp_path, [dialogue(), toolkit()])
    report = publish(tmp_path, [dialogue(), toolkit(summary="Updated summary.")])
    assert report.pages_written == sorted(
        f"{prefix}{name}" for prefix in ("", "es/", "fr/")
        for name in ("atom.xml", "feed.json", "index.html", "search-index.js", "toolkit_launch/30.html",
                     "toolkit_launch/index.html")
    )


def test_withdrawing_removes_the_page_and_its_entries_but_not_stray_files(tmp_path: Path) -> None:
    publish(tmp_path, [dialogue(), toolkit()])
    strays = [
        tmp_path / "national_dialogue" / "notes.html",
        tmp_path / "national_dialogue" / "13.txt",
        tmp_path / "unknown_kind" / "5.html",
        tmp_path / "robots.txt",
    ]
    for stray in strays:
        stray.parent.mkdir(exist_ok=True)
        stray.write_text("not the renderer's")

    report = publish(tmp_path, [toolkit()])

    assert report.pages_removed == ["es/national_dialogue/12.html", "fr/national_dialogue/12.html", "national_dialogue/12.html"]
    assert not (tmp_path / "national_dialogue/12.html").exists()
    assert "national_dialogue/index.html" in report.pages_written
    for name in ("national_dialogue/index.html", "index.html", "feed.json"):
        text = (tmp_path / name).read_text("utf-8")
        assert "National dialogue in Mexico" not in text and "12.html" not in text, name
    feed = json.loads((tmp_path / "feed.json").read_text("utf-8"))
    assert [item["id"] for item in feed["items"]] == ["30"]
    for stray in strays:
        assert stray.read_text() == "not the renderer's"

    emptied = publish(tmp_path, [])
    assert emptied.pages_removed == ["es/toolkit_launch/30.html", "fr/toolkit_launch/30.html", "toolkit_launch/30.html"]
    assert json.loads((tmp_path / "feed.json").read_text("utf-8"))["items"] == []


def test_title_partners_and_facts_are_escaped(tmp_path: Path) -> None:
    item = dialogue(
        title="Chemicals <b>& shipping</b>",
        partners=["Smith & <Sons>"],
        facts={"<i>Key</i>": "4 < 5 & \"quoted\""},
    )
    publish(tmp_path, [item])
    for name in ("national_dialogue/12.html", "national_dialogue/index.html", "index.html"):
        text = (tmp_path / name).read_text("utf-8")
        assert "Chemicals &lt;b&gt;&amp; shipping&lt;/b&gt;" in text, name
        assert "<b>" not in text, name
    page = (tmp_path / "national_dialogue/12.html").read_text("utf-8")
    assert "Smith &amp; &lt;Sons&gt;" in page
    assert "<dt>&lt;i&gt;Key&lt;/i&gt;</dt>" in page and "<dd>4 &lt; 5 &amp; &#34;quoted&#34;</dd>" in page
    feed = json.loads((tmp_path / "feed.json").read_text("utf-8"))
    assert feed["items"][0]["title"] == "Chemicals <b>& shipping</b>"  # JSON Feed titles are plain text


def test_output_is_deterministic_whatever_the_input_order(tmp_path: Path) -> None:
    same_time = datetime(2024, 5, 1, tzinfo=UTC)
    items = [toolkit(engagement_id=n, published_at=same_time - timedelta(days=n % 3)) for n in range(1, 8)]
    publish(tmp_path / "a", items)
    publish(tmp_path / "b", list(reversed(items)))
    assert all_files(tmp_path / "a") == all_files(tmp_path / "b")
    ids = [item["id"] for item in json.loads((tmp_path / "a/feed.json").read_text("utf-8"))["items"]]
    assert ids == ["3", "6", "1", "4", "7", "2", "5"]  # newest first, then by id


def test_published_at_is_normalised_to_utc() -> None:
    item = dialogue(published_at=datetime(2024, 2, 20, 4, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert item.published_at == datetime(2024, 2, 20, 9, 30, tzinfo=UTC)
    assert item.published_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("published_at", datetime(2024, 2, 20, 9, 30)),
        ("kind", "press_release"),
        ("links", ["not a url"]),
        ("links", ["javascript:alert(1)"]),
        ("engagement_id", 0),
        ("title", "   "),
        ("unexpected", "x"),
    ],
)
def test_invalid_input_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        dialogue(**{field: value})
    assert field in {str(error["loc"][0]) for error in raised.value.errors()}
    assert field in str(raised.value)


def test_items_are_immutable() -> None:
    with pytest.raises(ValidationError):
        dialogue().title = "changed"  # type: ignore[misc]


def test_duplicate_engagement_ids_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="12"):
        publish(tmp_path / "site", [dialogue(), dialogue(kind="recommendation")])
    assert not (tmp_path / "site").exists()


def _recommendations(count: int) -> list[PublishedItem]:
    """``count`` recommendations, one a day: the higher the id, the newer."""
    return [toolkit(engagement_id=number, kind="recommendation", title=f"Recommendation {number}",
                    published_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=number)) for number in range(1, count + 1)]


def _tree(folder: Path, skip: str = "") -> dict[str, bytes]:
    """Every file under ``folder`` (but those under its folder ``skip``) and its bytes."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*")
            if path.is_file() and not (skip and path.relative_to(folder).parts[0] == skip)}


def _nav(page: str) -> list[str]:
    """The entries of a page's pager, as text, the current one in brackets."""
    nav = page.split('<nav class="pager"', 1)[1].split("</nav>", 1)[0]
    return [f"[{text}]" if "aria-current" in entry else text
            for entry, text in re.findall(r"<li[^>]*>(.*?>)?([^<>]*)(?:</\w+>)?</li>", nav)]


def test_a_long_list_is_paged_with_every_item_on_one_page_and_a_pager(tmp_path: Path) -> None:
    report = publish(tmp_path, _recommendations(31), page_size=2)

    # 14 full archive pages numbered from the oldest; the first page holds the other 3, the newest.
    folder = tmp_path / "recommendation"
    assert sorted(path.name for path in folder.glob("page-*.html")) == sorted(f"page-{n}.html" for n in range(1, 15))
    seen: list[int] = []
    name: str | None = "index.html"
    while name:  # from the newest page to the oldest through the "Older" links
        page = (folder / name).read_text("utf-8")
        seen += [int(number) for number in re.findall(r'href="\.\./recommendation/(\d+)\.html"', page)]
        name = (re.findall(r'<a href="([^"]+)" rel="next">Older</a>', page) or [None])[0]
    assert seen == list(range(31, 0, -1))
    assert re.findall(r'<a href="([^"]+)" rel="prev">', (folder / "page-1.html").read_text("utf-8")) == ["page-2.html"]
    assert 'rel="prev"' not in (folder / "index.html").read_text("utf-8")

    assert _nav((folder / "index.html").read_text("utf-8")) == ["[Latest]", "14", "13", "…", "1", "Older"]
    # An archive page links to the older pages only (but its newer neighbour): a new archive page changes no other.
    assert _nav((folder / "page-7.html").read_text("utf-8")) == [
        "Newer", "Latest", "…", "[7]", "6", "5", "…", "1", "Older"]
    assert _nav((folder / "page-14.html").read_text("utf-8")) == ["Newer", "Latest", "[14]", "13", "12", "…", "1", "Older"]
    assert _nav((tmp_path / "fr/recommendation/page-1.html").read_text("utf-8")) == [
        "Plus récents", "Dernières publications", "…", "[1]"]
    assert '<h1>Recommendations, page 7</h1>' in (folder / "page-7.html").read_text("utf-8")
    assert "recommendation/page-14.html" in report.pages_written and "es/recommendation/page-14.html" in report.pages_written
    sitemap = (tmp_path / "sitemap.xml").read_text("utf-8")
    assert "<loc>http://localhost:8080/fr/recommendation/page-14.html</loc>" in sitemap
    assert "<loc>http://localhost:8080/recommendation/index.html</loc>" in sitemap

    more = publish(tmp_path, _recommendations(33), page_size=2)  # a 15th archive page: of the others, only the 14th changes
    assert [name for name in more.pages_written if "page-" in name] == [
        f"{prefix}recommendation/page-{n}.html" for prefix in ("es/", "fr/", "") for n in (14, 15)]
    assert _nav((folder / "page-14.html").read_text("utf-8")) == ["Newer", "Latest", "…", "[14]", "13", "12", "…", "1", "Older"]
    fresh = tmp_path / "elsewhere" / "site"
    publish(fresh, _recommendations(33), page_size=2)
    assert _tree(tmp_path, skip="elsewhere") == _tree(fresh)

    fewer = publish(tmp_path, _recommendations(25), page_size=2)  # withdrawn: 11 archive pages left
    assert [name for name in fewer.pages_removed if "page-" in name] == [
        f"{prefix}recommendation/page-{n}.html" for prefix in ("es/", "fr/", "") for n in (12, 13, 14, 15)]


def test_feeds_carry_the_newest_items_only(tmp_path: Path) -> None:
    publish(tmp_path, _recommendations(FEED_LATEST + 5))
    for prefix in ("", "es/", "fr/"):
        feed = json.loads((tmp_path / f"{prefix}feed.json").read_text("utf-8"))
        assert [int(item["id"]) for item in feed["items"]] == list(range(FEED_LATEST + 5, 5, -1))
        entries = ElementTree.parse(tmp_path / f"{prefix}atom.xml").getroot().findall("{http://www.w3.org/2005/Atom}entry")
        assert len(entries) == FEED_LATEST


def test_a_short_list_has_no_pager_and_the_page_size_must_be_positive(tmp_path: Path) -> None:
    publish(tmp_path, _recommendations(3), page_size=2)  # up to twice the size: all on the first page
    page = (tmp_path / "recommendation/index.html").read_text("utf-8")
    assert 'class="pager"' not in page and len(re.findall(r"recommendation/\d+\.html", page)) == 3
    assert not list(tmp_path.glob("recommendation/page-*.html"))
    with pytest.raises(ValueError, match="page_size"):
        publish(tmp_path / "other", _recommendations(3), page_size=0)
    assert not (tmp_path / "other").exists()


def test_only_typed_dates_are_read_as_dates(tmp_path: Path) -> None:
    texts = {"Organizing agency": "2024-02-30", "Location": "2024-13-01", "Topic": "2024-01-01/2024-02-31",
             "Meeting": "2024-02-29", "Public partners": "0000-01-01"}
    item = dialogue(facts={**texts, "Date": (date(2024, 2, 12), date(2024, 2, 13)), "Held on": date(2024, 2, 29)})
    assert item.facts["Meeting"] == "2024-02-29"  # text stays text
    publish(tmp_path, [item])
    for language, held, span in (("", "29 February 2024", "12 February 2024 to 13 February 2024"),
                                 ("es/", "29 de febrero de 2024", "del 12 de febrero de 2024 al 13 de febrero de 2024"),
                                 ("fr/", "29 février 2024", "du 12 février 2024 au 13 février 2024")):
        page = (tmp_path / f"{language}national_dialogue/12.html").read_text("utf-8")
        assert all(f"<dd>{text}</dd>" in page for text in texts.values()), language
        assert f"<dd>{held}</dd>" in page and f"<dd>{span}</dd>" in page, language


def test_an_item_that_cannot_be_rendered_is_left_off_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import website.render
    from website import SkippedItem

    long_date = website.render.long_date

    def fails_on_one_day(moment: date, language: str) -> str:  # the way a bad date once stopped the whole site
        if moment == date(2024, 2, 12):
            raise ValueError("day is out of range for month")
        return long_date(moment, language)

    good = [toolkit(), dialogue(engagement_id=13, facts={"Held on": date(2024, 2, 13)})]
    publish(tmp_path, [*good, dialogue(facts={})])  # published once, fine
    assert (tmp_path / "national_dialogue/12.html").is_file()
    monkeypatch.setattr(website.render, "long_date", fails_on_one_day)

    report = publish(tmp_path, [*good, dialogue(facts={"Held on": date(2024, 2, 12)})])

    assert report.skipped == [SkippedItem(12, "ValueError: day is out of range for month")]
    assert report.items == 2
    assert not list(tmp_path.rglob("12.html"))  # its earlier pages are gone, and nothing links to it
    assert not [name for name, text in all_files(tmp_path).items() if "/12.html" in text or '"id":12,' in text]
    for language in ("", "es/", "fr/"):
        assert (tmp_path / f"{language}national_dialogue/13.html").is_file()
        assert (tmp_path / f"{language}toolkit_launch/30.html").is_file()
        assert "13.html" in (tmp_path / f"{language}national_dialogue/index.html").read_text("utf-8")


def test_publications_of_one_site_run_one_after_the_other(tmp_path: Path) -> None:
    import threading

    from website.store import Store

    site = tmp_path / "site"
    publish(site, [dialogue()])
    running = Store(site, [])  # a publication of the site under way: it holds the store until it ends
    done = threading.Event()
    waiting = threading.Thread(target=lambda: (publish(site, [toolkit()]), done.set()))
    waiting.start()
    assert not done.wait(0.5)  # waits for it
    assert (site / "national_dialogue/12.html").is_file()
    running.close()
    waiting.join(10)
    assert done.is_set() and not (site / "national_dialogue/12.html").exists() and (site / "toolkit_launch/30.html").is_file()


def test_an_item_source_whose_stamp_did_not_change_is_not_made(tmp_path: Path) -> None:
    from website.view import ItemSource

    made: list[int] = []

    def source(item: PublishedItem, stamp: str) -> ItemSource:
        return ItemSource(item.engagement_id, stamp, lambda: made.append(item.engagement_id) or item)

    publish(tmp_path, [source(dialogue(), "a"), source(toolkit(), "a")])
    assert made == [12, 30]
    report = publish(tmp_path, [source(dialogue(), "a"), source(toolkit(summary="Updated summary."), "b")])
    assert made == [12, 30, 30]
    assert "toolkit_launch/30.html" in report.pages_written and "national_dialogue/12.html" in report.pages_unchanged
    assert "Updated summary." in (tmp_path / "toolkit_launch/index.html").read_text("utf-8")


def test_the_store_records_the_files_and_no_manifest_is_published(tmp_path: Path) -> None:
    import sqlite3

    from website.store import store_path

    site = tmp_path / "site"
    publish(site, [dialogue(), toolkit()])
    with sqlite3.connect(store_path(site)) as connection:
        files = dict(connection.execute("SELECT path, fingerprint FROM files"))
    assert set(files) == set(all_files(site)) and not (site / OLD_MANIFEST).exists()
    assert all(len(files[f"{prefix}{name}"]) == 64 for prefix in ("", "es/", "fr/")
               for name in ("national_dialogue/12.html", "national_dialogue/index.html", "industries/banking.html"))
    assert files["assets/site.css"] == files["feed.json"] == files["index.html"] == ""  # compared by their bytes

    publish(site, [toolkit()])
    with sqlite3.connect(store_path(site)) as connection:
        assert not connection.execute("SELECT path FROM files WHERE path LIKE '%/12.html'").fetchall()


def test_a_site_published_by_the_earlier_renderer_is_brought_up_to_date(tmp_path: Path) -> None:
    """The earlier renderer listed its files and the pages' fingerprints in a manifest in the site, and its
    store (another schema) had no table of files: the manifest is read once, then removed."""
    import sqlite3

    from website.store import store_path

    site, fresh = tmp_path / "site", tmp_path / "fresh"
    items = [dialogue(), toolkit(), *_recommendations(7)]
    publish(site, items, page_size=2)
    with sqlite3.connect(store_path(site)) as connection:
        manifest = dict(connection.execute("SELECT path, fingerprint FROM files ORDER BY path"))
    store_path(site).unlink()
    with sqlite3.connect(store_path(site)) as connection:  # the earlier store: its items, no files
        connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute("INSERT INTO meta VALUES ('key', 'earlier')")
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, stamp TEXT NOT NULL, digest TEXT NOT NULL,"
                           " published_at TEXT NOT NULL, kind TEXT NOT NULL, country TEXT, partners TEXT NOT NULL,"
                           " item BLOB NOT NULL, listed BLOB NOT NULL)")
    (site / OLD_MANIFEST).write_text(json.dumps(manifest, indent=0) + "\n", "utf-8")

    report = publish(site, items[1:], page_size=2)  # the dialogue withdrawn meanwhile

    assert report.pages_removed == ["es/national_dialogue/12.html", "fr/national_dialogue/12.html", "national_dialogue/12.html"]
    assert "toolkit_launch/30.html" in report.pages_unchanged  # its fingerprint read from the manifest
    assert not (site / OLD_MANIFEST).exists()
    publish(fresh, items[1:], page_size=2)
    assert _tree(site) == _tree(fresh)
    assert publish(site, items[1:], page_size=2).pages_written == []


def test_a_site_whose_store_was_lost_keeps_no_page_of_a_withdrawn_item(tmp_path: Path) -> None:
    """Without its store the site's folder is all there is: every file but the final report's is compared by its
    bytes, and those no longer made are removed, so an item withdrawn meanwhile leaves no page behind."""
    from website.store import store_path

    site, fresh = tmp_path / "site", tmp_path / "fresh"
    items = [dialogue(), toolkit(), *_recommendations(3)]
    publish(site, items, page_size=2)
    (site / "report").mkdir()
    (site / "report/report-en.pdf").write_bytes(b"%PDF-1.7 the final report")  # written by `engage report`
    store_path(site).unlink()

    report = publish(site, items[1:], page_size=2)  # the dialogue withdrawn meanwhile

    assert report.pages_removed == ["es/national_dialogue/12.html", "fr/national_dialogue/12.html", "national_dialogue/12.html"]
    assert (site / "report/report-en.pdf").read_bytes() == b"%PDF-1.7 the final report"
    (fresh / "report").mkdir(parents=True)
    (fresh / "report/report-en.pdf").write_bytes(b"%PDF-1.7 the final report")
    publish(fresh, items[1:], page_size=2)
    assert _tree(site) == _tree(fresh)
