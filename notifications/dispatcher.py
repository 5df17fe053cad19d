"""Draining the outbox: claim due rows, deliver them, record each outcome.

A row moves ``pending -> sending -> sent``; a failed attempt puts it back to ``pending`` with an
exponential backoff, and after ``settings.outbox_max_attempts`` attempts it is ``dead`` (its last
error kept) until :func:`requeue`. Claiming sets ``sending`` and uses ``next_attempt_at`` as the
lease expiry: a row left in ``sending`` by a crashed dispatcher is claimed again once its lease
has expired. On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``, so concurrent dispatchers never
claim the same row; on SQLite ``BEGIN IMMEDIATE`` serializes them. ``suppressed`` rows are never
claimed. A resend after a crash carries the same Message-ID as the first send.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from jinja2 import TemplateError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, bindparam, select, update

from models.base import UtcDateTime
from models.db import Database
from models.enums import DeliveryChannel, OutboxStatus
from models.outbox import OutboxMessage
from notifications.action_urls import action_url
from notifications.chat_channel import ChatChannel
from notifications.email_channel import EmailChannel, build_email, describe_error
from notifications.errors import OutboxAlreadySent, OutboxMessageNotFound, PermanentDeliveryError
from notifications.mail_extras import mail_extras
from notifications.templates import render_message
from settings import Settings, get_settings
from states.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 50
MAX_BACKOFF = timedelta(hours=6)
MAX_ERROR_LENGTH = 2000


class DispatchReport(BaseModel):
    """What one :func:`dispatch_pending` call did."""

    claimed: int = 0
    reclaimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0


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

    ``lease_seconds`` (default: the larger of 120 s and three SMTP timeouts) is how long a
    claimed row stays reserved; rows not sent before their lease expires are left for the next
    claim instead of risking a concurrent double send. Safe to run in several processes at once.
    """
    settings = settings or get_settings()
    lease = timedelta(seconds=lease_seconds if lease_seconds is not None else max(120.0, 3 * settings.smtp_timeout_seconds))
    report = DispatchReport()
    chat = ChatChannel(settings.smtp_timeout_seconds)
    with EmailChannel(settings) as email, db.engine.connect() as recorder:
        while limit is None or report.claimed < limit:
            size = batch_size if limit is None else min(batch_size, limit - report.claimed)
            batch, lease_expiry = _claim(db, clock, size, lease, report)
            if not batch:
                break
            email.reset_failures()
            for row in batch:
                if clock.now() >= lease_expiry:
                    log.warning("lease of the current batch expired; leaving its remaining rows to the next claim")
                    break
                try:
                    _deliver(row, email, chat, settings, clock)
                except Exception as error:  # noqa: BLE001 - every failure is recorded on the row
                    permanent = isinstance(error, PermanentDeliveryError)
                    _record_failure(recorder, row.id, describe_error(error), permanent, clock, settings, report)
                else:
                    _record_sent(recorder, row.id, clock, report)
    return report


def _claim(
    db: Database, clock: Clock, size: int, lease: timedelta, report: DispatchReport
) -> tuple[Sequence[OutboxMessage], datetime]:
    """Reserve up to ``size`` due rows (pending, or sending with an expired lease)."""
    now = clock.now()
    expiry = now + lease
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            if row.status == OutboxStatus.SENDING:
                report.reclaimed += 1
                log.warning("outbox row %s: lease expired, claiming it again", row.id)
            row.status = OutboxStatus.SENDING
            row.next_attempt_at = expiry
    report.claimed += len(rows)
    return rows, expiry


