"""What waits on the Secretariat, and the filtered lists of engagements the desk shows.

Who an engagement waits on is read from its lifecycle, never listed by hand: a state waits on the
role its ``Wait`` names; a state without one waits on the Secretariat when staff can fire a step
that moves it on (to a state that is not final) and no other person's step does (a draft waits on
its partner, a planned dialogue on its national authority). So the queue follows the lifecycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import Select, and_, exists, false, func, or_, select

from models import (
    Engagement, Organization, OutboxChannel, OutboxMessage, Participant, SubmissionWindow, TransitionLog,
)
from models.db import Database
from models.enums import OutboxStatus, Role
from states.lifecycles import LIFECYCLES, get_lifecycle
from states.spec import Lifecycle, TransitionSpec

PEOPLE = frozenset({Role.CO_CHAIR, Role.PARTNER, Role.NATIONAL_AUTHORITY})
PAGE_SIZE = 50
WINDOW_NOTICE = timedelta(days=14)
SORTS = {
    "oldest": (Engagement.updated_at.asc(), Engagement.id.asc()),
    "newest": (Engagement.updated_at.desc(), Engagement.id.desc()),
    "title": (Engagement.title.asc(), Engagement.id.asc()),
    "due": (Engagement.next_due_at.asc(), Engagement.id.asc()),
    "created": (Engagement.created_at.desc(), Engagement.id.desc()),
}
SORT_LABELS = {"oldest": "Waiting longest", "newest": "Changed last", "title": "Title", "due": "Next deadline",
               "created": "Created last"}


def staff_steps(lifecycle: Lifecycle, state: str) -> list[TransitionSpec]:
    """The steps staff may take from ``state``, once per trigger, in declaration order."""
    steps: dict[str, TransitionSpec] = {}
    for spec in lifecycle.transitions_from(state):
        if Role.SECRETARIAT in spec.roles and spec.trigger not in steps:
            steps[spec.trigger] = spec
    return list(steps.values())


def _moves_on(lifecycle: Lifecycle, spec: TransitionSpec, state: str) -> bool:
    return spec.dest not in (None, state) and not lifecycle.state(spec.dest).final


def primary_step(lifecycle: Lifecycle, state: str) -> TransitionSpec | None:
    """The staff step that moves an engagement in ``state`` on, if it waits on the Secretariat."""
    if waits_on(lifecycle.kind, state) != Role.SECRETARIAT:
        return None
    moving = [spec for spec in staff_steps(lifecycle, state) if _moves_on(lifecycle, spec, state)]
    return next((spec for spec in moving if "comment_given" not in spec.guards), moving[0])


@cache
def waits_on(kind: str, state: str) -> Role | None:
    """Whom an engagement of ``kind`` in ``state`` waits on, if anyone."""
    lifecycle = get_lifecycle(kind)
    spec = lifecycle.state(state)
    if spec.final:
        return None
    if spec.wait is not None:
        return spec.wait.on
    forward = [t for t in lifecycle.transitions_from(state) if _moves_on(lifecycle, t, state)]
    if any(t.roles & PEOPLE for t in forward):
        return None
    return Role.SECRETARIAT if any(Role.SECRETARIAT in t.roles for t in forward) else None


def states_waiting_on(role: Role | str) -> list[tuple[str, str]]:
    """Every (kind, state) that waits on ``role``, in declaration order."""
    return [(kind, state.name) for kind, lifecycle in LIFECYCLES.items() for state in lifecycle.states
            if waits_on(kind, state.name) == role]


def _pairs(pairs: list[tuple[str, str]]):  # noqa: ANN202 - a SQL condition
    """Engagements in any of these (kind, state): one ``kind = ? AND state IN (...)`` per kind."""
    if not pairs:
        return false()
    by_kind: dict[str, list[str]] = {}
    for kind, state in pairs:
        by_kind.setdefault(kind, []).append(state)
    return or_(*(and_(Engagement.kind == kind, Engagement.state.in_(states)) for kind, states in by_kind.items()))


def overdue_condition(now: datetime):  # noqa: ANN201 - a SQL condition
    """Waiting on someone past the first deadline: reminded, escalated, or due and not yet swept."""
    waiting = [pair for role in PEOPLE for pair in states_waiting_on(role)]
    return and_(_pairs(waiting), or_(Engagement.escalated.is_(True), Engagement.reminders_sent > 0,
                                     Engagement.next_due_at <= now))


@dataclass(frozen=True)
class Filters:
    """What a list of engagements is narrowed to; every field optional. Unknown values match nothing."""

    kind: str = ""
    state: str = ""
    swg: str = ""
    country: str = ""
    industry: str = ""
    waiting: str = ""
    overdue: bool = False
    q: str = ""
    sort: str = "oldest"
    page: int = 1

    def query(self, **changes: object) -> dict[str, str]:
        """These filters as query parameters (blank ones left out), with ``changes``."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__} | changes
        values["overdue"] = "1" if values["overdue"] else ""
        values["page"] = "" if values["page"] in (1, "1") else str(values["page"])
        values["sort"] = "" if values["sort"] == "oldest" else values["sort"]
        return {name: str(value) for name, value in values.items() if value not in ("", None)}


