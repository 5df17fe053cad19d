"""Outbox delivery against a real SMTP server (aiosmtpd on localhost) and real databases."""

from __future__ import annotations

import asyncio
import json
import mailbox
import multiprocessing
import os
import random
import socket
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from models.db import Database
from models.outbox import OutboxMessage
from models.outbox_channel import OutboxChannel
from notifications.dispatcher import _CLAIMABLE, OUTBOX, POSTING_MARK, dispatch_pending, list_outbox, requeue
from states.reply_address import message_id_for
from notifications.errors import OutboxAlreadySent, OutboxMessageNotFound
from notifications.mail_sink import MaildirHandler, running_mail_sink, running_smtp_server
from settings import Settings
from states.clock import SimulatedClock
from tests.dispatcher_worker import MAX_ATTEMPTS, drain

KEY = Settings().signing_key()  # the suite's ENGAGE_SECRET_KEY (tests/conftest.py), which every settings_for keeps
START = datetime(2024, 2, 1, 9, 0, tzinfo=timezone.utc)
FORK = multiprocessing.get_context("fork")


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
    assert english["Message-ID"] == message_id_for(KEY, "transition:0:invitation:contact:0")
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


@pytest.mark.parametrize("pool_size", [1, 3])
def test_a_small_pool_of_smtp_connections_serves_every_batch(sqlite_db: Database, maildir: Path, pool_size: int) -> None:
    peers: list[object] = []

    class PeerRecorder(MaildirHandler):
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            peers.append(session.peer)
            return await super().handle_DATA(server, session, envelope)

    add_rows(sqlite_db, 30)
    with running_smtp_server(PeerRecorder(maildir)) as port:
        settings = settings_for(port, outbox_pool_size=pool_size)
        assert dispatch_pending(sqlite_db, clock=SimulatedClock(START), settings=settings, batch_size=10).sent == 30
    assert len(peers) == 30
    assert 1 <= len(set(peers)) <= pool_size, "connections are reused across rows and batches"


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


def forked_dispatcher(url: str, port: int, lease: float, max_attempts: int = MAX_ATTEMPTS) -> BaseProcess:
    """A dispatcher draining in a forked child: this process's imports, no interpreter start-up to pay."""
    ready = FORK.Event()
    child = FORK.Process(target=drain, args=(url, port, lease), kwargs={"ready": ready.set, "max_attempts": max_attempts})
    child.start()
    assert ready.wait(30), "the forked dispatcher reached its database"
    return child


def rows_by_recipient(db: Database) -> dict[str, tuple[int, str, int]]:
    """Each row's id, status and attempts, by recipient address."""
    with db.transaction() as session:
        rows = session.execute(select(OutboxMessage.recipient_address, OutboxMessage.id, OutboxMessage.status,
                                      OutboxMessage.attempts)).all()
    return {row.recipient_address: (row.id, row.status, row.attempts) for row in rows}


def deliveries(maildir: Path) -> dict[str, list[str]]:
    """The Message-IDs the sink received, by recipient address (one per delivery)."""
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for message in received(maildir):
        by_recipient[parseaddr(message["To"])[1]].append(message["Message-ID"])
    return by_recipient


KILLS = int(os.environ.get("ENGAGE_DISPATCHER_KILLS", "50"))  # the kill test's SIGKILLs (0-300 ms each); 100 takes ~25 s


