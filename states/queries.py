"""Read-only views of engagements, organizations and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import ApprovalVote, CoChair, Contact, DialogueReport, Engagement, Organization, Participant, TransitionLog
from models.enums import EngagementKind, OrganizationType
from states.errors import NotFoundError


def _check_kind_and_state(kind: str | None, state: str | None) -> None:
    """Refuse an unknown kind, or a state no lifecycle (of that kind) has, listing the valid ones."""
    from states.inputs import InputError
    from states.lifecycles import LIFECYCLES

    if kind is not None and kind not in LIFECYCLES:
        raise InputError(f"kind: {kind!r} is not a kind of engagement; choose one of: {', '.join(EngagementKind)}")
    if state is not None:
        lifecycles = [LIFECYCLES[kind]] if kind else list(LIFECYCLES.values())
        states = sorted({spec.name for lifecycle in lifecycles for spec in lifecycle.states})
        if state not in states:
            raise InputError(f"state: {state!r} is not a state{f' of {kind}' if kind else ''}; "
                             f"choose one of: {', '.join(states)}")


def list_engagements(session: Session, *, kind: str | None = None, state: str | None = None,
                     limit: int = 200) -> Sequence[Engagement]:
    """Engagements, newest first, optionally of one kind and/or state (``InputError`` for unknown ones)."""
    _check_kind_and_state(kind, state)
    query = select(Engagement).order_by(Engagement.id.desc()).limit(limit)
    if kind:
        query = query.where(Engagement.kind == kind)
    if state:
        query = query.where(Engagement.state == state)
    return session.scalars(query).all()


def get_engagement(session: Session, engagement_id: int) -> Engagement:
    """One engagement with its participants; ``NotFoundError`` if there is none."""
    from states.inputs import check_id  # imported here: listings need no input models

    check_id(engagement_id, "engagement_id")
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


def dialogue_report(session: Session, engagement_id: int) -> DialogueReport | None:
    """The report a national authority submitted for a dialogue, if any."""
    return session.get(DialogueReport, engagement_id)


def votes(session: Session, engagement_id: int) -> list[tuple[ApprovalVote, CoChair]]:
    """The co-chairs' recorded decisions on an engagement, in the order they came."""
    rows = session.execute(
        select(ApprovalVote, CoChair).join(CoChair, CoChair.id == ApprovalVote.co_chair_id)
        .where(ApprovalVote.engagement_id == engagement_id).order_by(ApprovalVote.id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def history(session: Session, engagement_id: int) -> Sequence[TransitionLog]:
    """The audit trail of an engagement, oldest first; ``NotFoundError`` for an unknown engagement."""
    get_engagement(session, engagement_id)
    return session.scalars(
        select(TransitionLog).where(TransitionLog.engagement_id == engagement_id).order_by(TransitionLog.id)
    ).all()


def list_organizations(session: Session, *, type: str | None = None) -> list[tuple[Organization, int]]:
    """Organizations by name, with how many contacts each has (``InputError`` for an unknown type)."""
    if type is not None and type not in set(OrganizationType):
        from states.inputs import InputError

        raise InputError(f"type: {type!r} is not an organization type; choose one of: {', '.join(OrganizationType)}")
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
