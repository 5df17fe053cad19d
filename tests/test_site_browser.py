"""The site and the report in the real Chromium: axe-core finds no serious or critical violation; screenshots; search."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from report import publish_reports
from states.publication import publish_site
from states.workflow import apply_transition
from tests.prerequisites import CHROMIUM, require, require_chromium
from tests.report_year import build_year
from tests.world import SECRETARIAT

pytestmark = pytest.mark.browser

AXE = Path(os.environ.get("ENGAGE_AXE_JS", Path(__file__).resolve().parent.parent / ".tools/node_modules/axe-core/axe.min.js"))
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.db import Database

    folder = tmp_path_factory.mktemp("browser")
    db = Database(f"sqlite:///{folder / 'engage.db'}")
    db.migrate()
    ids = build_year(db)
    for key in ("rec:early", "ach:meta"):
        apply_transition(db, ids[key], "publish", SECRETARIAT)
    publish_reports(db, folder / "site", today=date(2025, 1, 20), formats=("html",))
    publish_site(db, folder / "site", today=date(2024, 5, 1), page_size=1)  # lists of two items on two pages
    db.dispose()
    return folder / "site"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_chromium()
    require(AXE.exists(), f"axe-core is not installed at {AXE}", "make .tools/node_modules/axe-core/axe.min.js")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _pages(site: Path) -> dict[str, Path]:
    item = next(site.glob("recommendation/[0-9]*.html"))
    return {
        "home": site / "index.html", "home-es": site / "es/index.html", "item": item,
        "item-fr": site / "fr" / item.relative_to(site), "country": site / "countries/mx.html",
        "industry": site / "industries/chemical.html", "kind": site / "national_dialogue/index.html",
        "archive-page": site / "industries/chemical-page-1.html", "archive-page-fr": site / "fr/industries/chemical-page-1.html",
        "search": site / "search.html", "report": site / "report/report-en.html", "report-fr": site / "report/report-fr.html",
    }


def test_no_serious_or_critical_accessibility_violation_and_screenshots(site: Path, browser, tmp_path: Path) -> None:  # noqa: ANN001
    for name, path in _pages(site).items():
        page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
        page.goto(path.as_uri())
        page.add_script_tag(path=str(AXE))
        for width in WIDTHS:  # the same page, laid out again at each width
            page.set_viewport_size({"width": width, "height": 900})
            result = page.evaluate("() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})")
            serious = [
                (violation["id"], violation["help"], [node["target"] for node in violation["nodes"]][:3])
                for violation in result["violations"] if violation["impact"] in ("serious", "critical")
            ]
            assert serious == [], (name, width, serious)
            # Nothing wider than the screen: long words and URLs wrap.
            overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (name, width, overflow)
            page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
        page.close()
    assert len(list(tmp_path.glob("*.png"))) == len(WIDTHS) * len(_pages(site))


def test_skip_link_and_visible_keyboard_focus(site: Path, browser) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((site / "index.html").as_uri())
    page.keyboard.press("Tab")
    focused = page.evaluate("() => ({text: document.activeElement.textContent, href: document.activeElement.getAttribute('href'),"
                            " outline: getComputedStyle(document.activeElement).outlineStyle,"
                            " left: document.activeElement.getBoundingClientRect().left})")
    assert focused["text"] == "Skip to content" and focused["href"] == "#content"
    assert focused["outline"] == "solid" and focused["left"] >= 0  # shown on screen, outlined
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#content"
    page.close()


def test_search_works_from_disk_and_the_site_without_javascript(site: Path, browser) -> None:  # noqa: ANN001
    page = browser.new_page()
    page.goto((site / "index.html").as_uri())
    page.fill("#site-search", "precursor")
    page.click("form.search button")
    page.wait_for_selector("#search-results ol.items li")
    results = page.locator("#search-results ol.items li a")
    titles = results.all_text_contents()
    assert any("information_sharing" in title for title in titles), titles
    results.first.click()
    assert page.url.endswith(".html") and "/recommendation/" in page.url
    page.close()

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((site / "es/search.html").as_uri() + "?q=precursor")
    assert "La búsqueda necesita JavaScript" in page.inner_text("#search-results")
    page.click("text=Diálogos nacionales >> nth=-1")
    assert page.url.endswith("es/national_dialogue/index.html")
    context.close()


def test_search_heading_shows_the_query_as_typed_in_every_language(site: Path, browser) -> None:  # noqa: ANN001
    from urllib.parse import quote

    query = "precursor $& $` $' $$ {count} {query}"  # String.replace patterns and the heading's own placeholders
    page = browser.new_page()
    for language, one, other in (("", "result for “{}”", "results for “{}”"),
                                 ("es/", "resultado para «{}»", "resultados para «{}»"),
                                 ("fr/", "résultat pour «\u00a0{}\u00a0»", "résultats pour «\u00a0{}\u00a0»")):
        page.goto((site / f"{language}search.html").as_uri() + "?q=" + quote(query, safe=""))
        page.wait_for_selector("#search-results ol.items li")
        shown = page.inner_text("#search-results > p")
        count = len(page.locator("#search-results ol.items li").all())
        assert shown == f"{count} " + (one if count == 1 else other).format(query), (language, shown)
        assert page.input_value("#site-search") == query
    page.close()
