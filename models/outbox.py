"""The outbox: notifications written with the transition that causes them, delivered later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


CLAIMABLE = "status IN ('pending', 'sending')"
"""The rows a dispatcher may claim, as a claim states it: literally, so that both planners see it implies
the predicate of ``ix_outbox_claimable`` and read the due rows in claiming order (no sort of every due row)."""


class OutboxMessage(Base):
    """One notification to one recipient over one channel.

    ``dedupe_key`` names its cause (transition log row, notification type, recipient), so the
    same cause never yields two rows, and the e-mail Message-ID is derived from it.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_claimable", "next_attempt_at", "id", postgresql_where=text(CLAIMABLE), sqlite_where=text(CLAIMABLE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"), index=True)
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("transition_log.id"))
    notification_type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_address: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(2))
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
