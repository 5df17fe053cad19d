"""What the portal keeps: signed action links (by hash only) and submissions awaiting e-mail confirmation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


class ActionLink(Base):
    """A mailed link that lets one person take one of ``actions`` on one engagement.

    The token itself is never stored: it is derived from the outbox row's ``dedupe_key`` with the
    secret key, and only its sha256 is kept here.
    """

    __tablename__ = "action_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(24))
    language: Mapped[str] = mapped_column(String(2), default="en")
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_action: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PendingSubmission(Base):
    """A submission from the public forms, held until its sender confirms their e-mail address."""

    __tablename__ = "pending_submissions"
    __table_args__ = (Index("ix_pending_submissions_email", "email"),
                      Index("ix_pending_submissions_received_at", "received_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    organization: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="en")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagements.id"))
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # "unverified" when the sender named an existing organization they are not a known contact of,
    # "accepted" once staff verified it; None when the sender is that organization's contact.
    claim: Mapped[str | None] = mapped_column(String(16))
    upload_name: Mapped[str | None] = mapped_column(String(80), index=True)


class AddressOptOut(Base):
    """An address that is no contact yet refuses a kind of mail (e.g. submission confirmations)."""

    __tablename__ = "address_opt_outs"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    notification_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
