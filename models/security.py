"""What the portal keeps to hold its limits and sessions across processes: rate-limit counters, sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


class RateLimitCounter(Base):
    """How many events one key (a client address, a target address) had in its current fixed window.

    One row per key, upserted; ``key`` is the sha256 of the scope and the value, so no address is stored.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class PortalSession(Base):
    """A signed-in person: the cookie holds a random id, the table keeps only its sha256."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
