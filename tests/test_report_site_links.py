"""The published site's feeds, sitemap and hreflang links are absolute URLs under the site's public address."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import feedparser
import pytest
from pydantic import ValidationError

from report import publish_reports
from settings import Settings
from states.publication import publish_site
from states.workflow import apply_transition
from tests.report_year import build_year
from tests.world import SECRETARIAT
from website import SiteContext

SITE_URL = "https://synthetics-coalition.example/engagement"
BASE = SITE_URL + "/"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _absolute_under_base(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.netloc == "synthetics-coalition.example" and url.startswith(BASE)


def test_feeds_sitemap_and_hreflang_give_absolute_urls_under_the_site_url(db, tmp_path: Path) -> None:  # noqa: ANN001
    ids = build_year(db)
    for key in ("rec:early", "ach:meta"):
        apply_transition(db, ids[key], "publish", SECRETARIAT)
    site = tmp_path / "site"
    publish_reports(db, site, today=date(2025, 1, 20), formats=("html",))
    publish_site(db, site, portal="https://portal.example", today=date(2024, 5, 1), site_url=SITE_URL)

    for prefix in ("", "es/", "fr/"):
        parsed = feedparser.parse((site / prefix / "atom.xml").read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        links = [link.href for link in parsed.feed.links] + [link.href for entry in parsed.entries for link in entry.links]
        assert [link.href for link in parsed.feed.links] == [f"{BASE}{prefix}atom.xml", f"{BASE}{prefix}index.html"]
        # feedparser 6.0 reads no JSON Feed: its URLs, read as JSON, go through the same checks.
        feed = json.loads((site / prefix / "feed.json").read_text("utf-8"))
        links += [feed["home_page_url"], feed["feed_url"], *(item["url"] for item in feed["items"])]
        assert len(parsed.entries) == len(feed["items"]) == 3 and len(links) == 2 + 3 + 2 + 3
        assert all(_absolute_under_base(link) for link in links), (prefix, links)
        for link in links:
            assert (site / link.removeprefix(BASE)).is_file(), link  # each names a page or feed that exists
            assert link.startswith(BASE + prefix)

    locations = [loc.text for loc in ElementTree.parse(site / "sitemap.xml").getroot().iter(f"{SITEMAP}loc")]
    assert locations and all(_absolute_under_base(location) for location in locations)
    assert f"{BASE}report/report-fr.html" in locations and f"{BASE}es/index.html" in locations
    assert all((site / location.removeprefix(BASE)).is_file() for location in locations)

    pages = sorted(site.rglob("*.html"))
    for page in pages:
        if page.parent.name == "report":
            continue  # the report links to the site by relative links alone
        hreflang = re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', page.read_text("utf-8"))
        assert {language for language, _ in hreflang} == {"en", "es", "fr", "x-default"}, page
        assert all(_absolute_under_base(href) and (site / href.removeprefix(BASE)).is_file() for _, href in hreflang), page


def test_a_new_site_url_rewrites_the_pages_it_is_in(db, tmp_path: Path) -> None:  # noqa: ANN001
    site = tmp_path / "site"
    publish_site(db, site, today=date(2024, 5, 1))
    assert 'hreflang="fr" href="http://localhost:8080/fr/index.html"' in (site / "index.html").read_text("utf-8")
    publish_site(db, site, today=date(2024, 5, 1), site_url=SITE_URL)
    assert f'hreflang="fr" href="{BASE}fr/index.html"' in (site / "index.html").read_text("utf-8")


def test_the_site_url_setting_must_be_an_absolute_http_address() -> None:
    assert Settings(site_url=SITE_URL).site_url == SITE_URL
    assert Settings().site_url == SiteContext().site_url == "http://localhost:8080/"
    for bad in ("coalition.example", "/site/", "javascript:alert(1)", "https://", "ftp://coalition.example/"):
        with pytest.raises(ValidationError, match="site_url"):
            Settings(site_url=bad)
        with pytest.raises(ValidationError, match="site_url"):
            SiteContext(site_url=bad)
