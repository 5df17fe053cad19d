"""The site's store of its items, an SQLite file beside the site's folder (not published): each item as
last published, what it was made from (its stamp) and its digest, so that a publication makes and
renders only what changed.

The lists are rebuilt from it: every item's `Entry` (its place in the lists and its digest) is read
at once; what a list shows of an item (`ListedItem`, its summary sanitized once) only for the list
pages rendered again, and whole items only for their own pages, the home page and the feeds. It holds nothing that is
not on the site, and losing it costs one publication that makes every item again.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from website.view import ItemView, ListedItem, PartnerProfile, PublishedItem

#: Changes whenever the items' model changes (their classes, pickled): the store is then emptied.
_MODEL_DIGEST = hashlib.sha256(b"".join(Path(__file__).with_name(name).read_bytes() for name in ("view.py", "i18n.py"))).hexdigest()
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, stamp TEXT NOT NULL, digest TEXT NOT NULL,"
    " published_at TEXT NOT NULL, kind TEXT NOT NULL, country TEXT, partners TEXT NOT NULL, item BLOB NOT NULL,"
    " listed BLOB NOT NULL)",
)
#: Seconds a publication waits for another one of the same site to end.
_WAIT = 3600
#: Ids per query when reading items by id (below SQLite's limit on parameters).
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Entry:
    """What the lists know of an item: its place in them (date, kind, country, partners) and its digest."""

    engagement_id: int
    published_at: datetime
    kind: str
    country: str | None
    partners: tuple[str, ...]
    digest: str

    @property
    def age(self) -> tuple[datetime, int]:
        """The lists' order, reversed: the greater, the newer; ties by engagement id, the lower first."""
        return (self.published_at, -self.engagement_id)

    @classmethod
    def of(cls, view: ItemView) -> Entry:
        item = view.item
        return cls(item.engagement_id, item.published_at, item.kind, item.country, tuple(item.partners), view.digest)


def store_path(site_dir: Path) -> Path:
    """The store of the site in ``site_dir``: a hidden file beside the folder, so that it is not served."""
    site_dir = site_dir.resolve()
    return site_dir.parent / f".{site_dir.name}.items.sqlite"


class Store:
    """The items of the site in ``site_dir`` as last published, for the partners' ``profiles``.

    Items are pickled: the file is written by this module only, and not published.
    """

    def __init__(self, site_dir: Path, profiles: Iterable[PartnerProfile]) -> None:
        self.connection = sqlite3.connect(store_path(site_dir), isolation_level=None, timeout=_WAIT)
        # Until `commit`: one publication of a site at a time, and none of its changes seen before the end.
        self.connection.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            self.connection.execute(statement)
        key = hashlib.sha256("\0".join([_MODEL_DIGEST, *(p.model_dump_json() for p in profiles)]).encode()).hexdigest()
        if self._meta("key") != key:  # items' digests and places depend on the model and the profiles
            self.connection.execute("DELETE FROM items")
            self.connection.execute("INSERT OR REPLACE INTO meta VALUES ('key', ?)", (key,))

    def _meta(self, key: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def stamps(self) -> dict[int, tuple[str, Entry]]:
        """Every stored item's stamp and entry, by engagement id."""
        return {
            engagement_id: (stamp, Entry(engagement_id, datetime.fromisoformat(published_at), sys.intern(kind), country,
                                         tuple(map(sys.intern, json.loads(partners))), digest))
            for engagement_id, stamp, digest, published_at, kind, country, partners in self.connection.execute(
                "SELECT id, stamp, digest, published_at, kind, country, partners FROM items")
        }

    def put(self, stamp: str, view: ItemView) -> Entry:
        """Store ``view``'s item as made from ``stamp``; its entry."""
        entry = Entry.of(view)
        self.connection.execute(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.engagement_id, stamp, entry.digest, entry.published_at.isoformat(), entry.kind, entry.country,
             json.dumps(entry.partners), pickle.dumps(view.item, protocol=pickle.HIGHEST_PROTOCOL),
             pickle.dumps(ListedItem.of(view), protocol=pickle.HIGHEST_PROTOCOL)))
        return entry

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

    def forget(self, ids: Iterable[int]) -> None:
        """Drop the items of ``ids`` (no longer on the site)."""
        self.connection.executemany("DELETE FROM items WHERE id = ?", ((engagement_id,) for engagement_id in ids))

    def commit(self) -> None:
        """Make the publication's changes to the store last (`close` without it drops them)."""
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()
