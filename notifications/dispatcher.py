"""Draining the outbox: lease a batch, render and deliver it over a pool of connections, record each outcome as it comes.

A row moves ``pending -> sending -> sent``. Claiming a row leases it: it becomes ``sending``
with ``next_attempt_at`` as the lease expiry, and nothing is charged. An attempt is charged to
a row (committed) just before its content is handed to the server, and each outcome is
committed as soon as the server has answered, in small groups (one statement per round over
the pool's connections, which also charges the next round). So a dispatcher that stops has
charged only the messages on the wire at that moment; every other row it held goes back to
delivery, uncharged, once its lease has expired. A row found ``sending`` after its lease expired
is claimed again (every resend carries the Message-ID of the first): it is dead-lettered if its
last attempt was its ``settings.outbox_max_attempts``-th, otherwise it is sent alone, nothing
else of that dispatcher on the wire, so that a message that crashes the dispatcher is charged
each crash and dies at the limit while the messages that happened to be on the wire beside it
once are delivered. On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``, so concurrent
dispatchers never claim the same row; on SQLite ``BEGIN IMMEDIATE`` serializes them. Every write
after the claim is guarded by the lease, so a dispatcher whose lease was taken over writes
nothing over the new claim. ``suppressed`` rows are never claimed.

Two kinds of failure are told apart:

- the **channel** fails (SMTP server refused the connection, timed out, dropped the line or
  answered 4xx): the channel is paused in ``outbox_channels`` with a doubling backoff, the rows
  not delivered are handed back with any attempt charged refunded, and no row is charged. An
  outage longer than ``settings.outbox_outage_escalation_seconds`` is escalated once to the
  secretariat's chat channel.
- the **message** fails (a 5xx refusal, a value that cannot make a message): the row is charged
  the attempt and is retried with an exponential backoff, or dead-lettered.

The next batch is claimed while the current one is being sent; if the current one finds the
channel down, the next is handed back untried.

Chat posts cannot carry a Message-ID, so they are delivered at most once: each chat row is
marked (committed, with its attempt) before it is posted, and a marked row found again after a
crash is dead-lettered for staff to check instead of being posted a second time.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import Any

from jinja2 import TemplateError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ARRAY, JSON, ColumnElement, Connection, Integer, and_, any_, bindparam, case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from models.base import UtcDateTime
from models.db import Database
from models.enums import DeliveryChannel, OutboxStatus
from models.outbox import CLAIMABLE, OutboxMessage
from models.outbox_channel import OutboxChannel
from models.reference import Contact, SecretariatSignature
from notifications.action_urls import action_url
from notifications.chat_channel import ChatChannel
from notifications.email_channel import WRITTEN, ContentNext, EmailChannel, describe_error
from notifications.errors import (
    ChannelUnavailable,
    OutboxAlreadySent,
    OutboxMessageNotFound,
    OutboxOptedOut,
    PermanentDeliveryError,
)
from notifications.mail_extras import mail_extras, unsubscribe_url
from notifications.mime import OutgoingEmail, build_email
from notifications.redaction import redact
from notifications.templates import RenderedMessage, render_message
from settings import Settings, get_settings
from states.clock import SYSTEM_CLOCK, Clock
from states.inputs import check_id

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
MAX_BACKOFF = timedelta(hours=6)
MAX_ERROR_LENGTH = 2000
POSTING_MARK = "posting started"
OUTBOX = OutboxMessage.__table__
CHANNELS = OutboxChannel.__table__


class RowFailure(BaseModel):
    """One row a dispatch could not deliver, and why (secrets and URLs redacted)."""

    id: int
    notification_type: str
    channel: str
    recipient: str
    error: str
    dead: bool


class ChannelOutage(BaseModel):
    """A channel found unreachable: paused until ``paused_until``; ``escalated`` if staff were told now."""

    channel: str
    error: str
    paused_until: datetime
    outage_since: datetime
    escalated: bool = False


class DispatchReport(BaseModel):
    """What one :func:`dispatch_pending` call did.

    ``deferred`` rows were claimed but not tried (their channel was unreachable, or the batch's
    lease ran out): they were handed back with no attempt charged.
    """

    claimed: int = 0
    reclaimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    deferred: int = 0
    failures: list[RowFailure] = []
    outages: list[ChannelOutage] = []


class OutboxRow(BaseModel):
    """An outbox row as shown by ``engage outbox`` (the template context left out)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    dedupe_key: str
    engagement_id: int | None
    notification_type: str
    channel: str
    recipient_name: str
    recipient_address: str
    language: str
    mandatory: bool
    status: str
    status_reason: str | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class _Outcome(Enum):
    SENT = "sent"
    REFUSED = "refused"  # the message's fault: charged
    UNDELIVERABLE = "undeliverable"  # can never be sent as it stands: dead at once
    NOT_TRIED = "not tried"  # channel down or lease over: handed back, any attempt charged refunded


