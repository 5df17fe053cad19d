"""Outbox delivery against a real SMTP server (aiosmtpd on localhost) and real databases."""

from __future__ import annotations

import json
import mailbox
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from models.db import Database
from models.outbox import OutboxMessage
from notifications.dispatcher import dispatch_pending, list_outbox, requeue
from notifications.email_channel import message_id_for
from notifications.errors import OutboxAlreadySent, OutboxMessageNotFound
from notifications.mail_sink import MaildirHandler, running_mail_sink, running_smtp_server
from settings import Settings
from states.clock import SimulatedClock

START = datetime(2024, 2, 1, 9, 0, tzinfo=timezone.utc)
WORKER = Path(__file__).with_name("dispatcher_worker.py")
WORKER_ENVIRONMENT = os.environ | {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(WORKER.parent.parent)}  # this checkout's code


def add_rows(db: Database, count: int, *, start: int = 0, **overrides: object) -> list[int]:
    """Insert ``count`` pending e-mail rows, one distinct recipient each; return their ids."""
    rows = [
        {
            "dedupe_key": f"transition:{i}:invitation:contact:{i}",
            "notification_type": "invitation",
            "channel": "email",
            "recipient_name": f"Partner {i}",
            "recipient_address": f"partner{i}@example.org",
            "language": ("en", "es", "fr")[i % 3],
            "mandatory": False,
            "context": {"engagement_title": f"Presentation {i} to SWG 2.2", "swg_code": "2.2"},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": START,
            "created_at": START,
        }
        | overrides
        for i in range(start, start + count)
    ]
    with db.transaction() as session:
        return list(session.scalars(insert(OutboxMessage).returning(OutboxMessage.id), rows))


def received(maildir: Path) -> list[Message]:
    return list(mailbox.Maildir(maildir, create=False)) if maildir.exists() else []


def header(message: Message, name: str) -> str:
    return str(make_header(decode_header(message[name])))


def settings_for(port: int, **overrides: object) -> Settings:
    values = {"smtp_port": port, "smtp_timeout_seconds": 5.0, "outbox_backoff_seconds": 60.0, "outbox_max_attempts": 3}
    return Settings(**(values | overrides))


def statuses(db: Database) -> Counter[str]:
    with db.transaction() as session:
        return Counter(session.scalars(select(OutboxMessage.status)))


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def sink(maildir: Path) -> Iterator[int]:
    with running_mail_sink(maildir) as port:
        yield port


