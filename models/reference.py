"""Reference data: organizations and their contacts, working groups, co-chairs, meetings, windows."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base


class Organization(Base):
    """A partner company, a government or an international organization."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    industry: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(64))

    contacts: Mapped[list[Contact]] = relationship(back_populates="organization", order_by="Contact.id")


class Contact(Base):
    """A person at an organization who receives notifications in a preferred language."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    language: Mapped[str] = mapped_column(String(2), default="en")
    opt_outs: Mapped[list[str]] = mapped_column(JSON, default=list)

    organization: Mapped[Organization] = relationship(back_populates="contacts")


# Contacts are looked up by e-mail regardless of case (imports, identity checks, recipients).
Index("ix_contacts_lower_email", func.lower(Contact.email))


class WorkingGroup(Base):
    """One of the three steering Working Groups."""

    __tablename__ = "working_groups"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    focus: Mapped[str] = mapped_column(String(200))


class SubWorkingGroup(Base):
    """A technical Sub-Working Group; its co-chairs decide invitations by its approval policy."""

    __tablename__ = "sub_working_groups"
    __table_args__ = (
        CheckConstraint("approval_policy <> 'quorum' OR quorum >= 1", name="quorum_set"),
    )

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    working_group_code: Mapped[str] = mapped_column(ForeignKey("working_groups.code"))
    title: Mapped[str] = mapped_column(String(300))
    title_es: Mapped[str | None] = mapped_column(String(300))
    """The title in Spanish (the English ``title`` where there is none)."""
    title_fr: Mapped[str | None] = mapped_column(String(300))
    """The title in French (the English ``title`` where there is none)."""
    approval_policy: Mapped[str] = mapped_column(String(8), default="any")
    quorum: Mapped[int | None] = mapped_column(Integer)

    co_chairs: Mapped[list[CoChair]] = relationship(back_populates="swg", order_by="CoChair.id")


class CoChair(Base):
    """A co-chair of an SWG: a country or organization, and the person who decides for it."""

    __tablename__ = "co_chairs"
    __table_args__ = (UniqueConstraint("swg_code", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    swg_code: Mapped[str] = mapped_column(ForeignKey("sub_working_groups.code"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="en")

    swg: Mapped[SubWorkingGroup] = relationship(back_populates="co_chairs")
    organization: Mapped[Organization] = relationship()


class Meeting(Base):
    """A dated meeting: an SWG session, a WG meeting, an Alliance meeting or a forum.

    Its hours, when known, are local times in ``time_zone`` (an IANA name): from ``start_time`` on
    its first day to ``end_time`` on its last; without them it is held on its dates, all day.
    """

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    swg_code: Mapped[str | None] = mapped_column(ForeignKey("sub_working_groups.code"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    location: Mapped[str | None] = mapped_column(String(200))
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    time_zone: Mapped[str | None] = mapped_column(String(64))


class SubmissionWindow(Base):
    """The dates during which one kind of submission is accepted."""

    __tablename__ = "submission_windows"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    early_deadline: Mapped[date | None] = mapped_column(Date)


class SecretariatSignature(Base):
    """How the Secretariat signs its mails in one language (else ``settings.secretariat_name``)."""

    __tablename__ = "secretariat_signatures"

    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    signature: Mapped[str] = mapped_column(String(200))