@dataclass
class _Job:
    """One claimed row on its way through a batch."""

    row: Any  # a Core row of the outbox table, as claimed
    alone: bool = False  # found sending after a stopped dispatcher: sent with nothing else on the wire
    charged: bool = False  # its attempt is charged: its content went, or was about to go, to the channel
    outcome: _Outcome = _Outcome.NOT_TRIED
    error: str = ""
    dead: bool = False
    signature: str | None = None  # the Secretariat's signature in the row's language, from the reference data

    @property
    def attempt(self) -> int:
        """The number of the attempt this delivery makes."""
        return self.row.attempts + 1


def dispatch_pending(
    db: Database,
    *,
    clock: Clock = SYSTEM_CLOCK,
    settings: Settings | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    lease_seconds: float | None = None,
) -> DispatchReport:
    """Deliver every due outbox row (at most ``limit``), ``batch_size`` rows per claim.

    E-mails go out over ``settings.outbox_pool_size`` reused SMTP connections. ``lease_seconds``
    (default: the larger of 120 s and three SMTP timeouts) is how long a claimed row stays
    reserved; rows not sent before their lease expires are handed back instead of risking a
    concurrent double send. Rows of a paused channel wait for the pause to end. Safe to run in
    several processes at once.
    """
    settings = _holding_signing_key(settings or get_settings())
    lease = timedelta(seconds=lease_seconds if lease_seconds is not None
                      else max(settings.outbox_lease_seconds, 3 * settings.smtp_timeout_seconds))
    report = DispatchReport()
    chat = ChatChannel(settings.smtp_timeout_seconds)
    secrets = _secrets(settings)
    with _EmailPool(db, settings, clock, secrets) as pool, db.engine.connect() as connection:

        def claim() -> _Batch | None:
            if limit is not None and report.claimed >= limit:
                return None
            size = batch_size if limit is None else min(batch_size, limit - report.claimed)
            batch = _claim(connection, clock, size, lease, settings, report)
            return batch if batch.taken else None

        batch = claim()
        while batch is not None:
            email_jobs = [job for job in batch.jobs if job.row.channel == DeliveryChannel.EMAIL]
            chat_jobs = [job for job in batch.jobs if job.row.channel != DeliveryChannel.EMAIL]
            started = pool.start(email_jobs, batch.expiry)
            for job in chat_jobs:
                _post_chat(connection, job, chat, clock, settings, secrets, batch.expiry)
            following = claim()  # while this batch is on the wire
            outage = pool.wait(started)
            _finish(connection, batch, outage, clock, settings, secrets, report)
            if outage is not None and following is not None:
                _hand_back(connection, following, report.outages[-1].paused_until, clock.now(), report)
                following = claim()  # the rows of other channels
            batch = following
    return report


def _holding_signing_key(settings: Settings) -> Settings:
    """``settings`` with the signing key read in, so that each mail's links do not look up the key file again."""
    return settings if settings.secret_key else settings.model_copy(update={"secret_key": settings.signing_key().decode()})


def _secrets(settings: Settings) -> list[str | None]:
    return [settings.smtp_password, *settings.chat_urls]


@dataclass(frozen=True)
class _ChannelState:
    paused_until: datetime | None
    failures: int
    outage_since: datetime | None


@dataclass
class _Batch:
    """One claim: how many rows it took (some may have been dead-lettered), those to deliver, their lease expiry."""

    taken: int
    jobs: list[_Job]
    expiry: datetime
    channels: dict[str, _ChannelState]


_CHANNEL_STATES = select(CHANNELS.c.channel, CHANNELS.c.paused_until, CHANNELS.c.failures, CHANNELS.c.outage_since)


_CLAIMED_COLUMNS = [OUTBOX.c[name] for name in (
    "id", "dedupe_key", "engagement_id", "notification_type", "channel", "recipient_name", "recipient_address", "language",
    "mandatory", "context", "status", "status_reason", "attempts")]  # what delivering and recording need: no dates to convert