def test_delivers_localized_messages_with_stable_headers(db: Database, sink: int, maildir: Path) -> None:
    clock = SimulatedClock(START)
    ids = add_rows(db, 3)
    add_rows(db, 1, start=10, recipient_name="Zoë Ñandú-Ørsted", language="fr")
    add_rows(db, 1, start=20, status="suppressed", status_reason="contact opted out of reminders")

    report = dispatch_pending(db, clock=clock, settings=settings_for(sink))

    assert (report.claimed, report.sent, report.retrying, report.dead) == (4, 4, 0, 0)
    messages = {parseaddr(m["To"])[1]: m for m in received(maildir)}
    assert set(messages) == {"partner0@example.org", "partner1@example.org", "partner2@example.org", "partner10@example.org"}
    english, spanish = messages["partner0@example.org"], messages["partner1@example.org"]
    assert header(english, "Subject") == "Invitation: Presentation 0 to SWG 2.2"
    assert header(spanish, "Subject") == "Invitación: Presentation 1 to SWG 2.2"
    assert (english["Content-Language"], spanish["Content-Language"]) == ("en", "es")
    assert english["Message-ID"] == message_id_for("transition:0:invitation:contact:0")
    assert english["From"] == "Coalition Engage <engage@coalition.example>"
    assert english["Date"] == "Thu, 01 Feb 2024 09:00:00 +0000"
    assert [part.get_content_type() for part in english.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    french = messages["partner10@example.org"]
    assert header(french, "To") == "Zoë Ñandú-Ørsted <partner10@example.org>"
    assert "Bonjour Zoë Ñandú-Ørsted," in french.get_payload()[0].get_payload(decode=True).decode()

    rows = {row.id: row for row in list_outbox(db)}
    assert all(rows[i].status == "sent" and rows[i].sent_at == START and rows[i].attempts == 1 for i in ids)
    [suppressed] = list_outbox(db, status="suppressed")
    assert (suppressed.status_reason, suppressed.attempts, suppressed.sent_at) == ("contact opted out of reminders", 0, None)
    assert dispatch_pending(db, clock=clock, settings=settings_for(sink)).claimed == 0


def test_one_smtp_connection_serves_a_whole_batch(sqlite_db: Database, maildir: Path) -> None:
    peers: list[object] = []

    class PeerRecorder(MaildirHandler):
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            peers.append(session.peer)
            return await super().handle_DATA(server, session, envelope)

    add_rows(sqlite_db, 30)
    with running_smtp_server(PeerRecorder(maildir)) as port:
        dispatch_pending(sqlite_db, clock=SimulatedClock(START), settings=settings_for(port), batch_size=10)
    assert len(peers) == 30
    assert len(set(peers)) == 1


def test_two_dispatchers_at_once_send_every_row_exactly_once(db: Database, sink: int, maildir: Path) -> None:
    count = 2000 if db.dialect == "postgresql" else 600
    add_rows(db, count)
    reports = []

    def run() -> None:
        own = Database(db.url)  # each dispatcher with its own engine and connections
        try:
            reports.append(dispatch_pending(own, clock=SimulatedClock(START), settings=settings_for(sink), batch_size=25))
        finally:
            own.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    message_ids = Counter(m["Message-ID"] for m in received(maildir))
    assert len(message_ids) == count
    assert max(message_ids.values()) == 1
    assert sum(report.sent for report in reports) == count
    assert all(report.sent > 0 for report in reports), "both dispatchers took part"
    assert statuses(db) == {"sent": count}


def test_killed_dispatchers_lose_nothing_and_resend_with_the_same_message_id(
    db: Database, sink: int, maildir: Path
) -> None:
    count, rounds, lease = 400, 50, "0.5"
    ids = add_rows(db, count, next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    rng = random.Random(20240209)
    for _ in range(rounds):
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), db.url, str(sink), lease], stdout=subprocess.PIPE, text=True, env=WORKER_ENVIRONMENT
        )
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.12))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
    sent_before_final_run = statuses(db)["sent"]
    subprocess.run([sys.executable, str(WORKER), db.url, str(sink), lease, "--until-empty"], check=True, timeout=60,
                   capture_output=True, env=WORKER_ENVIRONMENT)

    assert statuses(db) == {"sent": count}
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for message in received(maildir):
        by_recipient[parseaddr(message["To"])[1]].append(message["Message-ID"])
    assert set(by_recipient) == {f"partner{i}@example.org" for i in range(count)}, "no row lost"
    for i, message_ids in ((i, by_recipient[f"partner{i}@example.org"]) for i in range(count)):
        assert set(message_ids) == {message_id_for(f"transition:{i}:invitation:contact:{i}")}
    duplicates = sum(len(message_ids) - 1 for message_ids in by_recipient.values())
    print(
        f"\nkill test ({db.dialect}): {rounds} kills, {sent_before_final_run}/{len(ids)} rows sent before the final run, "
        f"{duplicates} duplicate deliveries, all with their original Message-ID"
    )


class RefusingHandler(MaildirHandler):
    """Refuses every recipient with ``reply`` until ``reply`` is set to None."""

    def __init__(self, maildir: Path, reply: str | None) -> None:
        super().__init__(maildir)
        self.reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if self.reply:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.mark.parametrize("reply", ["451 4.3.0 Mail server temporarily rejected message", "550 5.1.1 Mailbox unavailable"])
def test_refused_messages_back_off_then_die_then_requeue_delivers_them(db: Database, maildir: Path, reply: str) -> None:
    clock = SimulatedClock(START)
    [row_id] = add_rows(db, 1)
    handler = RefusingHandler(maildir, reply)
    with running_smtp_server(handler) as port:
        settings = settings_for(port, outbox_backoff_seconds=60.0, outbox_max_attempts=3)
        for attempt, wait in ((1, 60), (2, 120)):
            report = dispatch_pending(db, clock=clock, settings=settings)
            assert report.retrying == 1
            [row] = list_outbox(db)
            assert (row.status, row.attempts, row.next_attempt_at) == ("pending", attempt, clock.now() + timedelta(seconds=wait))
            assert reply.split()[0] in (row.last_error or "")
            assert dispatch_pending(db, clock=clock, settings=settings).claimed == 0, "not before its backoff"
            clock.advance(timedelta(seconds=wait))
        assert dispatch_pending(db, clock=clock, settings=settings).dead == 1
        [row] = list_outbox(db, status="dead")
        assert (row.attempts, row.status_reason) == (3, "gave up after 3 attempts")
        assert reply.split(maxsplit=1)[1] in (row.last_error or "")

        handler.reply = None
        requeued = requeue(db, row_id, clock)
        assert (requeued.status, requeued.attempts, requeued.next_attempt_at) == ("pending", 0, clock.now())
        assert dispatch_pending(db, clock=clock, settings=settings).sent == 1
    assert [m["Message-ID"] for m in received(maildir)] == [message_id_for("transition:0:invitation:contact:0")]
    with pytest.raises(OutboxAlreadySent, match="already sent"):
        requeue(db, row_id, clock)


