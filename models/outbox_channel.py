"""The delivery state of each outbox channel: paused while its server is unreachable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


class OutboxChannel(Base):
    """One row per channel (``email``, ``chat``), written by dispatchers when a server cannot be reached.

    ``paused_until`` holds claims of the channel's rows back; ``failures`` counts consecutive
    failed attempts to reach the server (the pause doubles with each); ``outage_since`` is when the
    current outage began and ``escalated_at`` when the secretariat was told of it (once per outage).
    A successful delivery clears all of them.
    """

    __tablename__ = "outbox_channels"

    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    paused_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    outage_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