_CLAIMABLE = select(*_CLAIMED_COLUMNS).where(text(CLAIMABLE), OUTBOX.c.next_attempt_at <= bindparam("now", type_=UtcDateTime()))


class _AmongIds(ColumnElement[bool]):
    """``outbox.id`` among the list parameter ``name``: one array parameter on PostgreSQL, one JSON array read by
    ``json_each`` on SQLite, where an ``IN`` list of a batch's ids would be a statement as long as the batch,
    written (and, on PostgreSQL, parsed) again at each execution.

    Its name is its cache key, so statements using it are compiled once and cached; it has no type, since a
    boolean one would make SQLite's condition ``id IN (...) = 1``, which reads the whole table."""

    inherit_cache = True
    _traverse_internals = [("name", InternalTraversal.dp_string)]

    def __init__(self, name: str = "ids") -> None:
        self.name = name


@compiles(_AmongIds)  # SQLite's
def _among_ids(element: _AmongIds, compiler: SQLCompiler, **kw: Any) -> str:  # noqa: ANN401
    ids = compiler.process(bindparam(element.name, type_=JSON()), **kw)
    return f"{compiler.process(OUTBOX.c.id, **kw)} IN (SELECT value FROM json_each({ids}))"


@compiles(_AmongIds, "postgresql")
def _among_ids_array(element: _AmongIds, compiler: SQLCompiler, **kw: Any) -> str:  # noqa: ANN401
    return compiler.process(OUTBOX.c.id == any_(bindparam(element.name, type_=ARRAY(Integer))), **kw)


_LEASE = (
    update(OUTBOX)
    .where(_AmongIds())
    .values(status=OutboxStatus.SENDING, next_attempt_at=bindparam("expiry", type_=UtcDateTime()))
)
_KILL = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"))
    .values(status=OutboxStatus.DEAD, status_reason=bindparam("reason"), next_attempt_at=bindparam("now", type_=UtcDateTime()))
)


_SIGNATURES = select(SecretariatSignature.language, SecretariatSignature.signature)


def _claim(
    connection: Connection,
    clock: Clock,
    size: int,
    lease: timedelta,
    settings: Settings,
    report: DispatchReport,
) -> _Batch:
    """Lease up to ``size`` due rows of unpaused channels, charging nothing.

    Returns the batch, with the channels' state as found.

    A row reclaimed after a crash whose last attempt was cut short and was its last allowed, or
    a chat row whose post had started, is dead-lettered here instead of being delivered again;
    any other reclaimed row is to be sent alone.
    """
    now = clock.now()
    expiry = now + lease
    jobs: list[_Job] = []
    with connection.begin():
        channels = {row.channel: _ChannelState(row.paused_until, row.failures, row.outage_since)
                    for row in connection.execute(_CHANNEL_STATES)}
        paused = [name for name, state in channels.items() if state.paused_until and state.paused_until > now]
        signatures = dict(connection.execute(_SIGNATURES).all())
        query = _CLAIMABLE.order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id).limit(size).with_for_update(skip_locked=True)
        if paused:
            query = query.where(OUTBOX.c.channel.not_in(paused))
        rows = connection.execute(query, {"now": now}).all()
        dead: list[dict[str, Any]] = []
        for row in rows:
            if row.status == OutboxStatus.SENDING:
                report.reclaimed += 1
                log.warning("outbox row %s: lease expired, claiming it again", row.id)
                reason = _crash_reason(row, settings)
                if reason:
                    dead.append({"row_id": row.id, "reason": reason, "now": now})
                    report.dead += 1
                    report.failures.append(_failure(row, reason, dead=True))
                    continue
            jobs.append(_Job(row, alone=row.status == OutboxStatus.SENDING, signature=signatures.get(row.language)))
        if jobs:
            connection.execute(_LEASE, {"ids": [job.row.id for job in jobs], "expiry": expiry})
        if dead:
            connection.execute(_KILL, dead)
    report.claimed += len(rows)
    return _Batch(len(rows), jobs, expiry, channels)


def _crash_reason(row: Any, settings: Settings) -> str | None:  # noqa: ANN401 - a Core row
    """Why a row left ``sending`` by a stopped dispatcher must not be delivered again, if it must not.

    A row is charged only while its content is on the wire, and a row charged its last attempt
    is dead-lettered as soon as the server refuses it: one found with every attempt charged was
    on the wire, for the last time, when its dispatcher stopped.
    """
    if row.channel == DeliveryChannel.CHAT and row.status_reason == POSTING_MARK:
        return ("the dispatcher stopped while posting it; not posted again so that it cannot appear twice "
                "(check the chat channel, then `engage outbox retry` it if it is missing)")
    if row.attempts >= settings.outbox_max_attempts:
        return f"gave up after {row.attempts} attempts; the dispatcher stopped during the last one"
    return None


