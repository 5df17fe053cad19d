"""The IMAP reader of the Secretariat's mailbox: fetch, file through ``states.mail_intake``, then move.

Each batch of messages is judged by size first (``RFC822.SIZE``: a message over
``MAX_MESSAGE_BYTES`` is refused from its headers alone, its body never fetched), then each message
is filed (committed) and only then moved to ``Processed`` or ``Refused`` (IMAP ``MOVE`` where the
server offers it, else COPY, then delete). A crash between the commit and the move leaves the
message in the folder; the next run finds its key already filed and only moves it, unless the
crash fell between a COPY and its delete: a copy holding the same Message-ID already in the
destination folder means the original is only deleted, so the archive folders hold each message
once (a message without a Message-ID is moved again).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

from imap_tools import AND, H, MailBox, MailBoxUnencrypted
from imap_tools.mailbox import BaseMailBox

from models.db import Database
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import InputError
from states.mail_intake import (MAX_MESSAGE_BYTES, MESSAGE_ID, PROCESSED, REFUSED, Filed, file_message,
                                file_oversized)

BATCH = 50
WORKERS = 4
FETCH_BYTES = 64 * 1024 * 1024
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass
class MailboxRun:
    """What one run of the intake did: each message's outcome, in the order read."""

    filed: list[Filed] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(item.outcome for item in self.filed))

    def summary(self) -> str:
        counts = self.counts()
        if not counts:
            return "no message in the mailbox"
        return f"{len(self.filed)} messages: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


def connect(settings: Settings) -> BaseMailBox:
    """The configured mailbox, logged in at ``imap_folder``; ``InputError`` when it is not configured."""
    if not settings.imap_host or not settings.imap_username or settings.imap_password is None:
        raise InputError("the mailbox is not configured: set ENGAGE_IMAP_HOST, ENGAGE_IMAP_USERNAME and "
                         "ENGAGE_IMAP_PASSWORD")
    box = MailBox(settings.imap_host, settings.imap_port) if settings.imap_ssl \
        else MailBoxUnencrypted(settings.imap_host, settings.imap_port)
    box.login(settings.imap_username, settings.imap_password, initial_folder=settings.imap_folder)
    # imaplib keeps the capabilities announced before login; servers (Dovecot) announce MOVE only after it.
    status, data = box.client.capability()
    if status == "OK" and data and isinstance(data[0], bytes):
        box.client.capabilities = tuple(data[0].decode().upper().split())
    return box


def read_mailbox(db: Database, settings: Settings, *, clock: Clock = SYSTEM_CLOCK, limit: int | None = None,
                 batch: int = BATCH) -> MailboxRun:
    """File every message of the mailbox's folder once (at most ``limit``), moving each after its commit."""
    run = MailboxRun()
    with connect(settings) as box:
        for folder in (PROCESSED, REFUSED):
            if not box.folder.exists(folder):
                box.folder.create(folder)
        uids = box.uids()[:limit] if limit else box.uids()
        for start in range(0, len(uids), batch):
            chunk = uids[start:start + batch]
            moves: dict[str, list[str]] = {PROCESSED: [], REFUSED: []}
            replayed: dict[str, list[str]] = {PROCESSED: [], REFUSED: []}
            for uid, filed in _file_chunk(box, db, chunk, settings, clock):
                run.filed.append(filed)
                (replayed if filed.replayed else moves)[filed.folder].append(uid)
            for folder in (PROCESSED, REFUSED):
                copied = _already_in(box, replayed[folder], folder, settings.imap_folder)
                if copied:
                    box.delete(copied)
                moved = moves[folder] + [uid for uid in replayed[folder] if uid not in copied]
                if moved:
                    box.move(moved, folder)
    return run


def _already_in(box: BaseMailBox, uids: list[str], folder: str, source: str) -> list[str]:
    """Those of ``uids`` (messages filed by an earlier run) whose Message-ID a message of ``folder`` holds."""
    if not uids:
        return []
    ids = {uid: _message_id(headers) for uid, headers in _fetch(box, uids, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")}
    box.folder.set(folder, readonly=True)
    try:
        found = [uid for uid, message_id in ids.items()
                 if message_id and box.uids(AND(header=H("Message-ID", message_id)))]
    finally:
        box.folder.set(source)
    return found


def _message_id(headers: bytes) -> str | None:
    found = MESSAGE_ID.search(headers.decode("ascii", "replace"))
    return found.group(0) if found else None


def _file_chunk(box: BaseMailBox, db: Database, uids: list[str], settings: Settings,
                clock: Clock) -> Iterator[tuple[str, Filed]]:
    sizes = {uid: int(size) for uid, size in _fetch(box, uids, "(RFC822.SIZE)", _SIZE)}
    small = [uid for uid in uids if sizes.get(uid, 0) <= MAX_MESSAGE_BYTES]
    for uid in uids:
        if uid in sizes and uid not in small:
            headers = dict(_fetch(box, [uid], "(BODY.PEEK[HEADER])"))
            yield uid, file_oversized(db, headers.get(uid, b""), sizes[uid], clock=clock)
    # PostgreSQL files several senders at once (each message is its own transaction), each sender's messages
    # one after the other in their order of arrival (a first answer stays first); SQLite has one writer anyway.
    workers = 1 if db.dialect == "sqlite" else WORKERS

    def file_in_order(messages: list[tuple[str, bytes]]) -> list[tuple[str, Filed]]:
        return [(uid, file_message(db, raw, settings=settings, clock=clock)) for uid, raw in messages]

    for group in _by_size(small, sizes):
        by_sender: dict[str, list[tuple[str, bytes]]] = {}
        for uid, raw in _fetch(box, group, "(BODY.PEEK[])"):
            by_sender.setdefault(_sender(raw), []).append((uid, raw))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            filed = dict(item for items in pool.map(file_in_order, by_sender.values()) for item in items)
        yield from ((uid, filed[uid]) for uid in group if uid in filed)


def _sender(raw: bytes) -> str:
    """The From header as sent, to keep one sender's messages in order (not an identity: the intake judges that)."""
    return str(BytesHeaderParser(policy=compat32).parsebytes(raw[:65536]).get("From", "")).strip().lower()


def _by_size(uids: list[str], sizes: dict[str, int]) -> Iterator[list[str]]:
    """``uids`` in groups of at most ``FETCH_BYTES`` (one message over it alone), so a batch of large
    messages is never held in memory at once."""
    group: list[str] = []
    total = 0
    for uid in uids:
        if group and total + sizes.get(uid, 0) > FETCH_BYTES:
            yield group
            group, total = [], 0
        group.append(uid)
        total += sizes.get(uid, 0)
    if group:
        yield group


def _fetch(box: BaseMailBox, uids: list[str], what: str, pattern: re.Pattern[bytes] | None = None,
           ) -> Iterator[tuple[str, bytes]]:
    """(uid, literal) for each message, or (uid, the ``pattern``'s group) for an attribute without a literal."""
    status, data = box.client.uid("FETCH", ",".join(uids), what)
    if status != "OK":
        raise ConnectionError(f"the IMAP server refused FETCH {what}: {data!r}")
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if not isinstance(head, bytes) or not (uid := _UID.search(head)):
            continue
        if pattern is not None:
            if found := pattern.search(head):
                yield uid.group(1).decode(), found.group(1)
        elif isinstance(item, tuple):
            yield uid.group(1).decode(), item[1]
