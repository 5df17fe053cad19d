"""Signed action links: the mailed capability to take one step on one engagement as one person.

A link's token is ``base64url(HMAC-SHA256(secret key, outbox dedupe_key))``: deterministic, so the
link row is written in the transaction that writes the outbox row and the dispatcher re-derives
the URL when it renders the mail, yet never stored: the database keeps only its sha256. Each
refusal is its own type (forged, expired, used, moved on) so every door can say what happened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from models import ActionLink, Contact, Engagement
from models.db import Database
from models.prebuilt import Prebuilt
from models.enums import NotificationType, ParticipantRole, Role
from states.applied_keys import applied_under
from states.designation import designated_contacts
from states.errors import EngageError, NotAllowedError
from states.lifecycles import get_lifecycle
from states.spec import Lifecycle, Recipient
from states.words import state_word
from website.i18n import N_, Phrase

# The steps a person can take through a link, and what the link is for.
LINK_TRIGGERS = ("approve", "decline", "accept", "decline_invitation", "submit_report", "resubmit")
# A decision mail carries a link when it leaves its reader a step to take (changes requested, a report returned).
LINKED_NOTIFICATIONS = {NotificationType.APPROVAL_REQUEST, NotificationType.REMINDER, NotificationType.INVITATION,
                        NotificationType.DECISION}
RECIPIENT_ROLES = {
    Recipient.CO_CHAIRS: Role.CO_CHAIR,
    Recipient.PARTNERS: Role.PARTNER,
    Recipient.ORGANIZER: Role.NATIONAL_AUTHORITY,
}
PURPOSES = {Role.CO_CHAIR: "co_chair_decision", Role.PARTNER: "invitation_answer", Role.NATIONAL_AUTHORITY: "dialogue_report"}

# Built once, as Core statements on the tables (every portal request reads a link, every decision marks one):
# the link with the kind and state of its engagement in one round trip, and its first use.
LINKS, ENGAGEMENTS = ActionLink.__table__, Engagement.__table__
FIND_LINK = Prebuilt(
    select(LINKS, ENGAGEMENTS.c.kind.label("engagement_kind"), ENGAGEMENTS.c.state.label("engagement_state"))
    .outerjoin(ENGAGEMENTS, ENGAGEMENTS.c.id == LINKS.c.engagement_id)
    .where(LINKS.c.token_hash == bindparam("token_hash"))
)
MARK_USED = Prebuilt(
    update(LINKS).where(LINKS.c.id == bindparam("link_id"), LINKS.c.used_at.is_(None))
    .values(used_at=bindparam("now"), used_action=bindparam("action"))
)
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what ``link_token`` makes: 32 bytes, base64url, unpadded
# Whose link may act: the address must still be a designated contact of a participant in the link's role.
HOLDER_ROLES = {
    Role.PARTNER.value: (ParticipantRole.PARTNER, ParticipantRole.PRESENTER, ParticipantRole.INVITEE),
    Role.NATIONAL_AUTHORITY.value: (ParticipantRole.ORGANIZER,),
}
_CONTACTS = Contact.__table__
IS_DESIGNATED = designated_contacts(_CONTACTS.c.id).where(func.lower(_CONTACTS.c.email) == bindparam("email")).limit(1)
FORGED = Phrase.of(N_("This link is not valid: it was not issued by Coalition Engage or it was altered."))


class LinkError(EngageError):
    """A link cannot be used; nothing was changed."""


class ForgedLinkError(LinkError):
    """The token matches no link this system issued."""


class ExpiredLinkError(LinkError):
    """The link's lifetime is over."""


class UsedLinkError(LinkError):
    """The link was already used for a decision."""


class MovedOnError(LinkError):
    """The engagement is no longer where the link's steps apply."""


class NotDesignatedError(LinkError, NotAllowedError):
    """The person the link was mailed to no longer answers for the engagement's participant."""


