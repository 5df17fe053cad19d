"""Benchmark of the mailbox intake: 1,000 queued submissions filed from a real Dovecot into PostgreSQL.

Starts a throw-away Dovecot (``notifications.local_imap``, as the tests do), appends 1,000 achievements
from 1,000 senders to INBOX and the same to a second folder, then times, in the same run, a plain
imap-tools loop (fetch every message, move it; no parsing, no database) on the second folder and
``read_mailbox`` (fetch, parse, file each message in its transaction with its confirmation mail,
move) on INBOX. Prints messages per second for both. Not a test. Goal: 1,000 messages in <= 30 s.

    .venv/bin/python benchmarks/mail_intake.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import imaplib
import os
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

# benchmarks/portal.py would shadow the portal package the intake imports: the project's root comes first
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imap_tools import MailBoxUnencrypted  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from models import InboundMessage, SubmissionWindow  # noqa: E402
from models.db import Database  # noqa: E402
from notifications.local_imap import ImapServer, running_dovecot  # noqa: E402
from notifications.mailbox import read_mailbox  # noqa: E402
from scratch_postgres import scratch_postgres  # noqa: E402
from settings import Settings  # noqa: E402
from states.clock import SimulatedClock  # noqa: E402
from states.directory import load_sample  # noqa: E402

NOW = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)


def message(number: int) -> bytes:
    return (f"From: Sender {number} <sender{number}@org{number}.example>\r\nTo: secretariat@coalition.example\r\n"
            f"Subject: Achievement: Achievement number {number}\r\nDate: Fri, 01 Mar 2024 09:00:00 +0000\r\n"
            f"Message-ID: <bench-{number}@org{number}.example>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nOrganization: Org {number}\r\n\r\n"
            f"What org {number} achieved against synthetic drugs this year.\r\n").encode()


def append(server: ImapServer, folder: str, count: int) -> None:
    imap = imaplib.IMAP4(server.host, server.port)
    imap.login(server.username, server.password)
    imap.create(folder)
    for number in range(count):
        imap.append(folder, None, None, message(number))
    imap.logout()


def plain_loop(server: ImapServer, folder: str) -> int:
    """What imap-tools alone costs: fetch every message of ``folder`` in bulk, then move them all."""
    with MailBoxUnencrypted(server.host, server.port).login(server.username, server.password, folder) as box:
        box.folder.create(f"{folder}-done")
        uids = [item.uid for item in box.fetch(mark_seen=False, bulk=50)]
        box.move(uids, f"{folder}-done")
    return len(uids)


def measure(url: str, count: int) -> None:
    db = Database(url)
    db.migrate()
    load_sample(db)
    with db.transaction() as session:
        session.execute(update(SubmissionWindow).values(opens_on=date(2024, 1, 1), closes_on=date(2024, 12, 31)))
    with running_dovecot() as server, tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, secret_key="bench-key-" + "x" * 40,
                            imap_host=server.host, imap_port=server.port, imap_ssl=False,
                            imap_username=server.username, imap_password=server.password)
        started = time.perf_counter()
        append(server, "INBOX", count)
        append(server, "Baseline", count)
        print(f"  appended 2 x {count:,} messages in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        fetched = plain_loop(server, "Baseline")
        plain = time.perf_counter() - started
        print(f"  plain imap-tools fetch + move: {fetched:,} messages in {plain:6.2f} s ({fetched / plain:7,.0f} messages/s)")
        started, cpu = time.perf_counter(), time.process_time()
        run = read_mailbox(db, settings, clock=SimulatedClock(NOW))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"  mail intake (file + move):     {len(run.filed):,} messages in {elapsed:6.2f} s "
              f"({len(run.filed) / elapsed:7,.0f} messages/s, {cpu:.2f} s CPU here) - {run.summary()}")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == count
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000)
    parser.add_argument("--postgres", default=os.environ.get("ENGAGE_TEST_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    arguments = parser.parse_args()
    print(f"{arguments.messages:,} queued messages; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with scratch_postgres(arguments.postgres) as url:
        print("PostgreSQL:")
        measure(url, arguments.messages)


if __name__ == "__main__":
    main()
