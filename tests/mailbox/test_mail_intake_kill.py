"""SIGKILL the intake mid-batch 20 times: no message is lost and none is filed twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from models import InboundMessage, OutboxMessage, PendingSubmission, SubmissionWindow
from models.db import Database
from tests.mailbox.mailbox_world import MAILBOX_ADDRESS, MailboxWorld, mail, settings_for
from notifications.local_imap import ImapServer
from tests.world import clock_at, seeded

pytestmark = pytest.mark.imap

MESSAGES, KILLS = 150, 20


def filed_so_far(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage))


def test_killed_intake_loses_nothing_and_files_nothing_twice(postgres_db: Database, imap_server: ImapServer,
                                                            tmp_path: Path) -> None:
    seeded(postgres_db)
    with postgres_db.transaction() as session:  # the subprocess runs on the real clock: its windows are open
        session.execute(update(SubmissionWindow).values(opens_on=clock_at(2000, 1, 1).now().date(),
                                                        closes_on=clock_at(2099, 12, 31).now().date()))
    world = MailboxWorld(postgres_db, settings_for(postgres_db, imap_server, tmp_path), clock_at(2024, 2, 1), imap_server)
    for n in range(MESSAGES):
        world.append(mail(f"sender{n}@org{n}.example", f"Achievement: Achievement number {n}",
                          f"Organization: Org {n}\n\nWhat org {n} achieved.\n"))
    env = os.environ | {
        "ENGAGE_DATABASE_URL": postgres_db.url, "ENGAGE_DATA_DIR": str(tmp_path / "data"),
        "ENGAGE_SECRET_KEY": world.settings.secret_key, "ENGAGE_IMAP_HOST": imap_server.host,
        "ENGAGE_IMAP_PORT": str(imap_server.port), "ENGAGE_IMAP_SSL": "false",
        "ENGAGE_IMAP_USERNAME": imap_server.username, "ENGAGE_IMAP_PASSWORD": imap_server.password,
        "ENGAGE_IMAP_ADDRESS": MAILBOX_ADDRESS,
        "ENGAGE_PUBLIC_CONFIRMATIONS_PER_HOUR": str(MESSAGES),  # all 150 arrive within the hour
    }
    command = [str(Path(sys.executable).parent / "engage"), "mail-intake"]
    randomness = random.Random(24)
    killed = 0
    for _ in range(KILLS):  # each run is killed once it has filed a few more messages: mid-batch, mid-commit
        target = filed_so_far(postgres_db) + randomness.randint(1, 12)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while process.poll() is None and filed_so_far(postgres_db) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()
        if world.folders()["INBOX"] == 0:
            break
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert killed >= 10  # the kills did land mid-run

    with postgres_db.transaction() as session:
        filed = session.execute(select(InboundMessage.outcome, func.count()).group_by(InboundMessage.outcome)).all()
        senders = session.scalars(select(PendingSubmission.email)).all()
        confirmations = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.notification_type == "submission_confirmation"))
    assert dict(filed) == {"filed": MESSAGES}
    assert sorted(senders) == sorted(f"sender{n}@org{n}.example" for n in range(MESSAGES))
    assert confirmations == MESSAGES
    assert world.folders() == {"INBOX": 0, "Processed": MESSAGES, "Refused": 0}
