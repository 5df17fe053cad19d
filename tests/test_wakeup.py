"""Long-lived workers woken by the commits that queue work (PostgreSQL LISTEN/NOTIFY), not by fast polling."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import Database
from notifications.wakeup import WorkSignal
from states.approvals import record_decision
from tests.world import awaiting_approval, clock_at, seeded

CHAIR = "swg11.incb@cochairs.example"  # SWG 1.1 decides under "any": one approval sends the invitation


def test_a_commit_that_queues_mail_wakes_the_listener_and_a_rollback_does_not(postgres_db: Database) -> None:
    seeded(postgres_db)
    clock = clock_at(2024, 2, 1)
    with WorkSignal(postgres_db) as work:
        assert work.wait(0.3) is False  # nothing committed
        with pytest.raises(RuntimeError), postgres_db.engine.begin() as connection:
            connection.execute(text("INSERT INTO outbox (dedupe_key, notification_type, channel, recipient_name, "
                                    "recipient_address, language, mandatory, status, attempts, next_attempt_at, "
                                    "created_at, context) VALUES ('rolled-back', 'reminder', 'email', '', "
                                    "'a@b.example', 'en', true, 'pending', 0, now(), now(), '{}')"))
            raise RuntimeError("rolled back: no notification is delivered")
        assert work.wait(0.5) is False
        engagement = awaiting_approval(postgres_db, clock, swg="1.1")  # its commit queues the approval requests
        started = time.monotonic()
        assert work.wait(10) is True
        assert time.monotonic() - started < 1
        threading.Timer(0.2, lambda: record_decision(postgres_db, engagement, CHAIR, "approve", clock=clock)).start()
        started = time.monotonic()
        assert work.wait(10) is True and time.monotonic() - started < 2  # woken by the decision's commit
        stop = threading.Event()
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        assert work.wait(30, stop) is False and time.monotonic() - started < 2  # a stop ends the wait too


def test_sqlite_has_nothing_to_listen_to_and_waits_its_timeout(sqlite_db: Database) -> None:
    with WorkSignal(sqlite_db) as work:
        started = time.monotonic()
        assert work.wait(0.3) is False and time.monotonic() - started >= 0.3


def _rows(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT notification_type, status FROM outbox ORDER BY id")).all()


def test_a_following_dispatcher_delivers_a_decisions_invitation_at_once(postgres_db: Database, sink: int,
                                                                         maildir: Path, tmp_path: Path) -> None:
    seeded(postgres_db)
    clock = clock_at(2024, 2, 1)
    engagement = awaiting_approval(postgres_db, clock, swg="1.1")
    env = os.environ | {"ENGAGE_DATABASE_URL": postgres_db.url, "ENGAGE_DATA_DIR": str(tmp_path / "data"),
                        "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(sink)}
    command = [str(Path(sys.executable).parent / "engage"), "dispatch", "--follow", "--every", "120"]
    follower = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def delivered() -> int:
            return len(mailbox.Maildir(maildir, create=False)) if maildir.exists() else 0

        deadline = time.monotonic() + 60  # its first round sends the approval requests queued before it started
        while delivered() < len(_rows(postgres_db)):
            assert follower.poll() is None and time.monotonic() < deadline, follower.stderr.read() if follower.poll() else ""
            time.sleep(0.05)
        time.sleep(0.5)
        decided = time.monotonic()
        record_decision(postgres_db, engagement, CHAIR, "approve", clock=clock)
        while ("invitation", "sent") not in _rows(postgres_db) or delivered() < len(_rows(postgres_db)):
            assert follower.poll() is None, follower.communicate()[1]
            assert time.monotonic() - decided < 10, "the invitation waited for the poll (120 s), not the commit"
            time.sleep(0.05)
        print(f"decision to invitation at the sink: {time.monotonic() - decided:.2f} s (poll every 120 s)")
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert "stopped" in out