def _failure(row: Any, error: str, *, dead: bool) -> RowFailure:  # noqa: ANN401 - a Core row
    recipient = "the secretariat's chat channel" if row.channel == DeliveryChannel.CHAT else row.recipient_address
    return RowFailure(id=row.id, notification_type=row.notification_type, channel=row.channel, recipient=recipient,
                      error=error, dead=dead)


class _EmailPool:
    """Reused SMTP connections, driven by one thread that renders a batch's e-mails, sends them and records each outcome.

    While the server answers one connection, the thread renders and writes on the others: the
    connections hide the network's round trips without threads contending for the interpreter.
    The thread has a database connection of its own: once every connection waits to hand a
    message's content over, one transaction records the outcomes the server gave since the last
    one and charges those messages' attempts (one statement), then their contents go out. On
    PostgreSQL each statement commits on its own, without waiting for the server's disk
    (``synchronous_commit`` off, on this connection only): it is visible to every dispatcher at
    once and survives the dispatcher's crash; only a crash of the database server itself can
    lose the last few hundred milliseconds of them, which costs an uncharged attempt or a resend
    with the same Message-ID, as SQLite's ``synchronous=NORMAL`` does.
    """

    def __init__(self, db: Database, settings: Settings, clock: Clock, secrets: list[str | None]) -> None:
        self.settings, self.clock, self.secrets = settings, clock, secrets
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="smtp")
        self._channels = [EmailChannel(settings) for _ in range(settings.outbox_pool_size)]
        self._connection = self._executor.submit(self._open, db).result()  # used by the thread alone

    @staticmethod
    def _open(db: Database) -> Connection:
        connection = db.engine.connect()
        if db.dialect == "postgresql":  # each statement its own transaction: no BEGIN and COMMIT round trips
            connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection.begin():
                connection.exec_driver_sql("SET synchronous_commit TO off")
        return connection

    def _close(self) -> None:
        try:
            if self._connection.dialect.name == "postgresql" and not self._connection.invalidated:
                with self._connection.begin():
                    self._connection.exec_driver_sql("RESET synchronous_commit")  # before it goes back to the pool
        finally:
            self._connection.close()  # which also resets its isolation level

    def __enter__(self) -> _EmailPool:
        return self

    def __exit__(self, *_: object) -> None:
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)
        for channel in self._channels:
            channel.close()

    def start(self, jobs: list[_Job], expiry: datetime) -> tuple[Future[None], list[ChannelUnavailable]]:
        """Begin delivering ``jobs`` (those to send alone first, one by one); pass the result to :meth:`wait`."""
        outage: list[ChannelUnavailable] = []

        def work() -> None:
            for channel in self._channels:
                channel.reset_failures()
            for job in jobs:
                if job.alone:
                    self._deliver([job], expiry, outage)
            self._deliver([job for job in jobs if not job.alone], expiry, outage)

        return self._executor.submit(work), outage

    @staticmethod
    def wait(started: tuple[Future[None], list[ChannelUnavailable]]) -> ChannelUnavailable | None:
        """Wait for the deliveries begun by :meth:`start`; the outage that stopped them, if any."""
        future, outage = started
        future.result()
        return outage[0] if outage else None

    def _deliver(self, jobs: list[_Job], expiry: datetime, outage: list[ChannelUnavailable]) -> None:
        """Send ``jobs`` over as many connections as there are jobs (up to the pool's size), recording as it goes."""
        queue = deque(jobs)
        answered: list[_Job] = []  # outcomes not recorded yet
        lease_lost = False

        def messages() -> Iterator[tuple[_Job, OutgoingEmail]]:
            while queue:
                job = queue.popleft()
                if outage or lease_lost or self.clock.now() >= expiry:
                    continue  # stays NOT_TRIED
                try:
                    message = _email(job.row, self.settings, self.clock, job.signature)
                except Exception as error:  # noqa: BLE001 - every failure is recorded on the row
                    _fail(job, error)
                    answered.append(job)
                else:
                    yield job, message

        streams = deque(channel.send_each(messages(), announce_content=True) for channel in self._channels[:len(jobs)])
        handing: list[tuple[Iterator[Any], _Job]] = []  # streams about to hand a message's content over
        while streams or handing:
            if not streams:  # every connection waits to hand content over: record, charge, then let them write
                charging = [job for _, job in handing]
                for job in charging:
                    job.charged = True
                if _record(self._connection, answered, charging, expiry, self.clock, self.settings, self.secrets):
                    streams.extend(stream for stream, _ in handing)
                else:
                    lease_lost = True
                    for stream, _ in handing:
                        stream.close()  # drops its connection: that content is not sent
                answered.clear()
                handing.clear()
                continue
            stream = streams.popleft()
            try:
                for step in stream:
                    if step is WRITTEN:  # the server is answering: serve the next connection meanwhile
                        streams.append(stream)
                        break
                    if isinstance(step, ContentNext):
                        handing.append((stream, step.item))
                        break
                    job, refusal = step
                    if refusal is None:
                        job.outcome = _Outcome.SENT
                    else:
                        _fail(job, refusal)
                    answered.append(job)
            except ChannelUnavailable as error:
                outage.append(error)
        if answered:
            _record(self._connection, answered, [], expiry, self.clock, self.settings, self.secrets)


