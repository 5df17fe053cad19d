"""Read-only views of engagements, organizations and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import Contact, Engagement, Organization, Participant, TransitionLog
from states.errors import NotFoundError


def list_engagements(session: Session, *, kind: str | None = None, state: str | None = None,
                     limit: int = 200) -> Sequence[Engagement]:
    """Engagements, newest first, optionally of one kind and/or state."""
    query = select(Engagement).order_by(Engagement.id.desc()).limit(limit)
    if kind:
        query = query.where(Engagement.kind == kind)
    if state:
        query = query.where(Engagement.state == state)
    return session.scalars(query).all()


def get_engagement(session: Session, engagement_id: int) -> Engagement:
    """One engagement with its participants; ``NotFoundError`` if there is none."""
    found = session.get(Engagement, engagement_id, options=[selectinload(Engagement.participants)])
    if found is None:
        raise NotFoundError(f"no engagement with id {engagement_id}")
    return found


def participants(session: Session, engagement_id: int) -> list[tuple[Participant, Organization, Contact | None]]:
    """Who takes part in an engagement, with their organization and chosen contact."""
    rows = session.execute(
        select(Participant, Organization, Contact)
        .join(Organization, Organization.id == Participant.organization_id)
        .outerjoin(Contact, Contact.id == Participant.contact_id)
        .where(Participant.engagement_id == engagement_id)
        .order_by(Participant.id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def history(session: Session, engagement_id: int) -> Sequence[TransitionLog]:
    """The audit trail of an engagement, oldest first; ``NotFoundError`` for an unknown engagement."""
    get_engagement(session, engagement_id)
    return session.scalars(
        select(TransitionLog).where(TransitionLog.engagement_id == engagement_id).order_by(TransitionLog.id)
    ).all()


def list_organizations(session: Session, *, type: str | None = None) -> list[tuple[Organization, int]]:
    """Organizations by name, with how many contacts each has."""
    query = (
        select(Organization, func.count(Contact.id))
        .outerjoin(Contact, Contact.organization_id == Organization.id)
        .group_by(Organization.id)
        .order_by(Organization.name)
    )
    if type:
        query = query.where(Organization.type == type)
    return [tuple(row) for row in session.execute(query).all()]  # type: ignore[misc]


def get_organization(session: Session, name: str) -> Organization:
    """One organization, by exact name, with its contacts; ``NotFoundError`` if there is none."""
    found = session.scalar(
        select(Organization).where(Organization.name == name).options(selectinload(Organization.contacts))
    )
    if found is None:
        raise NotFoundError(f"no organization named {name!r}")
    return found
