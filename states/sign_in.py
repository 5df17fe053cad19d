"""Signing in without passwords: a co-chair or a staff member asks, and a one-hour link is mailed.

The answer never reveals whether an address is known; the link row and its mail are written in
one transaction. ``pending_decisions`` is what a signed-in co-chair sees.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, select

from models import ActionLink, ApprovalVote, CoChair, Engagement, OutboxMessage
from models.db import Database
from models.enums import NotificationType, OutboxStatus, Role
from settings import Settings
from states import action_links
from states.clock import SYSTEM_CLOCK, Clock
from states.inputs import Email, Strict, parse
from website.i18n import N_

PURPOSE = "sign_in"
LIFETIME = timedelta(hours=1)
#: What a sign-in link opens, in the mail's words (msgids of the catalogs: the mail translates them).
WHAT = {Role.CO_CHAIR: N_("the invitations awaiting your decision"), Role.SECRETARIAT: N_("the Secretariat's board")}


class SignInRequest(Strict):
    email: Email


def role_of(db: Database, email: str, settings: Settings) -> tuple[Role, str] | None:
    """(role, language) of a person who may sign in: Secretariat staff first, then co-chairs."""
    address = email.strip().lower()
    if address in {settings.secretariat_email.lower(), *(e.lower() for e in settings.staff_emails)}:
        return Role.SECRETARIAT, "en"
    with db.transaction() as session:
        chair = session.scalar(select(CoChair).where(func.lower(CoChair.email) == address).order_by(CoChair.id))
        return (Role.CO_CHAIR, chair.language) if chair else None


def request_sign_in(db: Database, email: str, *, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Mail a sign-in link when ``email`` may sign in; ``False`` (and nothing written) otherwise."""
    address = parse(SignInRequest, {"email": email}).email.lower()
    found = role_of(db, address, settings)
    if found is None:
        return False
    role, language = found
    now = clock.now()
    dedupe_key = f"signin:{secrets.token_hex(8)}:{NotificationType.SIGN_IN.value}:email:{address}"
    token = action_links.link_token(settings.signing_key(), dedupe_key)
    with db.transaction() as session:
        session.execute(insert(ActionLink), [{
            "token_hash": action_links.token_hash(token), "engagement_id": None, "email": address, "role": role.value,
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
