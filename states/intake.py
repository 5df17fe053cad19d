"""Submissions from the public forms: nothing enters a lifecycle before its sender confirms their e-mail.

``receive`` validates the form, keeps it as a ``PendingSubmission`` and, in the same transaction,
writes the confirmation mail to the outbox with its signed link. ``confirm`` (through that link)
creates the engagement and submits it. The submission window is judged at the moment the form was
received, so a confirmation after the window closed still counts when the form came in time.

A form names its organization as text; it never grants identity. A sender who is a contact of the
organization named submits for it; a sender naming an organization nobody knows yet creates it, as
its first contact; a sender naming an existing organization they are not a known contact of makes a
*claim*: the engagement is submitted with no participant (so no mail of that organization ever
reaches the sender and the website names no partner) until staff ``accept_claim``.

The public can cause at most ``CONFIRMATIONS_PER_DAY`` confirmation mails to one address in 24 hours
(counted in the database, one writer at a time per address), and none to an address that opted out.
All addresses together get at most ``public_confirmations_per_hour`` in any hour: past it, the doors
refuse with ``BusyError`` (try again later), so neither the forms from many client addresses nor
mail with forged senders can turn the Secretariat's domain into a sender of mail at will.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from models import (
    ActionLink, AddressOptOut, Contact, Engagement, Organization, OutboxMessage, Participant, PendingSubmission,
    SubmissionWindow, TransitionLog,
)
from models.db import Database
from models.enums import Channel, EngagementKind, NotificationType, OrganizationType, OutboxStatus, ParticipantRole
from settings import Settings
from states import action_links
from states.clock import SYSTEM_CLOCK, Clock, SimulatedClock
from states.errors import EngageError, GuardFailedError, InputError, NotAllowedError, NotFoundError, english
from states.inputs import DETAILS_SCHEMAS, Email, SingleLine, Strict, Title, parse
from states.workflow import apply_transition, create_engagement
from website.i18n import N_, Phrase

KINDS = (EngagementKind.RECOMMENDATION, EngagementKind.ACHIEVEMENT, EngagementKind.WEBSITE_SUBMISSION)
PURPOSE = "submission_confirmation"
CONFIRMATIONS_PER_DAY = 3
"""Confirmation mails the public forms may cause to one address in any 24 hours, whoever sends the forms."""
UNVERIFIED, ACCEPTED = "unverified", "accepted"
BUSY = N_("The Secretariat is receiving unusually many submissions. Nothing was kept: please send yours again "
          "in an hour.")


class BusyError(EngageError):
    """The public doors caused their hour's budget of confirmation mails; nothing was written."""
INTAKE = "website intake"


class SubmissionForm(Strict):
    """What every public form asks: who sends it, and a title."""

    organization: SingleLine
    email: Email
    title: Title


@dataclass(frozen=True)
class Received:
    """What the form's sender is told (the same page either way) and, when a mail was queued, its link."""

    pending_id: int | None
    token: str | None
    early_deadline: str | None

    @property
    def queued(self) -> bool:
        """Whether a confirmation mail was queued (not when the address is over its cap or opted out)."""
        return self.pending_id is not None


@dataclass(frozen=True)
class Claim:
    """A confirmed submission whose sender named an organization they are not a known contact of."""

    engagement_id: int
    title: str
    state: str
    organization: str
    email: str
    status: str

    @property
    def phrase(self) -> Phrase:
        """How staff see it: "claims to be from Snap Inc." (or, once accepted, who verified it)."""
        if self.status == ACCEPTED:
            return Phrase.of(N_("sent by %(email)s for %(organization)s (claim accepted by staff)"), email=self.email,
                             organization=self.organization)
        return Phrase.of(N_("%(email)s claims to be from %(organization)s (not verified)"), email=self.email,
                         organization=self.organization)

    @property
    def label(self) -> str:
        return english(self.phrase)


@dataclass(frozen=True)
class Confirmed:
    engagement_id: int
    state: str
    message: str
    phrase: Phrase
    """``message`` as a catalog message."""


_SUBMITTED = N_("\"%(title)s\" is submitted to the Secretariat.")
ALREADY_SUBMITTED = N_("\"%(title)s\" was already confirmed and submitted.")
_NO_WINDOW = N_("This form is not open at the moment: no submission window is set.")
_NOT_YET_OPEN = N_("This form opens on %(day)s.")
_CLOSED = N_("This form closed on %(day)s; it no longer accepts submissions.")


