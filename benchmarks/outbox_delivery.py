"""Benchmark: deliver 10,000 outbox e-mails to the local SMTP sink with one and two dispatchers.

The sink (aiosmtpd writing a Maildir) runs in its own process; each dispatcher is a separate
process with its own connections. Prints messages per second and each dispatcher's peak RSS.

    .venv/bin/python benchmarks/outbox_delivery.py [--messages 10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import mailbox
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert

from models.db import Database
from models.outbox import OutboxMessage
from notifications.dispatcher import dispatch_pending
from scratch_postgres import scratch_postgres
from settings import Settings

NOW = datetime.now(timezone.utc)


def seed(url: str, count: int) -> None:
    """Migrate ``url`` and insert ``count`` pending invitations in three languages."""
    database = Database(url)
    database.migrate()
    rows = [
        {
            "dedupe_key": f"bench:{i}",
            "notification_type": ("invitation", "reminder", "decision")[i % 3],
            "channel": "email",
            "recipient_name": f"Partner Contact {i}",
            "recipient_address": f"partner{i}@example.org",
            "language": ("en", "es", "fr")[i % 3],
            "mandatory": False,
            "context": {"engagement_title": f"Engagement {i}", "reminder_number": 1, "decision": "approve", "deadline": "2024-04-30"},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        }
        for i in range(count)
    ]
    with database.transaction() as session:
        session.execute(insert(OutboxMessage), rows)
    database.dispose()


def dispatcher(url: str, port: int, start: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    """One dispatcher process: wait for the others, drain the outbox, report timings and memory."""
    database = Database(url)
    settings = Settings(smtp_port=port)
    start.wait()
    began = time.time()
    report = dispatch_pending(database, settings=settings, batch_size=100)
    ended = time.time()
    results.put((report.sent, began, ended, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run(url: str, count: int, dispatchers: int, workdir: Path) -> None:
    seed(url, count)
    maildir = workdir / f"mail-{dispatchers}"
    sink = subprocess.Popen(
        [sys.executable, "-m", "notifications.mail_sink", "--maildir", str(maildir), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(sink.stdout.readline().split(",")[0].rsplit(":", 1)[1])  # type: ignore[union-attr]
        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(dispatchers), context.Queue()
        processes = [context.Process(target=dispatcher, args=(url, port, start, results)) for _ in range(dispatchers)]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join()
    finally:
        sink.terminate()
        sink.wait()
    sent = sum(outcome[0] for outcome in outcomes)
    elapsed = max(outcome[2] for outcome in outcomes) - min(outcome[1] for outcome in outcomes)
    delivered = len(mailbox.Maildir(maildir, create=False))
    peaks = ", ".join(f"{outcome[3]:.0f}" for outcome in outcomes)
    print(
        f"{dispatchers} dispatcher(s): {sent} sent, {delivered} in the Maildir, {elapsed:.2f} s, "
        f"{sent / elapsed:.0f} messages/s, peak RSS per dispatcher {peaks} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL; a scratch database is created on it")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engage-bench-") as folder:
        workdir = Path(folder)
        print(f"{arguments.messages} messages, database: {'PostgreSQL' if arguments.postgres else 'SQLite'}", flush=True)
        for dispatchers in (1, 2):
            if arguments.postgres:
                with scratch_postgres(arguments.postgres) as url:
                    run(url, arguments.messages, dispatchers, workdir)
            else:
                run(f"sqlite:///{workdir / f'bench-{dispatchers}.db'}", arguments.messages, dispatchers, workdir)


if __name__ == "__main__":
    main()