def test_killed_dispatchers_dead_letter_nothing_and_resend_only_what_was_on_the_wire(
    db: Database, sink: int, maildir: Path
) -> None:
    count, lease, pool = 10 * KILLS, 1.0, Settings().outbox_pool_size  # more rows than the kills leave time to send
    add_rows(db, count, next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    rng = random.Random(20261203)
    began = time.monotonic()
    for _ in range(KILLS):
        worker = forked_dispatcher(db.url, sink, lease)
        time.sleep(rng.uniform(0.0, 0.3))
        worker.kill()
        worker.join()
    killing = time.monotonic() - began
    sent_before_final_run = statuses(db)["sent"]
    final = FORK.Process(target=drain, args=(db.url, sink, lease), kwargs={"until_empty": True})
    final.start()  # the final run, in a process of its own (the sink has this one's interpreter to itself)
    final.join(timeout=120)
    assert final.exitcode == 0, "the final run emptied the outbox"

    assert statuses(db) == {"sent": count}, "nothing dead, nothing left behind"
    rows, delivered = rows_by_recipient(db), deliveries(maildir)
    assert set(delivered) == set(rows), "every message delivered"
    for address, (_, _, attempts) in rows.items():
        i = address.removeprefix("partner").split("@")[0]
        assert set(delivered[address]) == {message_id_for(KEY, f"transition:{i}:invitation:contact:{i}")}
        assert len(delivered[address]) <= attempts, "every delivery was a charged attempt"
    duplicates = sum(len(message_ids) - 1 for message_ids in delivered.values())
    charged_twice = sum(attempts > 1 for _, _, attempts in rows.values())
    extra_attempts = sum(attempts - 1 for _, _, attempts in rows.values())
    assert extra_attempts <= KILLS * pool, "a kill charges at most the messages on the wire: one per connection"
    print(f"\nkill test ({db.dialect}): {KILLS} kills in {killing:.1f} s, {sent_before_final_run}/{count} rows sent "
          f"before the final run, 0 dead, {charged_twice} rows charged more than once ({extra_attempts} extra attempts, "
          f"at most {max(attempts for _, _, attempts in rows.values())} on a row), {duplicates} duplicate deliveries, "
          f"all with their original Message-ID")


class PoisonHandler(MaildirHandler):
    """Takes every message but one: the content for ``poison`` never gets an answer (the test kills the dispatcher)."""

    def __init__(self, maildir: Path, poison: str) -> None:
        super().__init__(maildir)
        self.poison, self.poisoned = poison, threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if self.poison in envelope.rcpt_tos:
            self.poisoned.set()
            await asyncio.sleep(60)  # cancelled when the killed client's connection drops
            return "451 never reached"
        return await super().handle_DATA(server, session, envelope)


def test_a_message_that_kills_the_dispatcher_each_time_dies_at_the_limit_and_its_neighbours_are_delivered(
    db: Database, maildir: Path
) -> None:
    count, poison, lease, limit, pool = 40, 5, 1.0, 3, Settings().outbox_pool_size  # a lease no batch outlasts
    add_rows(db, count, next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    handler = PoisonHandler(maildir, f"partner{poison}@example.org")
    with running_smtp_server(handler) as port:
        for kill in range(1, limit + 1):
            handler.poisoned.clear()
            worker = forked_dispatcher(db.url, port, lease, max_attempts=limit)
            try:
                assert handler.poisoned.wait(timeout=90), "the dispatcher sent the poison message"
            finally:
                worker.kill()
                worker.join()
            assert rows_by_recipient(db)[handler.poison][1:] == ("sending", kill), "each crash charges the poison"
            time.sleep(lease)
        drain(db.url, port, lease, until_empty=True, max_attempts=limit)

    rows, delivered = rows_by_recipient(db), deliveries(maildir)
    poisoned = rows.pop(handler.poison)
    assert poisoned[1:] == ("dead", limit)
    assert list_outbox(db, status="dead")[0].status_reason == (
        f"gave up after {limit} attempts; the dispatcher stopped during the last one")
    assert handler.poison not in delivered
    assert {status for _, status, _ in rows.values()} == {"sent"} and set(delivered) == set(rows)
    neighbours = [address for address, (_, _, attempts) in rows.items() if attempts > 1]
    assert len(neighbours) <= pool - 1, "only the first crash had other messages on the wire: later the poison went alone"
    assert all(rows[address][2] == 2 for address in neighbours)
    assert sum(len(message_ids) - 1 for message_ids in delivered.values()) <= len(neighbours)


def test_a_kill_charges_the_messages_on_the_wire_and_releases_the_rest_uncharged(db: Database, maildir: Path) -> None:
    count, lease, pool = 30, 0.3, Settings().outbox_pool_size
    add_rows(db, count, next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    handler = StallingHandler(maildir)
    with running_smtp_server(handler) as port:
        worker = forked_dispatcher(db.url, port, lease)
        try:
            assert handler.in_data.wait(timeout=90), "the dispatcher reached DATA"
        finally:
            worker.kill()
            worker.join()
    rows = list_outbox(db, limit=None)
    leased = Counter(row.status for row in rows)["sending"]
    assert leased in (10, 20) and Counter(row.status for row in rows)["pending"] == count - leased, "a batch (and the next) leased"
    assert sorted(row.attempts for row in rows) == [0] * (count - pool) + [1] * pool, "one message per connection charged"
    on_the_wire = {row.id for row in rows if row.attempts}
    time.sleep(lease)
    with running_mail_sink(maildir) as port:
        drain(db.url, port, lease, until_empty=True)
    rows = list_outbox(db, limit=None)
    assert {row.status for row in rows} == {"sent"}
    assert {row.id: row.attempts for row in rows} == {row.id: 2 if row.id in on_the_wire else 1 for row in rows}
    assert len(received(maildir)) == count


class LeaseTakingHandler(MaildirHandler):
    """At the first message's content, hands every leased row to another dispatcher's lease, as a dispatcher that
    claimed them once their lease ran out would hold them."""

    def __init__(self, maildir: Path, db: Database, other_expiry: datetime) -> None:
        super().__init__(maildir)
        self.db, self.other_expiry, self.taken = db, other_expiry, False

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if not self.taken:
            self.taken = True
            with self.db.engine.begin() as connection:
                connection.execute(OUTBOX.update().where(OUTBOX.c.status == "sending").values(next_attempt_at=self.other_expiry))
        return await super().handle_DATA(server, session, envelope)


def test_a_dispatcher_whose_lease_was_taken_over_hands_no_more_content_and_writes_nothing(db: Database, maildir: Path) -> None:
    count, pool, other_expiry = 20, Settings().outbox_pool_size, START + timedelta(hours=1)
    add_rows(db, count)
    with running_smtp_server(LeaseTakingHandler(maildir, db, other_expiry)) as port:
        report = dispatch_pending(db, clock=SimulatedClock(START), settings=settings_for(port), batch_size=count)
    assert (report.claimed, report.deferred) == (count, count - pool)
    assert len(received(maildir)) == pool, "only the round already on the wire when the lease was lost"
    rows = rows_by_recipient(db)
    assert {status for _, status, _ in rows.values()} == {"sending"}, "nothing written over the new claim"
    assert {address for address, (_, _, attempts) in rows.items() if attempts} == {
        parseaddr(message["To"])[1] for message in received(maildir)}, "charged: the messages handed over, no refund"
    assert {row.next_attempt_at for row in list_outbox(db, limit=None)} == {other_expiry}


class RefusingHandler(MaildirHandler):
    """Refuses the recipients in ``refused`` (all of them if it holds ``"*"``) with ``reply``."""

    def __init__(self, maildir: Path, reply: str, refused: set[str], *, pipelining: bool = True) -> None:
        super().__init__(maildir, pipelining=pipelining)
        self.reply, self.refused = reply, refused

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address in self.refused or "*" in self.refused:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-command-at-a-time"])
def test_a_5xx_refusal_is_charged_to_its_row_alone_then_requeue_delivers_it(db: Database, maildir: Path,
                                                                             pipelining: bool) -> None:
    clock = SimulatedClock(START)
    row_id, *others = add_rows(db, 4)
    handler = RefusingHandler(maildir, "550 5.1.1 Mailbox unavailable", {"partner0@example.org"}, pipelining=pipelining)
    with running_smtp_server(handler) as port:
        settings = settings_for(port, outbox_backoff_seconds=60.0, outbox_max_attempts=3)
        for attempt, wait in ((1, 60), (2, 120)):
            report = dispatch_pending(db, clock=clock, settings=settings)
            assert (report.retrying, report.deferred, report.outages) == (1, 0, [])
            assert [(f.id, f.dead) for f in report.failures] == [(row_id, False)] and "550" in report.failures[0].error
            [row] = [row for row in list_outbox(db) if row.id == row_id]
            assert (row.status, row.attempts, row.next_attempt_at) == ("pending", attempt, clock.now() + timedelta(seconds=wait))
            assert "550 5.1.1 Mailbox unavailable" in (row.last_error or "")
            assert dispatch_pending(db, clock=clock, settings=settings).claimed == 0, "not before its backoff"
            clock.advance(timedelta(seconds=wait))
        assert statuses(db) == {"sent": 3, "pending": 1}, "the other recipients were delivered at once"
        assert dispatch_pending(db, clock=clock, settings=settings).dead == 1
        [row] = list_outbox(db, status="dead")
        assert (row.attempts, row.status_reason) == (3, "gave up after 3 attempts")

        handler.refused = set()
        with pytest.raises(OutboxAlreadySent):
            requeue(db, others[0], clock)
        requeued = requeue(db, row_id, clock)
        assert (requeued.status, requeued.attempts, requeued.next_attempt_at) == ("pending", 0, clock.now())
        assert dispatch_pending(db, clock=clock, settings=settings).sent == 1
    delivered = Counter(m["Message-ID"] for m in received(maildir))
    assert delivered[message_id_for(KEY, "transition:0:invitation:contact:0")] == 1 and len(delivered) == 4


class ContentRefusingHandler(MaildirHandler):
    """Refuses the content of messages to ``refused`` at the end of DATA with a 5xx; records each message's connection."""

    def __init__(self, maildir: Path, refused: set[str]) -> None:
        super().__init__(maildir)
        self.refused, self.peers = refused, []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.peers.append(session.peer)
        if set(envelope.rcpt_tos) & self.refused:
            return "554 5.6.0 Content rejected"
        return await super().handle_DATA(server, session, envelope)


def test_a_content_refused_mid_stream_is_charged_alone_and_the_connection_goes_on(db: Database, maildir: Path) -> None:
    clock = SimulatedClock(START)
    ids = add_rows(db, 6)
    handler = ContentRefusingHandler(maildir, {"partner2@example.org"})
    with running_smtp_server(handler) as port:
        report = dispatch_pending(db, clock=clock, settings=settings_for(port, outbox_pool_size=1))
    assert (report.sent, report.retrying, report.deferred, report.outages) == (5, 1, 0, [])
    assert [(f.id, f.dead) for f in report.failures] == [(ids[2], False)] and "554 5.6.0" in report.failures[0].error
    assert len(handler.peers) == 6 and len(set(handler.peers)) == 1, "the refusal did not cost the connection"
    assert sorted(parseaddr(m["To"])[1] for m in received(maildir)) == sorted(
        f"partner{i}@example.org" for i in range(6) if i != 2)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-command-at-a-time"])
def test_a_4xx_reply_pauses_the_channel_and_charges_no_row(db: Database, maildir: Path, pipelining: bool) -> None:
    clock = SimulatedClock(START)
    add_rows(db, 5)
    handler = RefusingHandler(maildir, "451 4.3.0 Try again later", {"*"}, pipelining=pipelining)
    with running_smtp_server(handler) as port:
        settings = settings_for(port, outbox_pause_seconds=30.0, outbox_max_attempts=1)
        report = dispatch_pending(db, clock=clock, settings=settings)
        assert (report.sent, report.retrying, report.dead, report.deferred) == (0, 0, 0, 5)
        [outage] = report.outages
        assert outage.channel == "email" and "451" in outage.error and outage.paused_until == START + timedelta(seconds=30)
        assert all((row.status, row.attempts) == ("pending", 0) for row in list_outbox(db))
        clock.advance(timedelta(seconds=29))
        assert dispatch_pending(db, clock=clock, settings=settings).claimed == 0, "paused"
        handler.refused = set()
        clock.advance(timedelta(seconds=1))
        assert dispatch_pending(db, clock=clock, settings=settings).sent == 5
    assert statuses(db) == {"sent": 5}
    with db.transaction() as session:
        [channel] = session.scalars(select(OutboxChannel)).all()
    assert (channel.failures, channel.paused_until, channel.outage_since) == (0, None, None), "recovered"


def test_a_server_that_never_answers_costs_one_timeout_per_connection_and_charges_nothing(db: Database, maildir: Path) -> None:
    clock = SimulatedClock(START)
    add_rows(db, 12)
    silent = socket.create_server(("127.0.0.1", 0))  # accepts TCP connections, never says a word
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        settings = settings_for(silent.getsockname()[1], smtp_timeout_seconds=0.3, outbox_max_attempts=1, outbox_pool_size=2)
        report = dispatch_pending(db, clock=clock, settings=settings)
        assert (report.deferred, report.retrying, report.dead) == (12, 0, 0)
        assert 1 <= len(accepted) <= 2, "one connection attempt per pooled connection, not one per row"
        assert "timed out" in report.outages[0].error
        assert all((row.status, row.attempts, row.last_error) == ("pending", 0, None) for row in list_outbox(db))
        assert dispatch_pending(db, clock=clock, settings=settings).claimed == 0, "the channel is paused"
    finally:
        silent.close()
        for connection in accepted:
            connection.close()
    clock.advance(timedelta(seconds=settings.outbox_pause_seconds))
    with running_mail_sink(maildir) as port:
        assert dispatch_pending(db, clock=clock, settings=settings_for(port)).sent == 12
    assert len(received(maildir)) == 12
    assert statuses(db) == {"sent": 12}


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


class StallingHandler(MaildirHandler):
    """Holds every message in DATA (never answers it) and signals that a send is under way."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)
        self.in_data = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.in_data.set()
        await asyncio.sleep(60)  # cancelled when the killed client's connection drops
        return "451 never reached"


def test_an_attempt_cut_short_by_a_kill_mid_send_is_counted_and_dead_letters_at_the_limit(
    db: Database, maildir: Path
) -> None:
    [row_id] = add_rows(db, 1, next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    handler = StallingHandler(maildir)
    lease = 0.3
    with running_smtp_server(handler) as port:
        for attempt in (1, 2):
            handler.in_data.clear()
            worker = forked_dispatcher(db.url, port, lease, max_attempts=2)
            try:
                assert handler.in_data.wait(timeout=90), "the dispatcher reached DATA"
            finally:
                worker.kill()
                worker.join()
            [row] = list_outbox(db)
            assert (row.status, row.attempts) == ("sending", attempt), "the attempt was charged before the send"
            time.sleep(lease)
        drain(db.url, port, lease, until_empty=True, max_attempts=2, ready=lambda: None)
    [row] = list_outbox(db)
    assert (row.id, row.status, row.attempts) == (row_id, "dead", 2)
    assert row.status_reason == "gave up after 2 attempts; the dispatcher stopped during the last one"


def test_an_outage_longer_than_the_backoff_ladder_loses_nothing_and_escalates_once(db: Database, maildir: Path) -> None:
    count = 30
    add_rows(db, count, next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    port = free_port()
    chat = ChatServer()
    settings = settings_for(
        port, smtp_timeout_seconds=1.0, outbox_max_attempts=1, outbox_pause_seconds=0.02, outbox_pause_max_seconds=0.08,
        outbox_outage_escalation_seconds=0.3, chat_urls=[chat.url],
    )
    try:
        ladder = 0.02 + 0.04 + 0.08  # the pause doubles up to its maximum
        outage_until = time.monotonic() + 4 * ladder + settings.outbox_outage_escalation_seconds
        outages = 0
        while time.monotonic() < outage_until:  # the SMTP server is down: nothing listens on the port
            report = dispatch_pending(db, settings=settings, batch_size=10)
            assert (report.sent, report.retrying, report.dead) == (0, 0, 0)
            outages += len(report.outages)
            time.sleep(0.01)
        assert outages >= 4
        assert statuses(db) == {"pending": count}
        with db.transaction() as session:
            assert session.scalar(select(func.max(OutboxMessage.attempts))) == 0, "an outage charges no row"
            channel = session.get(OutboxChannel, "email")
            assert channel.failures >= 4 and channel.escalated_at is not None
        [escalation] = chat.received
        assert escalation["title"].startswith("Coalition Engage: email delivery down for")
        assert f"127.0.0.1:{port}" in escalation["message"]

        with running_mail_sink(maildir, port=port):
            deadline = time.monotonic() + 60
            while statuses(db) != {"sent": count} and time.monotonic() < deadline:
                dispatch_pending(db, settings=settings, batch_size=10)
                time.sleep(0.05)
    finally:
        chat.close()
    assert statuses(db) == {"sent": count}
    message_ids = Counter(m["Message-ID"] for m in received(maildir))
    assert message_ids == Counter(message_id_for(KEY, f"transition:{i}:invitation:contact:{i}") for i in range(count))
    assert len(chat.received) == 1, "one escalation per outage"
    with db.transaction() as session:
        channel = session.get(OutboxChannel, "email")
        assert (channel.failures, channel.outage_since, channel.escalated_at) == (0, None, None)


def test_a_chat_post_interrupted_by_a_crash_is_not_posted_again(db: Database, sink: int) -> None:
    chat = ChatServer()
    clock = SimulatedClock(START)
    try:
        [row_id] = add_rows(db, 1, channel="chat", notification_type="escalation", recipient_address=chat.url,
                            status="sending", status_reason=POSTING_MARK, attempts=1,
                            next_attempt_at=START - timedelta(seconds=1))
        report = dispatch_pending(db, clock=clock, settings=settings_for(sink))
    finally:
        chat.close()
    assert (report.reclaimed, report.dead, report.sent) == (1, 1, 0)
    assert chat.received == []
    [row] = list_outbox(db)
    assert (row.id, row.status) == (row_id, "dead") and "not posted again" in (row.status_reason or "")
    assert "secret-token" not in row.recipient_address


@pytest.mark.parametrize("name, title", [
    ("Ana\u2028María", "Precursor alerts\u2028for shipping"),
    ("Jean\u0085Luc", "Dialogue\u0085" + "x" * 120),
    ("Zoë " + "Ñ" * 150, "Toolkit " + "long" * 80),
])
def test_any_name_or_title_the_inputs_accept_is_sent_with_encoded_header_words(
    sqlite_db: Database, sink: int, maildir: Path, name: str, title: str
) -> None:
    add_rows(sqlite_db, 1, recipient_name=name, context={"engagement_title": title})
    assert dispatch_pending(sqlite_db, clock=SimulatedClock(START), settings=settings_for(sink)).sent == 1
    [message] = received(maildir)
    assert header(message, "Subject") == f"Invitation: {title}"
    assert header(message, "To") == f"{name} <partner0@example.org>"
    head = message.as_bytes().replace(b"\r\n", b"\n").split(b"\n\n")[0].split(b"\n")
    # Encoded words fold to short lines; a List-Unsubscribe URL cannot fold (RFC 5322 allows 998).
    assert max(len(line) for line in head if b"/unsubscribe/" not in line) <= 78
    assert max(len(line) for line in head) <= 998


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChatServer:
    """A webhook receiver on localhost; its URL carries a token that must never be stored or shown."""

    def __init__(self) -> None:
        received: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_claim_reads_the_due_rows_in_order_through_the_partial_index(postgres_db: Database) -> None:
    add_rows(postgres_db, 300)
    with postgres_db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE outbox")
        claim = _CLAIMABLE.order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id).limit(50).with_for_update(skip_locked=True)
        compiled = claim.compile(connection)
        plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.construct_params({"now": START})).scalars())
    assert "ix_outbox_claimable" in plan and "Sort" not in plan, plan