def _fail(job: _Job, error: Exception) -> None:
    job.outcome = _Outcome.UNDELIVERABLE if isinstance(error, PermanentDeliveryError) else _Outcome.REFUSED
    job.error = describe_error(error)


def _rendered(row: Any, settings: Settings, now: datetime, signature: str | None = None) -> RenderedMessage:  # noqa: ANN401
    context = {"secretariat_name": signature or settings.secretariat_name, **row.context, "recipient_name": row.recipient_name,
               "action_url": action_url(row.context, row.dedupe_key, settings),
               "unsubscribe_url": unsubscribe_url(row, settings, now)}
    try:
        return render_message(row.notification_type, row.language, context)
    except (ValueError, TemplateError) as error:
        raise PermanentDeliveryError(f"cannot render the message: {error}") from error


def _email(row: Any, settings: Settings, clock: Clock, signature: str | None = None) -> OutgoingEmail:  # noqa: ANN401
    """The e-mail of an outbox row, rendered; :class:`PermanentDeliveryError` if it cannot make one."""
    return build_email(
        rendered=_rendered(row, settings, clock.now(), signature),
        recipient_name=row.recipient_name,
        recipient_address=row.recipient_address,
        dedupe_key=row.dedupe_key,
        settings=settings,
        clock=clock,
        **mail_extras(row, settings, clock.now()),
    )


_LEASED = and_(OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.next_attempt_at == bindparam("expiry", type_=UtcDateTime()))
_MARK_POSTING = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"), _LEASED)
    .values(status_reason=POSTING_MARK, attempts=OUTBOX.c.attempts + 1)
)


def _post_chat(connection: Connection, job: _Job, chat: ChatChannel, clock: Clock, settings: Settings,
               secrets: list[str | None], expiry: datetime) -> None:
    """Post one chat row, marked and charged (committed) first so that a crash cannot make it post twice; record the outcome."""
    if clock.now() >= expiry:
        return
    with connection.begin():
        marked = connection.execute(_MARK_POSTING, {"row_id": job.row.id, "expiry": expiry}).rowcount
    if not marked:
        return  # the lease was taken over: leave the row to its new claimant
    job.charged = True
    try:
        if job.row.channel != DeliveryChannel.CHAT:
            raise PermanentDeliveryError(f"unknown channel {job.row.channel!r}")
        chat.send(_rendered(job.row, settings, clock.now(), job.signature), job.row.recipient_address)
    except Exception as error:  # noqa: BLE001 - every failure is recorded on the row
        _fail(job, error)
    else:
        job.outcome = _Outcome.SENT
    _record(connection, [job], [], expiry, clock, settings, secrets)


