"""Engagements, their participants, dialogue reports and co-chair votes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UtcDateTime


class Engagement(Base):
    """One engagement of any of the eight kinds; ``state`` changes only through ``apply_transition``."""

    __tablename__ = "engagements"
    __table_args__ = (Index("ix_engagements_next_due_at", "next_due_at"), Index("ix_engagements_kind_state", "kind", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    swg_code: Mapped[str | None] = mapped_column(ForeignKey("sub_working_groups.code"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    country: Mapped[str | None] = mapped_column(String(2))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The reminder sweep's bookkeeping for states that wait on someone.
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[bool] = mapped_column(default=False)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    participants: Mapped[list[Participant]] = relationship(back_populates="engagement", order_by="Participant.id")


class Participant(Base):
    """An organization taking part in an engagement, and whom its mails reach.

    ``contact_id`` is the designated contact (the one named, else the organization's primary contact
    when it was added); ``all_contacts`` is set only when staff chose to reach every contact.
    """

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("engagement_id", "organization_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    role: Mapped[str] = mapped_column(String(16))
    all_contacts: Mapped[bool] = mapped_column(default=False, server_default=false())

    engagement: Mapped[Engagement] = relationship(back_populates="participants")


class DialogueReport(Base):
    """What a national authority reports of a dialogue it held."""

    __tablename__ = "dialogue_reports"

    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), primary_key=True)
    held_on: Mapped[date] = mapped_column(Date)
    organizing_agency: Mapped[str] = mapped_column(String(200))
    public_partners: Mapped[int] = mapped_column(Integer)
    private_partners: Mapped[int] = mapped_column(Integer)
    narrative: Mapped[str | None] = mapped_column(Text)
    areas_of_discussion: Mapped[list[str]] = mapped_column(JSON, default=list)
    recommendations: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApprovalVote(Base):
    """One co-chair's decision on an engagement that needs approval."""

    __tablename__ = "approval_votes"
    __table_args__ = (UniqueConstraint("engagement_id", "co_chair_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    co_chair_id: Mapped[int] = mapped_column(ForeignKey("co_chairs.id"))
    decision: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