def window_refusal(window: SubmissionWindow | None, day: date) -> Phrase | None:
    """Why a form whose submission window is ``window`` accepts nothing on ``day``; ``None`` when it is open."""
    if window is None:
        return Phrase.of(_NO_WINDOW)
    if day < window.opens_on:
        return Phrase.of(_NOT_YET_OPEN, day=window.opens_on)
    if day > window.closes_on:
        return Phrase.of(_CLOSED, day=window.closes_on)
    return None


def validate(kind: str, form: dict[str, Any], details: dict[str, Any]) -> tuple[SubmissionForm, BaseModel]:
    """The sender and the details of a public submission, checked together: one ``InputError`` names every bad
    field of both (``NotFoundError`` for a kind the website does not take)."""
    if kind not in KINDS:
        raise NotFoundError(f"kind: {kind!r} cannot be submitted through the website")
    refusals: list[InputError] = []
    who = checked = None
    try:
        who = parse(SubmissionForm, form)
    except InputError as refusal:
        refusals.append(refusal)
    try:
        checked = parse(DETAILS_SCHEMAS[kind], details, "details.")
    except InputError as refusal:
        refusals.append(refusal)
    if who is None or checked is None:
        raise InputError("; ".join(str(refusal) for refusal in refusals),
                         problems=tuple(problem for refusal in refusals for problem in refusal.problems))
    return who, checked


def receive(db: Database, kind: str, form: dict[str, Any], details: dict[str, Any], *, language: str,
            settings: Settings, clock: Clock = SYSTEM_CLOCK, upload_name: str | None = None,
            also: Callable[[Session, int | None], None] | None = None) -> Received:
    """Keep a public submission until confirmed and queue the confirmation mail, in one transaction.

    Writes nothing (and says so only in ``Received.queued``) when the address has had
    ``CONFIRMATIONS_PER_DAY`` confirmation mails in the last 24 hours or opted out of them.
    ``upload_name`` is the quarantined file the submission carries. ``also`` writes, in the same
    transaction, the record of the door the submission came through (given the pending id, or None when
    nothing was queued). Raises ``InputError`` naming each bad field, ``GuardFailedError`` when its
    window is not open, or ``BusyError`` when the hour's confirmation mails are spent.
    """
    who, checked = validate(kind, form, details)
    now = clock.now()
    email = who.email.lower()
    with db.transaction() as session:
        window = session.get(SubmissionWindow, kind)
        if refusal := window_refusal(window, now.date()):
            raise GuardFailedError(refusal)
        early = window.early_deadline.isoformat() if window and window.early_deadline else None
        _one_writer_per_address(session, email)
        if _refuses_confirmations(session, email) or _confirmations_since(session, email, now - timedelta(days=1)) \
                >= CONFIRMATIONS_PER_DAY:
            if also is not None:
                also(session, None)
            return Received(None, None, early)  # the same answer: the form reveals nothing of the address
        if session.scalar(select(func.count()).select_from(PendingSubmission).where(
                PendingSubmission.received_at > now - timedelta(hours=1))) >= settings.public_confirmations_per_hour:
            raise BusyError(Phrase.of(BUSY))
        pending = PendingSubmission(
            kind=kind, organization=who.organization, email=email, language=language,
            payload={"title": who.title, "details": checked.model_dump(mode="json")}, received_at=now,
            upload_name=upload_name,
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
            # not mandatory: it carries List-Unsubscribe, and an address that used it gets no more
            "mandatory": False, "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now,
            "context": {
                "engagement_title": who.title, "engagement_kind": kind, "organization": who.organization,
                "received_on": now.date().isoformat(), "link_purpose": PURPOSE,
                "link_expires": (now + lifetime).date().isoformat(),
            },
        }])
        if also is not None:
            also(session, pending.id)
        return Received(pending.id, token, early)