_SETTLE = (  # one statement per round: the rows in ``sent`` are marked sent, those in ``charged`` charged an attempt
    update(OUTBOX)
    .where(_AmongIds(), _LEASED)
    .values(
        status=case((_AmongIds("sent"), OutboxStatus.SENT), else_=OUTBOX.c.status),
        sent_at=case((_AmongIds("sent"), bindparam("now", type_=UtcDateTime())), else_=OUTBOX.c.sent_at),
        status_reason=case((and_(_AmongIds("sent"), OUTBOX.c.status_reason == POSTING_MARK), None),
                           else_=OUTBOX.c.status_reason),
        attempts=case((_AmongIds("charged"), OUTBOX.c.attempts + 1), else_=OUTBOX.c.attempts),
    )
)
_MARK_FAILED = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"), _LEASED)
    .values(status=bindparam("status"), status_reason=bindparam("reason"), last_error=bindparam("error"),
            attempts=bindparam("attempts"), next_attempt_at=bindparam("next", type_=UtcDateTime()))
)
_RELEASE = (
    update(OUTBOX)
    .where(_AmongIds(), _LEASED)
    .values(status=OutboxStatus.PENDING, next_attempt_at=bindparam("resume", type_=UtcDateTime()))
)
_REFUND = (
    update(OUTBOX)
    .where(_AmongIds(), _LEASED)
    .values(status=OutboxStatus.PENDING, attempts=OUTBOX.c.attempts - 1, next_attempt_at=bindparam("resume", type_=UtcDateTime()))
)


def _record(
    connection: Connection,
    answered: Sequence[_Job],
    charging: Sequence[_Job],
    expiry: datetime,
    clock: Clock,
    settings: Settings,
    secrets: list[str | None],
) -> bool:
    """Record the outcomes of ``answered`` and charge an attempt to each of ``charging``, the charge committed last.

    Returns whether every row was still leased (else the lease ran out and was taken over).
    """
    now = clock.now()
    sent = [job.row.id for job in answered if job.outcome is _Outcome.SENT]
    charged = [job.row.id for job in charging]
    failed = [_failed_values(job, now, settings, secrets) for job in answered if job.outcome is not _Outcome.SENT]
    with connection.begin():
        if failed:
            connection.execute(_MARK_FAILED, [values | {"expiry": expiry} for values in failed])
        if not sent and not charged:
            return True
        settled = connection.execute(_SETTLE, {"ids": sent + charged, "sent": sent, "charged": charged, "expiry": expiry,
                                               "now": now}).rowcount
    return settled == len(sent) + len(charged)


def _finish(
    connection: Connection,
    batch: _Batch,
    outage: ChannelUnavailable | None,
    clock: Clock,
    settings: Settings,
    secrets: list[str | None],
    report: DispatchReport,
) -> None:
    """Close a batch whose outcomes are recorded: hand back what was not tried (refunding any attempt charged), pause the
    e-mail channel if it failed or clear the outages of the channels that delivered, and count it all in ``report``."""
    now = clock.now()
    untried = [job for job in batch.jobs if job.outcome is _Outcome.NOT_TRIED]
    escalate: ChannelOutage | None = None
    with connection.begin():
        resume = now
        if outage is not None:
            escalate = _pause(connection, DeliveryChannel.EMAIL, redact(str(outage), secrets), now, settings, report)
            resume = report.outages[-1].paused_until
        for statement, jobs in ((_REFUND, [job for job in untried if job.charged]),
                                (_RELEASE, [job for job in untried if not job.charged])):
            if jobs:
                connection.execute(statement, {"ids": [job.row.id for job in jobs], "expiry": batch.expiry, "resume": resume})
        _clear_outages(connection, {job.row.channel for job in batch.jobs if job.outcome is _Outcome.SENT}, batch.channels)
    for job in batch.jobs:
        if job.outcome is _Outcome.SENT:
            report.sent += 1
        elif job.outcome is not _Outcome.NOT_TRIED:
            if job.dead:
                report.dead += 1
            else:
                report.retrying += 1
            report.failures.append(_failure(job.row, job.error, dead=job.dead))
    report.deferred += len(untried)
    if escalate is not None:
        _escalate(escalate, settings, clock)


def _hand_back(connection: Connection, batch: _Batch, paused_until: datetime, now: datetime,
               report: DispatchReport) -> None:
    """Give back, untried and uncharged, a batch claimed before the e-mail channel was found down."""
    email = [job.row.id for job in batch.jobs if job.row.channel == DeliveryChannel.EMAIL]
    others = [job.row.id for job in batch.jobs if job.row.channel != DeliveryChannel.EMAIL]
    with connection.begin():
        for ids, resume in ((email, paused_until), (others, now)):
            if ids:
                connection.execute(_RELEASE, {"ids": ids, "expiry": batch.expiry, "resume": resume})
    report.deferred += len(batch.jobs)