def test_a_server_that_never_answers_costs_one_timeout_per_batch(db: Database, maildir: Path) -> None:
    clock = SimulatedClock(START)
    add_rows(db, 6)
    silent = socket.create_server(("127.0.0.1", 0))  # accepts TCP connections, never says a word
    try:
        settings = settings_for(silent.getsockname()[1], smtp_timeout_seconds=0.3, outbox_max_attempts=2)
        began = time.monotonic()
        report = dispatch_pending(db, clock=clock, settings=settings)
        assert time.monotonic() - began < 2.0
        assert report.retrying == 6
        assert all("timed out" in (row.last_error or "") for row in list_outbox(db))
        clock.advance(timedelta(minutes=1))
        assert dispatch_pending(db, clock=clock, settings=settings).dead == 6
    finally:
        silent.close()
    dead = list_outbox(db, status="dead")
    assert len(dead) == 6 and all("unavailable" in (row.last_error or "") for row in dead)

    for row in dead:
        requeue(db, row.id, clock)
    with running_mail_sink(maildir) as port:
        assert dispatch_pending(db, clock=clock, settings=settings_for(port)).sent == 6
    assert len(received(maildir)) == 6
    assert statuses(db) == {"sent": 6}


def test_a_row_left_sending_by_a_crash_is_reclaimed_after_its_lease(db: Database, sink: int, maildir: Path) -> None:
    clock = SimulatedClock(START)
    [expired] = add_rows(db, 1, status="sending", next_attempt_at=START - timedelta(seconds=1))
    [leased] = add_rows(db, 1, start=1, status="sending", next_attempt_at=START + timedelta(minutes=5))
    report = dispatch_pending(db, clock=clock, settings=settings_for(sink))
    assert (report.claimed, report.reclaimed, report.sent) == (1, 1, 1)
    rows = {row.id: row.status for row in list_outbox(db)}
    assert rows == {expired: "sent", leased: "sending"}
    clock.advance(timedelta(minutes=5))
    assert dispatch_pending(db, clock=clock, settings=settings_for(sink)).sent == 1
    assert len(received(maildir)) == 2


def test_undeliverable_rows_die_at_once(db: Database, sink: int, maildir: Path) -> None:
    clock = SimulatedClock(START)
    add_rows(db, 1, notification_type="carrier_pigeon")
    add_rows(db, 1, start=1, recipient_name="Eve\r\nBcc: victim@example.org")
    add_rows(db, 1, start=2, recipient_address="not-an-address")
    report = dispatch_pending(db, clock=clock, settings=settings_for(sink))
    assert report.dead == 3
    errors = sorted(row.last_error or "" for row in list_outbox(db, status="dead"))
    assert "unknown notification type 'carrier_pigeon'" in errors[0]
    assert any("recipient name must not contain line breaks" in error for error in errors)
    assert any("not an e-mail address" in error for error in errors)
    assert received(maildir) == []


def test_requeue_and_listing_refuse_what_they_cannot_do(db: Database) -> None:
    with pytest.raises(OutboxMessageNotFound, match="no outbox message with id 999"):
        requeue(db, 999, SimulatedClock(START))
    with pytest.raises(ValueError, match="unknown outbox status 'lost'"):
        list_outbox(db, status="lost")
    add_rows(db, 5)
    assert [row.id for row in list_outbox(db, limit=2)] == [5, 4]


class ChatReceiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_chat_rows_reach_a_webhook_through_apprise(db: Database, sink: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatReceiver)
    ChatReceiver.received, ChatReceiver.status = [], 500
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = SimulatedClock(START)
    try:
        add_rows(
            db,
            1,
            channel="chat",
            notification_type="escalation",
            recipient_name="Secretariat",
            recipient_address=f"json://127.0.0.1:{server.server_address[1]}/",
            context={"engagement_title": "Dialogue Mexico", "engagement_kind": "national_dialogue", "reminder_number": 3},
        )
        settings = settings_for(sink)
        assert dispatch_pending(db, clock=clock, settings=settings).retrying == 1
        [row] = list_outbox(db)
        assert "500" in (row.last_error or "")
        ChatReceiver.status = 200
        clock.advance(timedelta(minutes=1))
        assert dispatch_pending(db, clock=clock, settings=settings).sent == 1
    finally:
        server.shutdown()
        server.server_close()
    [posted] = ChatReceiver.received[1:]
    assert posted["title"] == "Escalation: Dialogue Mexico needs attention"
    assert "after 3 reminders" in " ".join(posted["message"].split())