def _one_writer_per_address(session: Session, email: str) -> None:
    """Serialise the forms sent to one address, so that concurrent ones count each other.

    SQLite transactions already run one at a time (``BEGIN IMMEDIATE``); PostgreSQL takes a
    transaction-scoped advisory lock named by the address.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"intake:{email}".encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _refuses_confirmations(session: Session, email: str) -> bool:
    """Whether ``email`` opted out of confirmation mails (as a contact, or as an address we only mailed)."""
    kind = NotificationType.SUBMISSION_CONFIRMATION.value
    if session.get(AddressOptOut, (email, kind)) is not None:
        return True
    opt_outs = session.scalar(select(Contact.opt_outs).where(func.lower(Contact.email) == email))
    return bool(opt_outs) and (kind in opt_outs or "email" in opt_outs)


def _confirmations_since(session: Session, email: str, since: Any) -> int:
    """Confirmation mails queued for ``email`` since ``since``: one per pending submission."""
    return session.scalar(select(func.count()).select_from(PendingSubmission).where(
        PendingSubmission.email == email, PendingSubmission.received_at > since))


def pending_of(db: Database, link: action_links.VerifiedLink) -> PendingSubmission:
    """The pending submission a confirmation link was mailed for."""
    with db.transaction() as session:
        pending = session.scalar(select(PendingSubmission).where(PendingSubmission.link_hash == link.token_hash))
        if pending is None:
            raise NotFoundError(Phrase.of(N_("The submission this link confirms no longer exists.")))
        return pending


def _sender(db: Database, pending: PendingSubmission) -> str | None:
    """Decide who the sender is for the organization they named; the claim status (None: no claim).

    A contact of that organization submits for it; a contact of another one is refused; a name nobody
    knows yet becomes a new organization with the sender as its contact; an address nobody knows only
    claims to be from the existing organization it names.
    """
    with db.transaction() as session:
        organization = session.scalar(select(Organization).where(func.lower(Organization.name) == pending.organization.lower()))
        contact = session.scalar(select(Contact).where(func.lower(Contact.email) == pending.email))
        if contact is not None and (organization is None or contact.organization_id != organization.id):
            raise NotAllowedError(Phrase.of(
                N_("%(email)s is already a contact of another organization; write to the Secretariat to correct it."),
                email=pending.email))
        if organization is None:
            organization = Organization(name=pending.organization, type=OrganizationType.PARTNER, industry="other")
            session.add(organization)
            session.flush()
            contact = Contact(organization_id=organization.id, name=pending.organization, email=pending.email,
                              language=pending.language, opt_outs=[])
            session.add(contact)
        claim = None if contact is not None else UNVERIFIED
        session.execute(update(PendingSubmission).where(PendingSubmission.id == pending.id)
                        .values(organization=organization.name, claim=claim))
        pending.organization, pending.claim = organization.name, claim
        return claim


def confirm(db: Database, pending_id: int, *, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Confirmed:
    """Create and submit the engagement of a confirmed submission (once; a second call says so).

    A claim (see the module) is submitted by the website intake with no participant, for staff to review.
    """
    now = clock.now()
    with db.transaction() as session:
        pending = session.get(PendingSubmission, pending_id)
        if pending is None:
            raise NotFoundError(Phrase.of(N_("no pending submission %(id)s"), id=pending_id))
        claimed = session.execute(
            update(PendingSubmission).where(PendingSubmission.id == pending_id, PendingSubmission.confirmed_at.is_(None))
            .values(confirmed_at=now)
        ).rowcount
    if not claimed:
        raise action_links.UsedLinkError(Phrase.of(N_("This submission was already confirmed on %(day)s."),
                                                   day=pending.confirmed_at.date()))
    try:
        claim = _sender(db, pending)
        if claim is None:
            actor = {"role": "partner", "identity": pending.email}
            participants = [{"organization": pending.organization, "role": "partner", "contact_email": pending.email}]
        else:
            actor = {"role": "system", "identity": INTAKE}
            participants = []
        engagement = create_engagement(db, {
            "kind": pending.kind, "title": pending.payload["title"], "details": pending.payload["details"],
            "participants": participants,
        }, actor, channel=Channel.WEBSITE, clock=clock)
    except EngageError:
        with db.transaction() as session:  # refused: the submission stays pending, to be confirmed again
            session.execute(update(PendingSubmission).where(PendingSubmission.id == pending_id).values(confirmed_at=None))
        raise
    with db.transaction() as session:
        session.execute(update(PendingSubmission).where(PendingSubmission.id == pending_id)
                        .values(engagement_id=engagement))
    # judged when the form was received: the window, and the early deadline of recommendations
    sent = f"sent on {pending.received_at:%Y-%m-%d %H:%M} UTC, confirmed by e-mail"
    outcome = apply_transition(
        db, engagement, "submit", actor,
        comment=sent if claim is None else f"{sent} by {pending.email}, who claims to be from {pending.organization}",
        channel=Channel.WEBSITE, idempotency_key=f"intake:{pending_id}:submit",
        clock=SimulatedClock(pending.received_at), settings=settings,
    )
    phrase = Phrase.of(_SUBMITTED, title=pending.payload["title"])
    return Confirmed(engagement, outcome.to_state, english(phrase), phrase)


def claims(db: Database, *, status: str = UNVERIFIED) -> list[Claim]:
    """The confirmed submissions whose sender's identity is a claim in ``status``, oldest first."""
    with db.transaction() as session:
        rows = session.execute(
            select(Engagement.id, Engagement.title, Engagement.state, PendingSubmission.organization,
                   PendingSubmission.email, PendingSubmission.claim)
            .join(PendingSubmission, PendingSubmission.engagement_id == Engagement.id)
            .where(PendingSubmission.claim == status).order_by(Engagement.id)
        ).all()
    return [Claim(*row) for row in rows]