def _failed_values(job: _Job, now: datetime, settings: Settings, secrets: list[str | None]) -> dict[str, Any]:
    """The row's values after ``job`` failed (retried with a backoff, or dead); its redacted error and fate kept on ``job``."""
    row = job.row
    error = redact(job.error, [*secrets, row.recipient_address if row.channel == DeliveryChannel.CHAT else None])
    job.error = error[:MAX_ERROR_LENGTH]
    permanent = job.outcome is _Outcome.UNDELIVERABLE
    job.dead = permanent or job.attempt >= settings.outbox_max_attempts
    if job.dead:
        reason = "undeliverable" if permanent else f"gave up after {job.attempt} attempts"
        log.error("outbox row %s is dead (%s): %s", row.id, reason, job.error)
        return {"row_id": row.id, "status": OutboxStatus.DEAD, "reason": reason, "error": job.error,
                "attempts": job.attempt, "next": now}
    delay = min(timedelta(seconds=settings.outbox_backoff_seconds * 2 ** (job.attempt - 1)), MAX_BACKOFF)
    log.warning("outbox row %s refused (attempt %s), next try in %s: %s", row.id, job.attempt, delay, job.error)
    reason = None if row.channel == DeliveryChannel.CHAT else row.status_reason  # a chat row's posting mark goes
    return {"row_id": row.id, "status": OutboxStatus.PENDING, "reason": reason, "error": job.error,
            "attempts": job.attempt, "next": now + delay}


def _upsert_channel(connection: Connection, channel: str) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(CHANNELS).values(channel=channel, failures=0).on_conflict_do_nothing())


def _pause(connection: Connection, channel: str, error: str, now: datetime, settings: Settings,
           report: DispatchReport) -> ChannelOutage | None:
    """Pause ``channel`` (doubling the pause with each consecutive failure); the outage to escalate, if due."""
    _upsert_channel(connection, channel)
    state = connection.execute(
        select(CHANNELS.c.failures, CHANNELS.c.outage_since, CHANNELS.c.escalated_at)
        .where(CHANNELS.c.channel == channel).with_for_update()
    ).one()
    failures = state.failures + 1
    delay = min(settings.outbox_pause_seconds * 2 ** (failures - 1), settings.outbox_pause_max_seconds)
    paused_until = now + timedelta(seconds=delay)
    since = state.outage_since or now
    escalate = state.escalated_at is None and now - since >= timedelta(seconds=settings.outbox_outage_escalation_seconds)
    connection.execute(
        update(CHANNELS).where(CHANNELS.c.channel == channel).values(
            failures=failures, paused_until=paused_until, outage_since=since, last_error=error[:MAX_ERROR_LENGTH],
            escalated_at=now if escalate else state.escalated_at,
        )
    )
    outage = ChannelOutage(channel=channel, error=error, paused_until=paused_until, outage_since=since, escalated=escalate)
    report.outages.append(outage)
    log.warning("%s channel unreachable (failure %s in a row), paused until %s: %s", channel, failures, paused_until, error)
    return outage if escalate else None


def _clear_outages(connection: Connection, delivered: set[str], channels: dict[str, _ChannelState]) -> None:
    recovered = [name for name in delivered if name in channels and (channels[name].failures or channels[name].outage_since)]
    if recovered:
        connection.execute(
            update(CHANNELS).where(CHANNELS.c.channel.in_(recovered))
            .values(failures=0, paused_until=None, outage_since=None, escalated_at=None, last_error=None)
        )
        log.info("channel(s) %s delivering again", ", ".join(recovered))


