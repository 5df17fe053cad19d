"""The reminder sweep: remind, escalate or expire engagements whose waiting time has run out.

It also queues the window-closing notices due at its moment (``states/window_notices.py``) and
takes the follow-ups left undone (``states/follow_ups.py``: approved, not invited).

Domain only (no Prefect). The work is proportional to the engagements that are due, not to all
engagements: due rows are found through the indexed ``engagements.next_due_at`` column, in pages
ordered by ``(next_due_at, id)``. Every action goes through ``apply_transition`` with an
idempotency key naming the engagement, its version and the action, so running the sweep twice for
the same moment (or two sweeps at once) never reminds, escalates or expires twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models import Engagement
from models.db import Database
from models.enums import Channel
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import ConflictError, EngageError, english
from states.follow_ups import FollowUpReport, finish_follow_ups
from states.lifecycles import get_lifecycle
from states.retention import Purged, purge_expired
from states.waits import Action, WaitProgress, due_action
from states.window_notices import queue_window_notices
from states.words import counts
from states.workflow import apply_transition
from website.i18n import N_, N_plural, Phrase

SWEEP_ACTOR = {"role": "system", "identity": "reminder sweep"}
PAGE_SIZE = 500


@dataclass(frozen=True)
class DueRow:
    id: int
    kind: str
    title: str
    state: str
    version: int
    waiting_since: datetime | None
    reminders_sent: int
    escalated: bool
    next_due_at: datetime


@dataclass(frozen=True)
class SweepItem:
    """One action the sweep took (or found already taken)."""

    engagement_id: int
    kind: str
    title: str
    action: str
    from_state: str
    to_state: str
    notifications: int
    replayed: bool = False


@dataclass
class SweepReport:
    now: datetime
    reminded: list[SweepItem] = field(default_factory=list)
    escalated: list[SweepItem] = field(default_factory=list)
    expired: list[SweepItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    window_notices: int = 0
    followed_up: FollowUpReport = field(default_factory=FollowUpReport)
    purged: Purged = field(default_factory=Purged)
    examined: int = 0
    query_seconds: float = 0.0
    decide_seconds: float = 0.0
    apply_seconds: float = 0.0

    @property
    def items(self) -> list[SweepItem]:
        return [*self.reminded, *self.escalated, *self.expired]

    @property
    def notifications(self) -> int:
        return (sum(item.notifications for item in self.items) + self.window_notices
                + sum(item.notifications for item in self.followed_up.done))

    def rows(self) -> list[dict[str, Any]]:
        """One row per action, for a table (Prefect artifact, CLI)."""
        return [
            {
                "action": item.action, "engagement": item.engagement_id, "kind": item.kind, "title": item.title,
                "state": item.to_state, "notifications": item.notifications,
                "note": "already done by an earlier sweep" if item.replayed else "",
            }
            for item in self.items
        ] + [
            {"action": item.trigger, "engagement": item.engagement_id, "kind": "", "title": "", "state": item.to_state,
             "notifications": item.notifications, "note": "a follow-up left undone, taken now"}
            for item in self.followed_up.done
        ] + [{"action": "skipped", "engagement": "", "kind": "", "title": "", "state": "", "notifications": 0, "note": s}
             for s in [*self.skipped, *self.followed_up.refused]]

    def phrase(self) -> Phrase:
        """What the sweep did, for a reader in any language."""
        return Phrase.of(N_("%(done)s; removed: %(removed)s"), done=counts(
            (N_plural("%(num)s reminded", "%(num)s reminded"), len(self.reminded)),
            (N_plural("%(num)s escalated", "%(num)s escalated"), len(self.escalated)),
            (N_plural("%(num)s expired", "%(num)s expired"), len(self.expired)),
            (N_plural("%(num)s skipped", "%(num)s skipped"), len(self.skipped)),
            (N_plural("%(num)s window-closing notice", "%(num)s window-closing notices"), self.window_notices),
            (N_plural("%(num)s follow-up taken", "%(num)s follow-ups taken"), len(self.followed_up.done)),
            (N_plural("%(num)s notification queued", "%(num)s notifications queued"), self.notifications),
        ), removed=self.purged.phrase())

    def summary(self) -> str:
        """What the sweep did and when, in English (the CLI's and the logs' words)."""
        return f"sweep at {self.now:%Y-%m-%d %H:%M} UTC: {english(self.phrase())}"


def _session_of(source: Session | Database) -> tuple[Session, bool]:
    if isinstance(source, Database):
        return source.sessions(), True
    return source, False


def find_due(source: Session | Database, now: datetime, limit: int = PAGE_SIZE,
             after: tuple[datetime, int] | None = None) -> list[DueRow]:
    """Engagements whose ``next_due_at`` is at or before ``now``, oldest first (keyset-paged by ``after``)."""
    session, owned = _session_of(source)
    try:
        query = (
            select(
                Engagement.id, Engagement.kind, Engagement.title, Engagement.state, Engagement.version,
                Engagement.waiting_since, Engagement.reminders_sent, Engagement.escalated, Engagement.next_due_at,
            )
            .where(Engagement.next_due_at <= now)
            .order_by(Engagement.next_due_at, Engagement.id)
            .limit(limit)
        )
        if after is not None:
            due, last_id = after
            query = query.where(or_(Engagement.next_due_at > due, and_(Engagement.next_due_at == due, Engagement.id > last_id)))
        return [DueRow(*row) for row in session.execute(query).all()]
    finally:
        if owned:
            session.close()


def decide(row: DueRow, now: datetime) -> tuple[Action, str] | None:
    """The action due for ``row`` and the trigger that performs it, or ``None``."""
    wait = get_lifecycle(row.kind).state(row.state).wait
    if wait is None:
        return None
    action = due_action(wait, WaitProgress(row.waiting_since, row.reminders_sent, row.escalated, row.next_due_at), now)
    if action is None:
        return None
    return action, (wait.expire_trigger if action == "expire" else action)  # type: ignore[return-value]


def run_sweep(db: Database, clock: Clock = SYSTEM_CLOCK, flow_run_id: str | None = None, *,
              settings: Settings | None = None, limit: int | None = None, page_size: int = PAGE_SIZE) -> SweepReport:
    """Remind, escalate or expire every engagement due at ``clock.now()`` (at most ``limit``)."""
    now = clock.now()
    report = SweepReport(now=now)
    after: tuple[datetime, int] | None = None
    while limit is None or report.examined < limit:
        started = time.perf_counter()
        size = page_size if limit is None else min(page_size, limit - report.examined)
        rows = find_due(db, now, size, after)
        report.query_seconds += time.perf_counter() - started
        if not rows:
            break
        report.examined += len(rows)
        after = (rows[-1].next_due_at, rows[-1].id)
        started = time.perf_counter()
        plans = [(row, decide(row, now)) for row in rows]
        report.decide_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for row, plan in plans:
            if plan is None:
                continue
            _fire(db, row, *plan, clock=clock, flow_run_id=flow_run_id, settings=settings, report=report)
        report.apply_seconds += time.perf_counter() - started
        if len(rows) < size:
            break
    report.window_notices = queue_window_notices(db, now)
    report.followed_up = finish_follow_ups(db, clock, settings=settings, flow_run_id=flow_run_id)
    if settings is not None:
        report.purged = purge_expired(db, now, settings)
    return report


def _fire(db: Database, row: DueRow, action: Action, trigger: str, *, clock: Clock, flow_run_id: str | None,
          settings: Settings | None, report: SweepReport) -> None:
    try:
        outcome = apply_transition(
            db, row.id, trigger, SWEEP_ACTOR, channel=Channel.FLOW, flow_run_id=flow_run_id,
            idempotency_key=f"sweep:{row.id}:v{row.version}:{action}", expected_version=row.version,
            clock=clock, settings=settings,
        )
    except ConflictError:
        report.skipped.append(f"engagement {row.id} changed while the sweep ran; the next sweep looks again")
        return
    except EngageError as error:
        report.skipped.append(f"engagement {row.id}: {action} refused: {error}")
        return
    item = SweepItem(row.id, row.kind, row.title, action, outcome.from_state, outcome.to_state,
                     outcome.notifications, outcome.replayed)
    {"remind": report.reminded, "escalate": report.escalated, "expire": report.expired}[action].append(item)