def accept_claim(db: Database, engagement_id: int, staff: str, *, channel: Channel = Channel.CLI,
                 clock: Clock = SYSTEM_CLOCK) -> str:
    """Staff verified that a claim's sender answers for the organization they named: make them its contact
    and the engagement's partner, in one transaction with an audit row. Raises ``NotFoundError`` when the
    engagement carries no claim, ``NotAllowedError`` when the sender is another organization's contact or the claim
    was already accepted (two staff accepting at once: the claim's row is locked, so exactly one does).
    """
    now = clock.now()
    with db.transaction() as session:
        pending = session.scalar(select(PendingSubmission).where(
            PendingSubmission.engagement_id == engagement_id,
            PendingSubmission.claim.in_((UNVERIFIED, ACCEPTED))).with_for_update())
        engagement = session.get(Engagement, engagement_id)
        if pending is None or engagement is None:
            raise NotFoundError(Phrase.of(N_("engagement %(id)s carries no identity claim to accept"), id=engagement_id))
        if pending.claim == ACCEPTED:
            raise NotAllowedError(Phrase.of(N_("the claim of %(email)s on engagement %(id)s was already accepted"),
                                           email=pending.email, id=engagement_id))
        organization = session.scalar(select(Organization).where(Organization.name == pending.organization))
        if organization is None:
            raise NotFoundError(Phrase.of(N_("no organization named %(name)s"), name=repr(pending.organization)))
        contact = session.scalar(select(Contact).where(func.lower(Contact.email) == pending.email))
        if contact is None:
            contact = Contact(organization_id=organization.id, name=pending.organization, email=pending.email,
                              language=pending.language, opt_outs=[])
            session.add(contact)
            session.flush()
        elif contact.organization_id != organization.id:
            raise NotAllowedError(Phrase.of(N_("%(email)s is a contact of another organization; correct the directory first"),
                                           email=pending.email))
        session.add(Participant(engagement_id=engagement_id, organization_id=organization.id, contact_id=contact.id,
                                role=ParticipantRole.PARTNER, all_contacts=False))
        pending.claim = ACCEPTED
        session.add(TransitionLog(
            engagement_id=engagement_id, trigger="accept_claim", from_state=engagement.state, to_state=engagement.state,
            version=engagement.version, actor=staff[:254], actor_role="secretariat", channel=Channel(channel).value,
            comment=f"{pending.email} verified as a contact of {organization.name}",
            data={"organization": organization.name, "sender": pending.email},
            idempotency_key=f"intake:{pending.id}:accept_claim", at=now,
        ))
        return f"{pending.email} is now a contact of {organization.name} and its partner on engagement {engagement_id}"


def file_audience(db: Database, name: str) -> str | None:
    """Who may download the uploaded file ``name``: "public" once a submission carrying it is published,
    "staff" once one is confirmed, else None (an unconfirmed upload stays in quarantine)."""
    with db.transaction() as session:
        states = session.execute(
            select(PendingSubmission.confirmed_at, Engagement.state)
            .outerjoin(Engagement, Engagement.id == PendingSubmission.engagement_id)
            .where(PendingSubmission.upload_name == name)
        ).all()
    if any(state == "published" for _, state in states):
        return "public"
    if any(confirmed is not None for confirmed, _ in states):
        return "staff"
    return None


def windows(db: Database) -> dict[str, SubmissionWindow]:
    """The submission windows of the website's kinds, by kind."""
    with db.transaction() as session:
        return {w.kind: w for w in session.scalars(select(SubmissionWindow).where(SubmissionWindow.kind.in_(KINDS)))}
