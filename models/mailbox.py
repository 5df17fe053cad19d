"""What the mailbox intake keeps: every inbound message it filed, and the addresses mail no longer reaches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


class InboundMessage(Base):
    """One message read from the mailbox, written in the transaction of its effect: its key says it is done.

    ``key`` is the sha256 of the message's Message-ID, or of its bytes when it has none. ``outcome`` is
    ``filed`` (an answer or a pending submission), ``bounce``, ``ignored`` (auto-reply, our own mail),
    ``staff`` (kept for a person to read) or ``refused``; ``folder`` is where the message is moved.
    """

    __tablename__ = "inbound_messages"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    folder: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"), index=True)


class UndeliverableAddress(Base):
    """An address a delivery status notification said mail cannot reach; the outbox suppresses mail to it."""

    __tablename__ = "undeliverable_addresses"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    message_key: Mapped[str] = mapped_column(String(64))
