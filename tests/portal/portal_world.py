"""The portal's test world: a real database (SQLite and PostgreSQL), its client, and links taken from real outbox rows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models import ActionLink, ApprovalVote, OutboxMessage, TransitionLog
from models.db import Database
from notifications.action_urls import action_url
from settings import Settings
from states.clock import SimulatedClock
from states.workflow import apply_transition
from tests.world import SECRETARIAT, new_engagement

BASE_URL = "http://127.0.0.1:8000"


@dataclass
class PortalWorld:
    db: Database
    settings: Settings
    clock: SimulatedClock
    client: TestClient

    def link_of(self, email: str, notification_type: str | None = None) -> str:
        """The path of the newest link mailed to ``email`` (as the dispatcher renders it)."""
        with self.db.transaction() as session:
            query = select(OutboxMessage).where(OutboxMessage.recipient_address == email).order_by(OutboxMessage.id.desc())
            if notification_type:
                query = query.where(OutboxMessage.notification_type == notification_type)
            row = session.scalars(query).first()
            url = action_url(row.context, row.dedupe_key, self.settings)
        assert url and url.startswith(BASE_URL + "/")
        return url.removeprefix(BASE_URL)

    def counts(self) -> tuple[int, int, int, int]:
        """Audit rows, votes, outbox rows, used links: what a refusal must leave unchanged."""
        with self.db.transaction() as session:
            return (
                session.scalar(select(func.count()).select_from(TransitionLog)),
                session.scalar(select(func.count()).select_from(ApprovalVote)),
                session.scalar(select(func.count()).select_from(OutboxMessage)),
                session.scalar(select(func.count()).select_from(ActionLink).where(ActionLink.used_at.is_not(None))),
            )


def csrf_of(html: str) -> str:
    """The CSRF token of the page's form."""
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "the page has no CSRF-signed form"
    return match.group(1)


def awaiting_approval(world: PortalWorld, **overrides: object) -> int:
    """An invitation to present at SWG 2.2 (policy: all) waiting for its two co-chairs."""
    engagement = new_engagement(world.db, "swg_presentation", world.clock, **overrides)
    apply_transition(world.db, engagement, "request_approval", SECRETARIAT, clock=world.clock, settings=world.settings)
    return engagement
