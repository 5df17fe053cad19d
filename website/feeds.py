"""The site's machine-readable files: JSON Feed 1.1, Atom 1.0 and the sitemap.

Their URLs are absolute, under the site's public address (``base``, ending in a slash): a feed is
read away from the site, and the sitemaps protocol requires them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from website.view import ItemView

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
ID_PREFIX = "tag:coalition-engage,2024:engagement:"


def _iso(view: ItemView) -> str:
    return view.item.published_at.isoformat().replace("+00:00", "Z")


def _url(base: str, path: str) -> str:
    """``path`` (relative to the folder of ``base``) as an absolute URL."""
    return base + quote(path)


def json_feed(views: list[ItemView], *, title: str, language: str, kind_titles: dict[str, str], base: str) -> bytes:
    """A JSON Feed 1.1 of ``views`` (newest first); ``base``: the absolute URL of the feed's folder."""
    feed = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": _url(base, "index.html"),
        "feed_url": _url(base, "feed.json"),
        "language": language,
        "items": [
            {
                "id": str(view.item.engagement_id),
                "url": _url(base, view.item.path),
                "title": view.item.title,
                "content_html": view.content_html(language),
                "date_published": _iso(view),
                "tags": [view.item.kind, kind_titles[view.item.kind]],
                **({"language": view.item.language} if view.item.language else {}),
                **({"authors": [{"name": name} for name in view.item.partners]} if view.item.partners else {}),
            }
            for view in views
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def atom_feed(views: list[ItemView], *, title: str, language: str, base: str) -> bytes:
    """An Atom 1.0 feed of ``views``; ``updated`` is the newest item's date (stable when nothing changes).

    ``base``: the absolute URL of the feed's folder.
    """
    feed = ElementTree.Element("feed", {"xmlns": ATOM, "xml:lang": language})
    ElementTree.SubElement(feed, "id").text = f"tag:coalition-engage,2024:site:{language}"
    ElementTree.SubElement(feed, "title").text = title
    ElementTree.SubElement(feed, "updated").text = _iso(views[0]) if views else "2024-01-01T00:00:00Z"
    ElementTree.SubElement(feed, "link", {"rel": "self", "href": _url(base, "atom.xml")})
    ElementTree.SubElement(feed, "link", {"rel": "alternate", "href": _url(base, "index.html")})
    author = ElementTree.SubElement(feed, "author")
    ElementTree.SubElement(author, "name").text = "Global Coalition Secretariat"
    for view in views:
        entry = ElementTree.SubElement(feed, "entry")
        ElementTree.SubElement(entry, "id").text = f"{ID_PREFIX}{view.item.engagement_id}"
        ElementTree.SubElement(entry, "title").text = view.item.title
        ElementTree.SubElement(entry, "updated").text = _iso(view)
        ElementTree.SubElement(entry, "published").text = _iso(view)
        ElementTree.SubElement(entry, "link", {"rel": "alternate", "href": _url(base, view.item.path)})
        ElementTree.SubElement(entry, "category", {"term": view.item.kind})
        for name in view.item.partners:
            ElementTree.SubElement(ElementTree.SubElement(entry, "contributor"), "name").text = name
        content = view.content_html(language)
        if content:
            attributes = {"type": "html"}
            if view.item.language:
                attributes["xml:lang"] = view.item.language
            ElementTree.SubElement(entry, "content", attributes).text = content
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def sitemap(pages: Iterable[str], *, base: str) -> Iterator[bytes]:
    """A sitemap listing ``pages`` (paths relative to the site's root, sorted, each once; ``base``: its absolute
    URL), made a page at a time, as ElementTree would write it (not a tree of every page, ~100,000 elements)."""
    yield f"<?xml version='1.0' encoding='utf-8'?>\n<urlset xmlns=\"{SITEMAP}\"".encode()
    empty = True
    for page in pages:
        yield f"{'>' if empty else ''}<url><loc>{escape(_url(base, page))}</loc></url>".encode()
        empty = False
    yield b" />\n" if empty else b"</urlset>\n"