def _deliver(row: OutboxMessage, email: EmailChannel, chat: ChatChannel, settings: Settings, clock: Clock) -> None:
    context = {"secretariat_name": settings.secretariat_name, **row.context, "recipient_name": row.recipient_name,
               "action_url": action_url(row.context, row.dedupe_key, settings)}
    try:
        rendered = render_message(row.notification_type, row.language, context)
    except (ValueError, TemplateError) as error:
        raise PermanentDeliveryError(f"cannot render the message: {error}") from error
    if row.channel == DeliveryChannel.EMAIL:
        message = build_email(
            rendered=rendered,
            recipient_name=row.recipient_name,
            recipient_address=row.recipient_address,
            dedupe_key=row.dedupe_key,
            settings=settings,
            clock=clock,
            **mail_extras(row, settings),
        )
        email.send(message)
    elif row.channel == DeliveryChannel.CHAT:
        chat.send(rendered, row.recipient_address)
    else:
        raise PermanentDeliveryError(f"unknown channel {row.channel!r}")


# Built once: constructing SQLAlchemy statements costs more than running them on SQLite.
_MARK_SENT = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("row_id"), OutboxMessage.status.in_([OutboxStatus.SENDING, OutboxStatus.PENDING]))
    .values(status=OutboxStatus.SENT, sent_at=bindparam("now", type_=UtcDateTime()), attempts=OutboxMessage.attempts + 1)
)


def _record_sent(connection: Connection, row_id: int, clock: Clock, report: DispatchReport) -> None:
    with connection.begin():
        connection.execute(_MARK_SENT, {"row_id": row_id, "now": clock.now()})
    report.sent += 1


def _record_failure(
    connection: Connection,
    row_id: int,
    error: str,
    permanent: bool,
    clock: Clock,
    settings: Settings,
    report: DispatchReport,
) -> None:
    with connection.begin():
        attempts = connection.scalar(
            select(OutboxMessage.attempts)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.SENDING)
            .with_for_update()
        )
        if attempts is None:
            return  # requeued or delivered by another dispatcher meanwhile
        attempts += 1
        values: dict[str, object] = {"attempts": attempts, "last_error": error[:MAX_ERROR_LENGTH]}
        if permanent or attempts >= settings.outbox_max_attempts:
            reason = "undeliverable" if permanent else f"gave up after {attempts} attempts"
            values.update(status=OutboxStatus.DEAD, status_reason=reason)
            report.dead += 1
            log.error("outbox row %s is dead (%s): %s", row_id, reason, error)
        else:
            delay = min(timedelta(seconds=settings.outbox_backoff_seconds * 2 ** (attempts - 1)), MAX_BACKOFF)
            values.update(status=OutboxStatus.PENDING, next_attempt_at=clock.now() + delay)
            report.retrying += 1
            log.warning("outbox row %s failed (attempt %s), next try in %s: %s", row_id, attempts, delay, error)
        connection.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


def list_outbox(
    db: Database, status: str | OutboxStatus | None = None, limit: int | None = 100
) -> list[OutboxRow]:
    """Outbox rows, newest first, optionally of one status (``ValueError`` for an unknown one)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        try:
            query = query.where(OutboxMessage.status == OutboxStatus(status))
        except ValueError:
            choices = ", ".join(member.value for member in OutboxStatus)
            raise ValueError(f"unknown outbox status {status!r}; choose one of: {choices}") from None
    with db.transaction() as session:
        return [OutboxRow.model_validate(row) for row in session.scalars(query)]


def requeue(db: Database, message_id: int, clock: Clock = SYSTEM_CLOCK) -> OutboxRow:
    """Put a non-sent row (typically ``dead``) back to ``pending``, due now, attempts reset.

    Raises :class:`OutboxMessageNotFound` for an unknown id and :class:`OutboxAlreadySent` for a
    row already delivered. The last error is kept for the record.
    """
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            raise OutboxMessageNotFound(f"there is no outbox message with id {message_id}")
        if row.status == OutboxStatus.SENT:
            raise OutboxAlreadySent(f"outbox message {message_id} was already sent at {row.sent_at:%Y-%m-%d %H:%M} UTC")
        row.status_reason = f"requeued (was {row.status})"
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = clock.now()
        return OutboxRow.model_validate(row)
