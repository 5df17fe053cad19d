"""Signing in without passwords: a co-chair or a staff member asks, and a one-hour link is mailed.

The answer never reveals whether an address is known; the link row and its mail are written in
one transaction. Using the link starts a server-side session: one conditional UPDATE claims the
link (so concurrent POSTs of one link give one session) and the session row is written with it; the
browser's cookie holds only the session's random id, the table its sha256. ``pending_decisions`` is
what a signed-in co-chair sees.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select, update

from models import ActionLink, ApprovalVote, CoChair, Engagement, OutboxMessage, PortalSession
from models.db import Database
from models.enums import NotificationType, OutboxStatus, Role
from settings import Settings
from states import action_links
from states.clock import SYSTEM_CLOCK, Clock
from states.inputs import Email, Strict, parse
from website.i18n import N_, Phrase

PURPOSE = "sign_in"
LIFETIME = timedelta(hours=1)
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
OBSERVER = "observer"
"""The session role of staff who may read the desk and change nothing (``readonly_staff_emails``)."""
STAFF_ROLES = frozenset({Role.SECRETARIAT.value, OBSERVER})
#: What a sign-in link opens, in the mail's words (msgids of the catalogs: the mail translates them).
WHAT = {Role.CO_CHAIR.value: N_("the invitations awaiting your decision"),
        Role.SECRETARIAT.value: N_("the Secretariat's board"), OBSERVER: N_("the Secretariat's board")}


class SignInRequest(Strict):
    email: Email


def address_of(email: str) -> str:
    """The address a sign-in request names, normalised; ``InputError`` if it is not an address."""
    return parse(SignInRequest, {"email": email}).email.lower()


def role_of(db: Database, email: str, settings: Settings) -> tuple[str, str] | None:
    """(session role, language) of a person who may sign in: Secretariat staff first (acting, then read-only),
    then co-chairs."""
    address = email.strip().lower()
    if address in {settings.secretariat_email.lower(), *(e.lower() for e in settings.staff_emails)}:
        return Role.SECRETARIAT.value, "en"
    if address in {e.lower() for e in settings.readonly_staff_emails}:
        return OBSERVER, "en"
    with db.transaction() as session:
        chair = session.scalar(select(CoChair).where(func.lower(CoChair.email) == address).order_by(CoChair.id))
        return (Role.CO_CHAIR.value, chair.language) if chair else None


def request_sign_in(db: Database, email: str, *, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Mail a sign-in link when ``email`` may sign in; ``False`` (and nothing written) otherwise."""
    address = address_of(email)
    found = role_of(db, address, settings)
    if found is None:
        return False
    role, language = found
    now = clock.now()
    dedupe_key = f"signin:{secrets.token_hex(8)}:{NotificationType.SIGN_IN.value}:email:{address}"
    token = action_links.link_token(settings.signing_key(), dedupe_key)
    with db.transaction() as session:
        session.execute(insert(ActionLink), [{
            "token_hash": action_links.token_hash(token), "engagement_id": None, "email": address, "role": role,
            "language": language, "actions": ["sign_in"], "purpose": PURPOSE, "expires_at": now + LIFETIME,
            "created_at": now,
        }])
        session.execute(insert(OutboxMessage), [{
            "dedupe_key": dedupe_key, "engagement_id": None, "transition_id": None,
            "notification_type": NotificationType.SIGN_IN.value, "channel": "email", "recipient_name": "",
            "recipient_address": address, "language": language, "mandatory": True, "status": OutboxStatus.PENDING,
            "attempts": 0, "next_attempt_at": now, "created_at": now,
            "context": {"engagement_title": WHAT[role], "link_purpose": PURPOSE,
                        "link_expires": (now + LIFETIME).isoformat(timespec="minutes")},
        }])
    return True


