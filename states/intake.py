"""Submissions from the public forms: nothing enters a lifecycle before its sender confirms their e-mail.

``receive`` validates the form, keeps it as a ``PendingSubmission`` and, in the same transaction,
writes the confirmation mail to the outbox with its signed link. ``confirm`` (through that link)
creates the engagement and submits it. The submission window is judged at the moment the form was
received, so a confirmation after the window closed still counts when the form came in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select, update

from models import ActionLink, Contact, Organization, OutboxMessage, PendingSubmission, SubmissionWindow
from models.db import Database
from models.enums import Channel, EngagementKind, NotificationType, OrganizationType, OutboxStatus
from settings import Settings
from states import action_links
from states.clock import SYSTEM_CLOCK, Clock, SimulatedClock
from states.errors import EngageError, GuardFailedError, NotAllowedError, NotFoundError
from states.inputs import DETAILS_SCHEMAS, Email, SingleLine, Strict, Title, parse
from states.workflow import apply_transition, create_engagement

KINDS = (EngagementKind.RECOMMENDATION, EngagementKind.ACHIEVEMENT, EngagementKind.WEBSITE_SUBMISSION)
PURPOSE = "submission_confirmation"


class SubmissionForm(Strict):
    """What every public form asks: who sends it, and a title."""

    organization: SingleLine
    email: Email
    title: Title


@dataclass(frozen=True)
class Received:
    pending_id: int
    token: str
    early_deadline: str | None


@dataclass(frozen=True)
class Confirmed:
    engagement_id: int
    state: str
    message: str


def _window_refusal(window: SubmissionWindow | None, kind: str, day: date) -> str | None:
    label = kind.replace("_", " ")
    if window is None:
        return f"{label}s are not accepted at the moment (no submission window is set)"
    if day < window.opens_on:
        return f"the window for {label}s opens on {window.opens_on:%d %B %Y}"
    if day > window.closes_on:
        return f"the window for {label}s closed on {window.closes_on:%d %B %Y}; it no longer accepts submissions"
    return None


def receive(db: Database, kind: str, form: dict[str, Any], details: dict[str, Any], *, language: str,
            settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Received:
    """Keep a public submission until confirmed and queue the confirmation mail, in one transaction.

    Raises ``InputError`` naming each bad field, or ``GuardFailedError`` when its window is not open.
    """
    if kind not in KINDS:
        raise NotFoundError(f"kind: {kind!r} cannot be submitted through the website")
    who = parse(SubmissionForm, form)
    checked: BaseModel = parse(DETAILS_SCHEMAS[kind], details, "details.")
    now = clock.now()
    with db.transaction() as session:
        window = session.get(SubmissionWindow, kind)
        if refusal := _window_refusal(window, kind, now.date()):
            raise GuardFailedError(refusal)
        pending = PendingSubmission(
            kind=kind, organization=who.organization, email=who.email.lower(), language=language,
            payload={"title": who.title, "details": checked.model_dump(mode="json")}, received_at=now,
        )
        session.add(pending)
        session.flush()
        dedupe_key = f"intake{pending.id}:{NotificationType.SUBMISSION_CONFIRMATION.value}:email:{pending.email}"
        lifetime = timedelta(days=settings.link_lifetime_days)
        token = action_links.link_token(settings.signing_key(), dedupe_key)
        pending.link_hash = action_links.token_hash(token)
        session.execute(insert(ActionLink), [{
            "token_hash": action_links.token_hash(token), "engagement_id": None, "email": pending.email,
            "role": "partner", "language": language, "actions": ["confirm"], "purpose": PURPOSE,
            "expires_at": now + lifetime, "created_at": now,
        }])
        session.execute(insert(OutboxMessage), [{
            "dedupe_key": dedupe_key, "engagement_id": None, "transition_id": None,
            "notification_type": NotificationType.SUBMISSION_CONFIRMATION.value, "channel": "email",
            "recipient_name": who.organization, "recipient_address": pending.email, "language": language,
            "mandatory": True, "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now,
            "context": {
                "engagement_title": who.title, "engagement_kind": kind, "organization": who.organization,
                "received_on": now.date().isoformat(), "link_purpose": PURPOSE,
                "link_expires": (now + lifetime).date().isoformat(),
            },
        }])
        early = window.early_deadline.isoformat() if window and window.early_deadline else None
        return Received(pending.id, token, early)


def pending_of(db: Database, link: action_links.VerifiedLink) -> PendingSubmission:
    """The pending submission a confirmation link was mailed for."""
    with db.transaction() as session:
        pending = session.scalar(select(PendingSubmission).where(PendingSubmission.link_hash == link.token_hash))
        if pending is None:
            raise NotFoundError("the submission this link confirms no longer exists")
        return pending


def _organization(db: Database, pending: PendingSubmission) -> None:
    """Make sure the sender is a contact of the organization they named (new partners are added)."""
    with db.transaction() as session:
        organization = session.scalar(select(Organization).where(func.lower(Organization.name) == pending.organization.lower()))
        contact = session.scalar(select(Contact).where(func.lower(Contact.email) == pending.email))
        if organization is None:
            organization = Organization(name=pending.organization, type=OrganizationType.PARTNER, industry="other")
            session.add(organization)
            session.flush()
        if contact is None:
            session.add(Contact(organization_id=organization.id, name=pending.organization, email=pending.email,
                                language=pending.language, opt_outs=[]))
        elif contact.organization_id != organization.id:
            raise NotAllowedError(
                f"{pending.email} is already a contact of another organization; write to the Secretariat to correct it"
            )
        pending.organization = organization.name


def confirm(db: Database, pending_id: int, *, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Confirmed:
    """Create and submit the engagement of a confirmed submission (once; a second call says so)."""
    now = clock.now()
    with db.transaction() as session:
        pending = session.get(PendingSubmission, pending_id)
        if pending is None:
            raise NotFoundError(f"no pending submission {pending_id}")
        claimed = session.execute(
            update(PendingSubmission).where(PendingSubmission.id == pending_id, PendingSubmission.confirmed_at.is_(None))
            .values(confirmed_at=now)
        ).rowcount
    if not claimed:
        raise action_links.UsedLinkError(f"this submission was already confirmed on {pending.confirmed_at:%d %B %Y}")
    actor = {"role": "partner", "identity": pending.email}
    try:
        _organization(db, pending)
        engagement = create_engagement(db, {
            "kind": pending.kind, "title": pending.payload["title"], "details": pending.payload["details"],
            "participants": [{"organization": pending.organization, "role": "partner", "contact_email": pending.email}],
        }, actor, channel=Channel.WEBSITE, clock=clock)
    except EngageError:
        with db.transaction() as session:  # refused: the submission stays pending, to be confirmed again
            session.execute(update(PendingSubmission).where(PendingSubmission.id == pending_id).values(confirmed_at=None))
        raise
    with db.transaction() as session:
        session.execute(update(PendingSubmission).where(PendingSubmission.id == pending_id)
                        .values(engagement_id=engagement))
    # judged when the form was received: the window, and the early deadline of recommendations
    outcome = apply_transition(
        db, engagement, "submit", actor, comment=f"sent on {pending.received_at:%Y-%m-%d %H:%M} UTC, confirmed by e-mail",
        channel=Channel.WEBSITE, idempotency_key=f"intake:{pending_id}:submit",
        clock=SimulatedClock(pending.received_at), settings=settings,
    )
    return Confirmed(engagement, outcome.to_state, f"{pending.payload['title']!r} is submitted to the Secretariat")


def windows(db: Database) -> dict[str, SubmissionWindow]:
    """The submission windows of the website's kinds, by kind."""
    with db.transaction() as session:
        return {w.kind: w for w in session.scalars(select(SubmissionWindow).where(SubmissionWindow.kind.in_(KINDS)))}
