"""The site's store, an SQLite file beside the site's folder (not published): each item as last
published, what it was made from (its stamp), its digest, the lists it is on and its search documents,
so that a publication makes and renders only what changed; and the site's files, each with what its
page was made of (its fingerprint), so that a publication knows which pages are current and which
files it made last time and no longer makes.

Nothing is read whole: what the store knows of the items and their pages is read a chunk of items at
a time as they come, the lists a page at a time (sorted by SQLite), the search indexes a document at
a time; what a list shows of an item (`ListedItem`, its summary sanitized once) is read only for the
list pages rendered again, and whole items only for their own pages, the home page and the feeds.
It holds nothing that is not on the site, and losing it costs one publication that makes every item
again (and compares every file in the site's folder by its bytes, removing those no longer made).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from website.view import ItemView, ListedItem, PartnerProfile, PublishedItem

#: Changes whenever the items' model changes (their classes, pickled): the items are then forgotten.
_MODEL_DIGEST = hashlib.sha256(b"".join(Path(__file__).with_name(name).read_bytes() for name in ("view.py", "i18n.py"))).hexdigest()
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, stamp TEXT NOT NULL, digest TEXT NOT NULL,"
    " published_at TEXT NOT NULL, kind TEXT NOT NULL, country TEXT, partners TEXT NOT NULL, item BLOB NOT NULL,"
    " listed BLOB NOT NULL)",
    # The lists' order (published_at: ISO 8601 in UTC, which sorts as the moments do).
    "CREATE INDEX IF NOT EXISTS items_by_age ON items (published_at DESC, id)",
    # The lists each item is on (by kind, country, industry), in their order.
    "CREATE TABLE IF NOT EXISTS places (list TEXT NOT NULL, published_at TEXT NOT NULL, id INTEGER NOT NULL,"
    " digest TEXT NOT NULL, PRIMARY KEY (list, published_at DESC, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS places_by_item ON places (id)",
    # Each item's document in the search index of each language.
    "CREATE TABLE IF NOT EXISTS documents (id INTEGER NOT NULL, language TEXT NOT NULL, document BLOB NOT NULL,"
    " PRIMARY KEY (id, language))",
    # The site's files as the last publication made them ('': a file compared by its bytes).
    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL) WITHOUT ROWID",
)
#: This publication's: the items given, the files made (each once).
_TEMPORARY = (
    "CREATE TEMP TABLE seen (id INTEGER PRIMARY KEY)",
    "CREATE TEMP TABLE made (path TEXT NOT NULL, fingerprint TEXT NOT NULL, written INTEGER NOT NULL)",
)
#: The items' model and the store's tables: with the partners' profiles, the store's key (a store of another key
#: forgets its items).
_ITEMS_DIGEST = hashlib.sha256("\0".join([_MODEL_DIGEST, *_SCHEMA]).encode()).hexdigest()
#: The tables of the items (all but the site's files, which do not depend on the key).
_ITEM_TABLES = ("items", "places", "documents")
#: Seconds a publication waits for another one of the same site to end.
_WAIT = 3600
#: Ids per query when reading items by id (below SQLite's limit on parameters); rows written at a time.
_BATCH = 500
#: Items (sources) read, looked up and recorded at a time (three pages each: below SQLite's limit on parameters).
CHUNK = 200


@dataclass(frozen=True, slots=True)
class Entry:
    """What the lists know of an item: its place in them (date, kind, country, partners) and its digest."""

    engagement_id: int
    #: ISO 8601, in UTC: it sorts as the moments do.
    published_at: str
    kind: str
    country: str | None
    partners: tuple[str, ...]
    digest: str

    @classmethod
    def of(cls, view: ItemView) -> Entry:
        item = view.item
        return cls(item.engagement_id, item.published_at.isoformat(), item.kind, item.country, tuple(item.partners), view.digest)


#: A listed item: (engagement id, digest).
Listed = tuple[int, str]


def store_path(site_dir: Path) -> Path:
    """The store of the site in ``site_dir``: a hidden file beside the folder, so that it is not served."""
    site_dir = site_dir.resolve()
    return site_dir.parent / f".{site_dir.name}.items.sqlite"


class Store:
    """The items and files of the site in ``site_dir`` as last published, for the partners' ``profiles``.

    Items are pickled: the file is written by this module only, and not published.
    """

    def __init__(self, site_dir: Path, profiles: Iterable[PartnerProfile]) -> None:
        self.connection = sqlite3.connect(store_path(site_dir), isolation_level=None, timeout=_WAIT)
        # Until `commit`: one publication of a site at a time, and none of its changes seen before the end.
        self.connection.execute("BEGIN IMMEDIATE")
        for statement in (*_SCHEMA, *_TEMPORARY):
            self.connection.execute(statement)
        key = hashlib.sha256("\0".join([_ITEMS_DIGEST, *(p.model_dump_json() for p in profiles)]).encode()).hexdigest()
        if self._meta("key") != key:  # items' digests and places depend on the model and the profiles
            for table in _ITEM_TABLES:
                self.connection.execute(f"DELETE FROM {table}")
            self.connection.execute("INSERT OR REPLACE INTO meta VALUES ('key', ?)", (key,))
        self._made: list[tuple[str, str, bool]] = []
        self._documents: list[tuple[int, str, bytes]] = []

    def _meta(self, key: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # The items.

    def see(self, ids: list[int]) -> list[int]:
        """Record the items of ``ids`` (each once) as given to this publication; those that already were."""
        given = self.connection.execute(f"SELECT id FROM seen WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()
        self.connection.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((engagement_id,) for engagement_id in ids))
        return [engagement_id for (engagement_id,) in given]

    def known(self, ids: list[int]) -> dict[int, tuple[str, Entry, int]]:
        """The stored items of ``ids``, by id: each one's stamp, entry, and in how many languages its search
        document is stored."""
        return {
            engagement_id: (stamp, Entry(engagement_id, published_at, sys.intern(kind), country,
                                         tuple(json.loads(partners)), digest), documents)
            for engagement_id, stamp, digest, published_at, kind, country, partners, documents in self.connection.execute(
                "SELECT id, stamp, digest, published_at, kind, country, partners,"
                " (SELECT count(*) FROM documents WHERE documents.id = items.id)"
                f" FROM items WHERE id IN ({', '.join('?' * len(ids))})", ids)
        }

    def put(self, stamp: str, view: ItemView, entry: Entry, lists: Iterable[str]) -> None:
        """Store ``view``'s item as made from ``stamp``, with its ``entry``, on ``lists``."""
        self.connection.execute(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.engagement_id, stamp, entry.digest, entry.published_at, entry.kind, entry.country,
             json.dumps(entry.partners), pickle.dumps(view.item, protocol=pickle.HIGHEST_PROTOCOL),
             pickle.dumps(ListedItem.of(view), protocol=pickle.HIGHEST_PROTOCOL)))
        self.connection.execute("DELETE FROM places WHERE id = ?", (entry.engagement_id,))
        self.connection.executemany("INSERT INTO places VALUES (?, ?, ?, ?)",
                                    ((name, entry.published_at, entry.engagement_id, entry.digest) for name in lists))

    def forget(self, engagement_id: int) -> None:
        """Drop the item (no longer on the site)."""
        for table in _ITEM_TABLES:
            self.connection.execute(f"DELETE FROM {table} WHERE id = ?", (engagement_id,))

    def forget_unseen(self) -> int:
        """Drop the items not given to this publication; how many there were."""
        self._flush()
        for table in ("places", "documents"):
            self.connection.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT id FROM seen)")
        return self.connection.execute("DELETE FROM items WHERE id NOT IN (SELECT id FROM seen)").rowcount

    def count(self) -> int:
        """How many items are stored."""
        return self.connection.execute("SELECT count(*) FROM items").fetchone()[0]

    def order(self) -> Iterator[int]:
        """The stored items' ids in the lists' order: newest first, ties by engagement id."""
        return (engagement_id for (engagement_id,) in self.connection.execute(
            "SELECT id FROM items ORDER BY published_at DESC, id"))

    def countries(self) -> list[str]:
        """The countries the stored items took place in."""
        return [code for (code,) in self.connection.execute("SELECT DISTINCT country FROM items WHERE country IS NOT NULL")]

    def partners(self) -> list[str]:
        """The names of the stored items' partners."""
        return [name for (name,) in self.connection.execute("SELECT DISTINCT value FROM items, json_each(items.partners)")]

    def newest(self, count: int) -> list[Listed]:
        """The ``count`` newest stored items."""
        return self.connection.execute("SELECT id, digest FROM items ORDER BY published_at DESC, id LIMIT ?",
                                       (count,)).fetchall()

    def items(self, ids: Iterable[int]) -> Iterator[PublishedItem]:
        """The stored items of ``ids``, in no particular order."""
        return self._read("item", ids)

    def listed(self, ids: Iterable[int]) -> Iterator[ListedItem]:
        """What the lists show of the stored items of ``ids``, in no particular order."""
        return self._read("listed", ids)

    def _read(self, column: str, ids: Iterable[int]) -> Iterator:
        wanted = list(ids)
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start:start + _BATCH]
            for (blob,) in self.connection.execute(
                    f"SELECT {column} FROM items WHERE id IN ({', '.join('?' * len(batch))})", batch):
                yield pickle.loads(blob)  # noqa: S301 - written by `put` only

    # The lists and the search indexes.

    def lengths(self) -> dict[str, int]:
        """How many items each list holds, by list."""
        return dict(self.connection.execute("SELECT list, count(*) FROM places GROUP BY list"))

    def listing(self, name: str) -> Iterator[Listed]:
        """The items of the list ``name``, newest first, read as they are asked for."""
        return iter(self.connection.execute(
            "SELECT id, digest FROM places WHERE list = ? ORDER BY published_at DESC, id", (name,)))

    def index(self, engagement_id: int, language: str, document: bytes) -> None:
        """Store the item's search document in ``language``."""
        self._documents.append((engagement_id, language, document))
        if len(self._documents) >= _BATCH:
            self._flush()

    def documents(self, language: str) -> Iterator[bytes]:
        """The stored items' search documents in ``language``, in the lists' order."""
        self._flush()
        return (document for (document,) in self.connection.execute(
            "SELECT document FROM items JOIN documents ON documents.id = items.id AND documents.language = ?"
            " ORDER BY items.published_at DESC, items.id", (language,)))

    # The site's files.

    def recorded(self) -> bool:
        """Whether the store records any file of the site."""
        return self.connection.execute("SELECT 1 FROM files LIMIT 1").fetchone() is not None

    def record(self, files: Iterable[tuple[str, str]]) -> None:
        """Record ``files`` (path, fingerprint) as made by the last publication (from an older site's manifest)."""
        self.connection.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)", files)

    def fingerprints(self, paths: list[str]) -> dict[str, str]:
        """What the last publication made each page of ``paths`` of, by path (the pages it did not make left out)."""
        return dict(self.connection.execute(
            f"SELECT path, fingerprint FROM files WHERE path IN ({', '.join('?' * len(paths))})", paths))

    def make(self, path: str, fingerprint: str, written: bool) -> None:
        """Record ``path`` as made by this publication (once), of ``fingerprint``; ``written``: its bytes changed."""
        self._made.append((path, fingerprint, written))
        if len(self._made) >= _BATCH:
            self._flush()

    def pages(self) -> Iterator[str]:
        """The HTML pages this publication made, sorted."""
        self._flush()
        return (path for (path,) in self.connection.execute(
            "SELECT path FROM made WHERE path GLOB '*.html' ORDER BY path"))

    def made(self, written: bool) -> list[str]:
        """The files this publication wrote (``written``), or left as they were, sorted."""
        self._flush()
        return [path for (path,) in self.connection.execute(
            "SELECT path FROM made WHERE written = ? ORDER BY path", (written,))]

    def unmade(self) -> list[str]:
        """The files the last publication made and this one did not, sorted."""
        self._flush()
        return [path for (path,) in self.connection.execute(
            "SELECT path FROM files WHERE path NOT IN (SELECT path FROM made) ORDER BY path")]

    def _flush(self) -> None:
        if self._made:
            self.connection.executemany("INSERT INTO made VALUES (?, ?, ?)", self._made)
            self._made.clear()
        if self._documents:
            self.connection.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)", self._documents)
            self._documents.clear()

    def commit(self) -> None:
        """Record this publication's files as the site's and make its changes last (`close` without it drops them)."""
        self._flush()
        self.connection.execute("DELETE FROM files WHERE path NOT IN (SELECT path FROM made)")
        self.connection.execute("INSERT OR REPLACE INTO files (path, fingerprint) SELECT made.path, made.fingerprint FROM made"
                                " LEFT JOIN files ON files.path = made.path WHERE files.fingerprint IS NOT made.fingerprint")
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()