LINKS, SESSIONS = ActionLink.__table__, PortalSession.__table__
CLAIM_LINK = (
    update(LINKS).where(LINKS.c.token_hash == bindparam("hashed"), LINKS.c.purpose == PURPOSE,
                        LINKS.c.used_at.is_(None), LINKS.c.expires_at > bindparam("now"))
    .values(used_at=bindparam("now"), used_action=PURPOSE)
    .returning(LINKS.c.email, LINKS.c.role)
)


@dataclass(frozen=True)
class SignedIn:
    """A session just started: ``session_id`` goes in the browser's cookie and nowhere else."""

    session_id: str
    email: str
    role: str


def sign_in_link(db: Database | Connection, token: str, now: datetime) -> action_links.VerifiedLink:
    """The usable sign-in link of ``token``; any other token is refused like one nobody issued."""
    if action_links.find(db, token).purpose != PURPOSE:
        raise action_links.ForgedLinkError(action_links.FORGED)
    return action_links.verify(db, token, now)


def start_session(db: Database, token: str, *, now: datetime, lifetime: timedelta) -> SignedIn:
    """Use the sign-in link ``token`` once and start a session, in one transaction.

    Only a sign-in link is accepted: any other token (a decision link, a confirmation) is refused
    exactly like a token nobody issued, naming no one.
    """
    link = action_links.find(db, token)
    if link.purpose != PURPOSE:
        raise action_links.ForgedLinkError(action_links.FORGED)
    session_id = secrets.token_urlsafe(32)
    with db.engine.begin() as connection:
        claimed = connection.execute(CLAIM_LINK, {"hashed": link.token_hash, "now": now}).first()
        if claimed is not None:
            connection.execute(insert(SESSIONS), {
                "id_hash": _hashed(session_id), "email": claimed.email, "role": claimed.role, "created_at": now,
                "expires_at": now + lifetime, "revoked_at": None,
            })
    if claimed is None:
        if link.used_at is None and now >= link.expires_at:
            raise action_links.ExpiredLinkError(Phrase.of(N_("This sign-in link has expired; ask for a new one.")))
        raise action_links.UsedLinkError(Phrase.of(N_("This sign-in link was already used; ask for a new one.")))
    return SignedIn(session_id, claimed.email, claimed.role)


def session_of(db: Database, session_id: str, now: datetime) -> tuple[str, str] | None:
    """(email, role) of the live session ``session_id``; ``None`` if it is malformed, unknown, revoked or expired."""
    if not SESSION_ID.fullmatch(session_id):
        return None
    with db.connection() as connection:
        row = connection.execute(
            select(SESSIONS.c.email, SESSIONS.c.role).where(
                SESSIONS.c.id_hash == _hashed(session_id), SESSIONS.c.revoked_at.is_(None), SESSIONS.c.expires_at > now)
        ).first()
    return (row.email, row.role) if row else None


def end_session(db: Database, session_id: str, now: datetime) -> None:
    """Revoke the session ``session_id`` (signing out); nothing happens for an unknown one."""
    if SESSION_ID.fullmatch(session_id):
        with db.engine.begin() as connection:
            connection.execute(update(SESSIONS).where(SESSIONS.c.id_hash == _hashed(session_id),
                                                      SESSIONS.c.revoked_at.is_(None)).values(revoked_at=now))


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class PendingDecision:
    engagement_id: int
    title: str
    swg_code: str
    topic: str | None


def pending_decisions(db: Database, email: str) -> list[PendingDecision]:
    """Invitations awaiting this co-chair's decision, across every SWG they co-chair."""
    address = email.strip().lower()
    with db.transaction() as session:
        chairs = session.scalars(select(CoChair).where(func.lower(CoChair.email) == address)).all()
        rows = []
        for chair in chairs:
            voted = select(ApprovalVote.engagement_id).where(ApprovalVote.co_chair_id == chair.id)
            rows += session.scalars(
                select(Engagement).where(Engagement.swg_code == chair.swg_code, Engagement.state == "awaiting_approval",
                                         Engagement.id.not_in(voted)).order_by(Engagement.id)
            ).all()
        return [PendingDecision(e.id, e.title, e.swg_code, (e.details or {}).get("topic")) for e in rows]