@dataclass(frozen=True)
class Row:
    """One engagement of a list, with the partners taking part."""

    id: int
    kind: str
    title: str
    state: str
    swg_code: str | None
    country: str | None
    created_at: datetime
    updated_at: datetime
    next_due_at: datetime | None
    reminders_sent: int
    escalated: bool
    version: int
    partners: tuple[str, ...] = ()
    overdue: bool = False

    @property
    def waits_on(self) -> Role | None:
        return waits_on(self.kind, self.state)

    @property
    def step(self) -> TransitionSpec | None:
        """The one step that moves it on, when it waits on the Secretariat."""
        return primary_step(get_lifecycle(self.kind), self.state)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


COLUMNS = (Engagement.id, Engagement.kind, Engagement.title, Engagement.state, Engagement.swg_code, Engagement.country,
           Engagement.created_at, Engagement.updated_at, Engagement.next_due_at, Engagement.reminders_sent,
           Engagement.escalated, Engagement.version)


def _partner_of(condition) -> object:  # noqa: ANN001 - a SQL condition on organizations
    return exists().where(Participant.engagement_id == Engagement.id, Participant.organization_id == Organization.id,
                          condition)


def _filtered(filters: Filters, now: datetime) -> Select:
    query = select(*COLUMNS)
    if filters.kind:
        query = query.where(Engagement.kind == filters.kind)
    if filters.state:
        query = query.where(Engagement.state == filters.state)
    if filters.swg:
        query = query.where(Engagement.swg_code == filters.swg)
    if filters.country:
        code = filters.country.upper()
        query = query.where(or_(Engagement.country == code, _partner_of(Organization.country == code)))
    if filters.industry:
        query = query.where(_partner_of(Organization.industry == filters.industry))
    if filters.waiting:
        query = query.where(_pairs(states_waiting_on(filters.waiting)))
    if filters.overdue:
        query = query.where(overdue_condition(now))
    if text := filters.q.strip().lower():
        matches = [func.lower(Engagement.title).contains(text, autoescape=True),
                   _partner_of(func.lower(Organization.name).contains(text, autoescape=True))]
        if text.lstrip("#").isdigit() and len(text) < 10:
            matches.append(Engagement.id == int(text.lstrip("#")))
        query = query.where(or_(*matches))
    return query


def _rows(session, query: Select, now: datetime, *, paged: bool) -> list[Row]:  # noqa: ANN001 - a Session
    found = session.execute(query).all()
    # a page's partners by its ids; every row's by the same filter (no list of thousands of parameters)
    among = [row.id for row in found] if paged else query.with_only_columns(Engagement.id).order_by(None)
    names: dict[int, list[str]] = {}
    if found:
        for engagement_id, name in session.execute(
                select(Participant.engagement_id, Organization.name).join(Organization)
                .where(Participant.engagement_id.in_(among)).order_by(Participant.id)):
            names.setdefault(engagement_id, []).append(name)
    rows = []
    for row in found:
        waiting = waits_on(row.kind, row.state)
        overdue = waiting is not None and waiting != Role.SECRETARIAT and (
            row.escalated or row.reminders_sent > 0 or (row.next_due_at is not None and row.next_due_at <= now))
        rows.append(Row(*row, partners=tuple(dict.fromkeys(names.get(row.id, []))), overdue=overdue))
    return rows