def _escalate(outage: ChannelOutage, settings: Settings, clock: Clock) -> None:
    """Tell the secretariat's chat channel about a long outage (already marked as escalated, so once)."""
    minutes = int((clock.now() - outage.outage_since).total_seconds() // 60)
    message = RenderedMessage(
        subject=f"Coalition Engage: {outage.channel} delivery down for {minutes} min",
        text=(f"Notifications over {outage.channel} have not been delivered since "
              f"{outage.outage_since:%Y-%m-%d %H:%M} UTC; they wait in the outbox and go out once the server answers. "
              f"Last error: {outage.error}"),
        html="",
        language="en",
    )
    if not settings.chat_urls:
        log.error("%s (no chat channel configured to escalate to)", message.text)
    chat = ChatChannel(settings.smtp_timeout_seconds)
    for url in settings.chat_urls:
        try:
            chat.send(message, url)
        except Exception as error:  # noqa: BLE001 - an escalation that cannot be posted is logged
            log.error("could not post the outage escalation: %s", redact(describe_error(error), [url]))


def list_outbox(
    db: Database, status: str | OutboxStatus | None = None, limit: int | None = 100
) -> list[OutboxRow]:
    """Outbox rows, newest first, optionally of one status (``ValueError`` for an unknown one).

    Chat rows show no address: an apprise URL holds the channel's secret token.
    """
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        try:
            query = query.where(OutboxMessage.status == OutboxStatus(status))
        except ValueError:
            choices = ", ".join(member.value for member in OutboxStatus)
            raise ValueError(f"unknown outbox status {status!r}; choose one of: {choices}") from None
    with db.transaction() as session:
        return [_shown(OutboxRow.model_validate(row)) for row in session.scalars(query)]


def _shown(row: OutboxRow) -> OutboxRow:
    if row.channel == DeliveryChannel.CHAT:
        return row.model_copy(update={"recipient_address": redact(row.recipient_address)})
    return row


def requeue(db: Database, message_id: int, clock: Clock = SYSTEM_CLOCK, *, override_opt_out: bool = False) -> OutboxRow:
    """Put a non-sent row (typically ``dead``) back to ``pending``, due now, attempts reset.

    Raises :class:`OutboxMessageNotFound` for an unknown id, :class:`OutboxAlreadySent` for a
    row already delivered, :class:`OutboxOptedOut` for a ``suppressed`` row unless
    ``override_opt_out`` (its recipient opted out, or it has none), and ``InputError`` for an id no
    database can hold. The last error is kept.
    """
    check_id(message_id, "message_id")
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            raise OutboxMessageNotFound(f"there is no outbox message with id {message_id}")
        if row.status == OutboxStatus.SENT:
            raise OutboxAlreadySent(f"outbox message {message_id} was already sent at {row.sent_at:%Y-%m-%d %H:%M} UTC")
        if row.status == OutboxStatus.SUPPRESSED:
            if not row.recipient_address:
                raise OutboxOptedOut(f"outbox message {message_id} has no recipient ({row.status_reason}); nothing to send")
            if not override_opt_out:
                raise OutboxOptedOut(
                    f"outbox message {message_id} to {row.recipient_address} was suppressed: {row.status_reason}"
                )
        row.status_reason = f"requeued (was {row.status})"
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = clock.now()
        return _shown(OutboxRow.model_validate(row))


class DeadLetters(BaseModel):
    """Dead rows chosen for a bulk requeue: their ids, and those whose recipient has opted out."""

    ids: list[int]
    opted_out: list[int]


def find_dead(db: Database, *, since: date | datetime | None = None, notification_type: str | None = None) -> DeadLetters:
    """Dead rows whose last attempt was at or after ``since`` (a date means its midnight UTC), of one type if given.

    ``opted_out`` names the rows whose recipient (a contact) now opts out of that channel or
    type: typically mandatory notices, which are sent regardless.
    """
    query = select(OUTBOX.c.id, OUTBOX.c.channel, OUTBOX.c.notification_type, OUTBOX.c.recipient_address).where(
        OUTBOX.c.status == OutboxStatus.DEAD
    )
    if since is not None:
        moment = since if isinstance(since, datetime) else datetime.combine(since, time(), timezone.utc)
        query = query.where(OUTBOX.c.next_attempt_at >= moment)
    if notification_type is not None:
        query = query.where(OUTBOX.c.notification_type == notification_type)
    with db.transaction() as session:
        rows = session.execute(query.order_by(OUTBOX.c.id)).all()
        addresses = {row.recipient_address for row in rows}
        opt_outs = {
            email.lower(): set(choices or ())
            for email, choices in session.execute(
                select(Contact.email, Contact.opt_outs).where(func.lower(Contact.email).in_([a.lower() for a in addresses]))
            )
        } if addresses else {}
    opted_out = [row.id for row in rows if opt_outs.get(row.recipient_address.lower(), set()) & {row.channel, row.notification_type}]
    return DeadLetters(ids=[row.id for row in rows], opted_out=opted_out)


_REQUEUE_DEAD = (
    update(OUTBOX)
    .where(_AmongIds(), OUTBOX.c.status == OutboxStatus.DEAD)
    .values(status=OutboxStatus.PENDING, attempts=0, status_reason="requeued (was dead)",
            next_attempt_at=bindparam("now", type_=UtcDateTime()))
)


def requeue_dead(db: Database, ids: Sequence[int], clock: Clock = SYSTEM_CLOCK) -> int:
    """Put the given rows back to ``pending`` if they are still dead; how many were requeued."""
    if not ids:
        return 0
    with db.engine.begin() as connection:
        return connection.execute(_REQUEUE_DEAD, {"ids": list(ids), "now": clock.now()}).rowcount