def link_token(key: bytes, dedupe_key: str) -> str:
    """The token of the link mailed with the outbox row ``dedupe_key`` (256 bits, base64url)."""
    digest = hmac.new(key, dedupe_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    """The sha256 (hex) under which a token's link is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def idempotency_key(hashed: str, action: str) -> str:
    """The key that makes a repeated POST of the same link and action replay its first outcome."""
    return f"link:{hashed[:48]}:{action}"


def link_actions(lifecycle: Lifecycle, state: str, role: Role) -> list[str]:
    """The link steps ``role`` may take from ``state``, in declaration order."""
    steps = (t.trigger for t in lifecycle.transitions_from(state) if role in t.roles and t.trigger in LINK_TRIGGERS)
    return list(dict.fromkeys(steps))


def asks_action(notification: NotificationType, recipient: Recipient) -> bool:
    """Whether a mail of ``notification`` to ``recipient`` may carry a link (if a step is left to its reader)."""
    return notification in LINKED_NOTIFICATIONS and recipient in RECIPIENT_ROLES


def link_row(key: bytes, lifecycle: Lifecycle, *, notification: NotificationType, recipient: Recipient, state: str,
             engagement_id: int, dedupe_key: str, email: str, language: str, now: datetime,
             lifetime: timedelta) -> dict[str, Any] | None:
    """The ``action_links`` row to write beside an outbox row, or ``None`` when the mail asks nothing."""
    if not asks_action(notification, recipient):
        return None
    role = RECIPIENT_ROLES[recipient]
    actions = link_actions(lifecycle, state, role)
    if not actions:
        return None
    return {
        "token_hash": token_hash(link_token(key, dedupe_key)), "engagement_id": engagement_id,
        "email": email.strip().lower(), "role": role.value, "language": language, "actions": actions,
        "purpose": "resubmission" if "resubmit" in actions else PURPOSES[role], "expires_at": now + lifetime, "used_at": None, "used_action": None,
        "created_at": now,
    }


def issue(session: Session, key: bytes, seed: str, *, email: str, role: str, purpose: str, language: str,
          now: datetime, lifetime: timedelta, engagement_id: int | None = None,
          actions: tuple[str, ...] = ()) -> str:
    """Write a link not tied to an outbox cause (sign-in, confirmation); return its token."""
    token = link_token(key, seed)
    session.add(ActionLink(
        token_hash=token_hash(token), engagement_id=engagement_id, email=email.strip().lower(), role=role,
        language=language, actions=list(actions), purpose=purpose, expires_at=now + lifetime, created_at=now,
    ))
    return token


@dataclass(frozen=True)
class VerifiedLink:
    """A link that may be used now, and the engagement it is for."""

    id: int
    token_hash: str
    engagement_id: int | None
    email: str
    role: str
    language: str
    actions: tuple[str, ...]
    purpose: str
    expires_at: datetime
    used_at: datetime | None
    used_action: str | None
    engagement_kind: str | None
    engagement_state: str | None


def _steps(actions: tuple[str, ...]) -> Phrase | str:
    """The steps a link allows, named in the reader's language ("nothing" when none)."""
    if not actions:
        return Phrase.of(N_("nothing"))
    return Phrase.of(N_("%(first)s, %(rest)s"), first=Phrase.of(state_word(actions[0])), rest=_steps(actions[1:])) \
        if len(actions) > 1 else Phrase.of(state_word(actions[0]))


def within(db: Database | Connection) -> AbstractContextManager[Connection]:
    """A connection in a transaction committed at the end, or ``db`` itself when it is already one
    (so that a page can read everything it shows in one transaction)."""
    return nullcontext(db) if isinstance(db, Connection) else db.engine.begin()


def find(db: Database | Connection, token: str) -> VerifiedLink:
    """The link of ``token`` whatever its condition; ``ForgedLinkError`` when there is none."""
    if not TOKEN.fullmatch(token):
        raise ForgedLinkError(FORGED)
    with within(db) as connection:
        row = FIND_LINK.first(connection, {"token_hash": token_hash(token)})
    if row is None:
        raise ForgedLinkError(FORGED)
    return VerifiedLink(row.id, row.token_hash, row.engagement_id, row.email, row.role, row.language,
                        tuple(row.actions), row.purpose, row.expires_at, row.used_at, row.used_action,
                        row.engagement_kind, row.engagement_state)


def verify(db: Database | Connection, token: str, now: datetime, action: str | None = None) -> VerifiedLink:
    """The usable link of ``token`` (for ``action``, when given), or the reason it is not usable.

    A link already used for ``action`` is returned, so that a repeated POST replays the first outcome;
    used for anything else, it is refused with ``UsedLinkError``. So is a link whose ``action`` was
    applied but not yet marked used (a second POST while the first finishes), even if the engagement
    has moved on since.
    """
    link = find(db, token)
    if action is not None and action not in link.actions:
        raise ForgedLinkError(Phrase.of(N_("This link does not allow \"%(action)s\"; it allows: %(allowed)s."),
                                        action=action, allowed=_steps(link.actions)))
    if link.used_at is not None and (action is None or action != link.used_action):
        raise UsedLinkError(Phrase.of(N_("This link was already used on %(day)s (step: %(step)s)."), day=link.used_at.date(),
                                      step=Phrase.of(state_word(link.used_action or ""))))
    if link.used_at is None and now >= link.expires_at:
        raise ExpiredLinkError(Phrase.of(N_("This link expired on %(day)s; ask the Secretariat for a new one."),
                                         day=link.expires_at.date()))
    if link.used_at is None and not _designated(db, link):
        raise NotDesignatedError(Phrase.of(
            N_("This link was mailed to %(email)s, who is not the designated contact of engagement %(engagement_id)s; "
               "nothing was changed. Write to the Secretariat if you answer for it."),
            email=link.email, engagement_id=str(link.engagement_id)))
    if link.used_at is None and link.engagement_kind is not None and link.actions:
        lifecycle = get_lifecycle(link.engagement_kind)
        if not any(lifecycle.transitions_from(link.engagement_state, step) for step in link.actions) and not (
                action is not None and _applied(db, idempotency_key(link.token_hash, action))):
            raise MovedOnError(Phrase.of(
                N_("Engagement %(engagement_id)s has moved on (it is now %(state)s); this link no longer applies "
                   "and nothing was changed."),
                engagement_id=str(link.engagement_id), state=Phrase.of(state_word(link.engagement_state or ""))))
    return link


def _designated(db: Database | Connection, link: VerifiedLink) -> bool:
    """Whether the link's address may act on its engagement: always for links of other roles (co-chairs,
    sign-in, confirmation), else only while it is a designated contact of a participant in the link's role."""
    roles = HOLDER_ROLES.get(link.role)
    if link.engagement_id is None or roles is None:
        return True
    with within(db) as connection:
        found = connection.scalar(IS_DESIGNATED, {"engagement_id": link.engagement_id, "roles": roles, "email": link.email})
    return found is not None


def _applied(db: Database | Connection, key: str) -> bool:
    """Whether a link's decision was already applied: its first POST commits the decision before it marks the link used."""
    with within(db) as connection:
        return applied_under(connection, key) is not None


def mark_used(db: Database | Connection, link_id: int, action: str, now: datetime) -> None:
    """Record that the link was used for ``action`` (the first use wins)."""
    with within(db) as connection:
        MARK_USED.run(connection, {"link_id": link_id, "now": now, "action": action})