def find_engagements(db: Database, filters: Filters, now: datetime, *, page_size: int | None = PAGE_SIZE) -> Page:
    """One page of the engagements ``filters`` select (every one when ``page_size`` is ``None``)."""
    query = _filtered(filters, now)
    with db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ordered = query.order_by(*SORTS.get(filters.sort, SORTS["oldest"]))
        if page_size is None:
            return Page(_rows(session, ordered, now, paged=False), total, 1, 1)
        pages = max(1, -(-total // page_size))
        page = min(max(1, filters.page), pages)
        return Page(_rows(session, ordered.limit(page_size).offset((page - 1) * page_size), now, paged=True), total, page,
                    pages)


@dataclass(frozen=True)
class MailProblem:
    id: int
    engagement_id: int | None
    title: str | None
    notification_type: str
    recipient: str
    status: str
    attempts: int
    error: str


@dataclass(frozen=True)
class Outage:
    """A delivery channel whose server cannot be reached: its mail is held back until it can."""

    channel: str
    since: datetime | None
    paused_until: datetime | None
    error: str


@dataclass(frozen=True)
class ClosingWindow:
    kind: str
    closes_on: date
    drafts: int


@dataclass(frozen=True)
class Change:
    """One recent step: when, on which engagement, what, by whom."""

    at: datetime
    engagement_id: int
    title: str
    trigger: str
    to_state: str
    actor: str
    actor_role: str


def recent_changes(db: Database, limit: int = 15) -> list[Change]:
    """The latest recorded steps, newest first by when they happened.

    The last ``10 * limit`` rows are read by the audit log's key (no sort of the whole log), then ordered by time.
    """
    with db.transaction() as session:
        rows = session.execute(
            select(TransitionLog.at, TransitionLog.engagement_id, Engagement.title, TransitionLog.trigger,
                   TransitionLog.to_state, TransitionLog.actor, TransitionLog.actor_role, TransitionLog.id)
            .join(Engagement, Engagement.id == TransitionLog.engagement_id)
            .order_by(TransitionLog.id.desc()).limit(10 * limit)).all()
    rows.sort(key=lambda row: (row.at, row.id), reverse=True)
    return [Change(*row[:-1]) for row in rows[:limit]]


@dataclass(frozen=True)
class Queue:
    """Everything that waits on the Secretariat."""

    to_move: Page
    overdue: Page
    mail: list[MailProblem]
    windows: list[ClosingWindow]
    counts: list[tuple[str, str, int]] = field(default_factory=list)
    recent: list[Change] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.to_move.total + self.overdue.total + len(self.mail) + len(self.windows) + len(self.outages)


def counts(db: Database) -> list[tuple[str, str, int]]:
    """How many engagements each (kind, state) holds, in the lifecycles' order; empty ones left out."""
    with db.transaction() as session:
        found = {(kind, state): n for kind, state, n in session.execute(
            select(Engagement.kind, Engagement.state, func.count()).group_by(Engagement.kind, Engagement.state))}
    ordered = [(kind, state.name, found[(kind, state.name)]) for kind, lifecycle in LIFECYCLES.items()
               for state in lifecycle.states if (kind, state.name) in found]
    return ordered + [(kind, state, n) for (kind, state), n in found.items() if (kind, state, n) not in ordered]


def queue(db: Database, now: datetime, limit: int = PAGE_SIZE) -> Queue:
    """The Secretariat's work: engagements its step moves on (the ``limit`` waiting longest), waits past
    their deadline, mail given up on or failing, and submission windows closing within two weeks."""
    to_move = find_engagements(db, Filters(waiting=Role.SECRETARIAT), now, page_size=limit)
    overdue = find_engagements(db, Filters(overdue=True), now, page_size=limit)
    with db.transaction() as session:
        mail = [MailProblem(*row) for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.engagement_id, Engagement.title, OutboxMessage.notification_type,
                   OutboxMessage.recipient_address, OutboxMessage.status, OutboxMessage.attempts,
                   func.coalesce(OutboxMessage.status_reason, OutboxMessage.last_error, ""))
            .outerjoin(Engagement, Engagement.id == OutboxMessage.engagement_id)
            .where(or_(OutboxMessage.status == OutboxStatus.DEAD,
                       (OutboxMessage.status == OutboxStatus.PENDING) & OutboxMessage.last_error.is_not(None)))
            .order_by(OutboxMessage.id.desc()).limit(limit))]
        outages = [Outage(*row) for row in session.execute(
            select(OutboxChannel.channel, OutboxChannel.outage_since, OutboxChannel.paused_until,
                   func.coalesce(OutboxChannel.last_error, ""))
            .where(OutboxChannel.outage_since.is_not(None)).order_by(OutboxChannel.channel))]
        today = now.date()
        windows = [ClosingWindow(kind, closes_on, drafts) for kind, closes_on, drafts in session.execute(
            select(SubmissionWindow.kind, SubmissionWindow.closes_on,
                   select(func.count()).where(Engagement.kind == SubmissionWindow.kind, Engagement.state == "draft")
                   .scalar_subquery())
            .where(SubmissionWindow.closes_on >= today, SubmissionWindow.closes_on <= today + WINDOW_NOTICE,
                   SubmissionWindow.opens_on <= today)
            .order_by(SubmissionWindow.closes_on))]
    return Queue(to_move, overdue, mail, windows, counts(db), recent_changes(db), outages)
