"""The one path by which engagements come to be and change state.

``apply_transition`` checks the trigger, the actor's role and identity, the data and the guards,
then commits in ONE transaction: the new state (guarded by the version column), an audit row, and
the outbox rows of the notifications it causes. Nothing else in the code writes a state.

A state declared with ``then`` (``StateSpec.then``, e.g. ``approved`` then ``send_invitation``) is
followed in the same transaction by that step, taken by the system under the idempotency key
``follow_up_key``; if the step is refused, it is rolled back alone (a savepoint), the decision
stands, and ``states.follow_ups.finish_follow_ups`` takes it later, once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement, Connection, FromClause, Insert, Row, Select, Table, and_, bindparam, case, func, insert, literal_column,
    null, or_, select, text, true, update,
)
from sqlalchemy.exc import IntegrityError

from models import (
    ApprovalVote, CoChair, Contact, Engagement, EngineEvent, Meeting, Organization, Participant, SubWorkingGroup,
)
from models.enums import Channel, Decision, Language, ParticipantRole, Role
from settings import Settings, get_settings
from models.db import Database, Rows, json_value
from models.prebuilt import Prebuilt
from states.applied_keys import FIND_KEY, LOG, applied_under
from states.clock import SYSTEM_CLOCK, Clock
from states.context import CoChairSeat, EngagementRow, TransitionContext
from states.effects import EFFECTS
from states.errors import (
    AlreadyDecidedError, ConflictError, EngageError, GuardFailedError, NotAllowedError, NotFoundError, UnknownTriggerError,
)
from states.guards import PARTNER_ROLES
from states.inputs import Actor, EngagementInput, TransitionRequest, check_id, parse
from states.lifecycles import LIFECYCLES, get_lifecycle
from states.machines import fire
from states.recipients import OUTBOX, Fact, Vote, enqueue, fact_columns, facts_needed
from states.spec import Lifecycle, TransitionSpec
from states.waits import WaitProgress, progress_after
from states.words import a_kind, series, state_word
from website.i18n import N_, Phrase

CREATED = "create"
FOLLOW_UP_ACTOR = {"role": "system", "identity": "follow-up"}

# Built once, as Core statements on the tables (``Prebuilt``: straight through psycopg on PostgreSQL).
# A transition reads in one round trip, ``read_statement`` (one statement per database, actor role and trigger):
# the engagement, locked (PostgreSQL's ``FOR UPDATE`` serializes writers of one engagement, so guards, effects
# and the update all see one consistent state; SQLite's ``BEGIN IMMEDIATE`` already serializes), with its SWG
# (approval policy; title for the notifications) and its meeting, the idempotency key's earlier outcome, the
# actor's seats as a co-chair with their vote on the engagement, whether they are a contact of a partner taking
# part in the role they claim, the approval's counts (co-chairs, approvals, declines), the id its audit row will
# have (reserved: the notifications' keys and links derive from it), and what the mails of the transitions the
# trigger may fire from the engagement's state need (``states.recipients.Fact``). In READ COMMITTED a statement
# that waited for the lock still reads the other tables as they were before that wait: the version it saw
# before the wait (``seen_version``) differs from the locked row's, and the read is made again, under the lock.
# The state change is guarded by the version it was decided on; on PostgreSQL it is written with its vote, its
# audit row, its notifications, their links and its events in one statement (``_write_statement``).
ENGAGEMENTS, SWGS, MEETINGS = Engagement.__table__, SubWorkingGroup.__table__, Meeting.__table__
CHAIRS, VOTES = CoChair.__table__, ApprovalVote.__table__
PARTICIPANTS, CONTACTS = Participant.__table__, Contact.__table__
CO_CHAIR_SEATS = (
    select(CHAIRS.c.id, CHAIRS.c.swg_code, CHAIRS.c.name, CHAIRS.c.email,
           VOTES.c.decision, VOTES.c.decided_at, VOTES.c.channel)
    .outerjoin(VOTES, (VOTES.c.co_chair_id == CHAIRS.c.id) & (VOTES.c.engagement_id == bindparam("id")))
    .where(func.lower(CHAIRS.c.email) == bindparam("seat_email"))
)
IS_CONTACT = (
    select(PARTICIPANTS.c.id)
    .join(CONTACTS, CONTACTS.c.organization_id == PARTICIPANTS.c.organization_id)
    .where(
        PARTICIPANTS.c.engagement_id == bindparam("id"),
        PARTICIPANTS.c.role.in_(bindparam("roles", expanding=True)),
        func.lower(CONTACTS.c.email) == bindparam("contact_email"),
    )
    .limit(1)
)
_EARLIER = FIND_KEY.subquery("earlier")
_SEATS = CO_CHAIR_SEATS.subquery("seat")
_VOTES_ON = select(func.count()).select_from(VOTES).where(VOTES.c.engagement_id == ENGAGEMENTS.c.id)
IDENTITY_ROLES = {Role.PARTNER: PARTNER_ROLES, Role.NATIONAL_AUTHORITY: (ParticipantRole.ORGANIZER,)}


def _read_engagement(role: Role) -> Select:
    """The core of ``read_statement`` for an actor of ``role``: with the seats of a co-chair, the contact of a partner or an
    organizer (its roles written in the statement, so that nothing is expanded per call)."""
    roles = IDENTITY_ROLES.get(role)
    contact = select(PARTICIPANTS.c.id).join(CONTACTS, CONTACTS.c.organization_id == PARTICIPANTS.c.organization_id) \
        .where(PARTICIPANTS.c.engagement_id == ENGAGEMENTS.c.id,
               PARTICIPANTS.c.role.in_([literal_column(f"'{r.value}'") for r in roles or ()]),
               func.lower(CONTACTS.c.email) == bindparam("email")).limit(1).scalar_subquery() if roles else null()
    seats = [column.label(f"seat_{column.name}") for column in _SEATS.c] if role == Role.CO_CHAIR else []
    statement = (
        select(
            ENGAGEMENTS, SWGS.c.title.label("swg_title"), SWGS.c.title_es.label("swg_title_es"),
            SWGS.c.title_fr.label("swg_title_fr"), SWGS.c.approval_policy, SWGS.c.quorum,
            MEETINGS.c.title.label("meeting_title"), MEETINGS.c.starts_on.label("meeting_starts_on"),
            *(column.label(f"earlier_{column.name}") for column in _EARLIER.c), *seats, contact.label("contact_of"),
            select(func.count()).select_from(CHAIRS).where(CHAIRS.c.swg_code == ENGAGEMENTS.c.swg_code)
            .scalar_subquery().label("co_chairs"),
            _VOTES_ON.where(VOTES.c.decision == Decision.APPROVE).scalar_subquery().label("approvals"),
            _VOTES_ON.where(VOTES.c.decision == Decision.DECLINE).scalar_subquery().label("declines"),
        )
        .outerjoin(SWGS, SWGS.c.code == ENGAGEMENTS.c.swg_code)
        .outerjoin(MEETINGS, MEETINGS.c.id == ENGAGEMENTS.c.meeting_id)
        .outerjoin(_EARLIER, true())
        .where(ENGAGEMENTS.c.id == bindparam("id"))
    )
    return statement.outerjoin(_SEATS, true()) if seats else statement


_SEEN, _LAST = ENGAGEMENTS.alias("seen"), LOG.alias("last")


def _reserved_log_id(dialect: str) -> ColumnElement:
    """The id of the transition's audit row, reserved by its read: the sequence's next value on PostgreSQL; on
    SQLite, whose writers are serialized from ``BEGIN IMMEDIATE``, the id SQLite gives next."""
    if dialect == "postgresql":
        return select(func.nextval(literal_column("'transition_log_id_seq'"))).scalar_subquery()
    return select(func.coalesce(func.max(_LAST.c.id), 0) + 1).scalar_subquery()


def _facts_wanted(trigger: str, engagement: FromClause) -> dict[Fact, ColumnElement]:
    """Each fact the mails of ``trigger`` may need, with the condition on the engagement's kind and state."""
    wanted: dict[Fact, dict[str, set[str]]] = {}
    for kind, lifecycle in LIFECYCLES.items():
        for state in lifecycle.states:
            for spec in lifecycle.transitions_from(state.name, trigger):
                for fact in facts_needed(lifecycle, spec.notify, spec.dest or state.name):
                    wanted.setdefault(fact, {}).setdefault(str(kind), set()).add(state.name)
    return {fact: or_(*(and_(engagement.c.kind == literal_column(f"'{kind}'"),
                             engagement.c.state.in_([literal_column(f"'{state}'") for state in sorted(states)]))
                        for kind, states in kinds.items()))
            for fact, kinds in wanted.items()}


@cache
def read_statement(dialect: str, role: Role, trigger: str) -> Prebuilt:
    """The read of a transition by an actor of ``role`` (see above; parameters ``:id``, ``:key``, ``:seat_email``,
    ``:email``, ``:now``, ``:secretariat``): one row per seat of a co-chair, at least one.

    The locked row is read in a subquery; the id and the facts are computed above it, once the lock is held, and
    not at all for a replay or when the read waited for another writer (it is made again).
    """
    seen = select(_SEEN.c.version).where(_SEEN.c.id == bindparam("id")).scalar_subquery()
    locked = _read_engagement(role).add_columns(
        MEETINGS.c.ends_on.label("meeting_ends_on"), MEETINGS.c.location.label("meeting_location"),
        MEETINGS.c.start_time.label("meeting_start_time"), MEETINGS.c.end_time.label("meeting_end_time"),
        MEETINGS.c.time_zone.label("meeting_time_zone"), seen.label("seen_version"),
    ).with_for_update(of=ENGAGEMENTS).subquery("locked")
    applies = and_(locked.c.seen_version == locked.c.version, locked.c.earlier_id.is_(None))  # not a replay
    facts = [case((and_(applies, condition), column.element)).label(column.name)
             for fact, condition in _facts_wanted(trigger, locked).items()
             for column in fact_columns(dialect, fact, locked)]
    log_id = case((applies, _reserved_log_id(dialect))).label("log_id")
    return Prebuilt(select(locked, log_id, *facts))


_CHANGED = ("state", "version", "updated_at", "waiting_since", "reminders_sent", "escalated", "next_due_at")
_GUARD = (ENGAGEMENTS.c.id == bindparam("match_id"), ENGAGEMENTS.c.version == bindparam("match_version"))
UPDATE_STATE = update(ENGAGEMENTS).where(*_GUARD).values({name: bindparam(name) for name in _CHANGED})
UPDATE_STATE_AND_DETAILS = update(ENGAGEMENTS).where(*_GUARD).values(
    {name: bindparam(name) for name in (*_CHANGED, "details")})
INSERT_LOG = insert(LOG).returning(LOG.c.id)


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


@cache
def _write_statement(changed: tuple[str, ...], shapes: tuple[tuple[str, tuple[str, ...]], ...]) -> Prebuilt:
    """The guarded state change (columns ``changed``, from the JSON object ``:change``) and the rows that come with
    it, inserted only if it matched (tables and columns ``shapes``, from the JSON arrays ``:w0``, ``:w1``...), in
    one statement; it answers how many engagements it changed (0 or 1)."""
    sets = ", ".join(f'"{column}" = n."{column}"' for column in changed)
    parts = [f'changed AS (UPDATE "engagements" AS e SET {sets} FROM json_populate_record(NULL::"engagements", '
             f'CAST(:change AS json)) AS n WHERE e."id" = :match_id AND e."version" = :match_version RETURNING e."id")']
    for i, (table, columns) in enumerate(shapes):
        names = ", ".join(f'"{column}"' for column in columns)
        parts.append(f'w{i} AS (INSERT INTO "{table}" ({names}) SELECT {names} FROM json_populate_recordset('
                     f'NULL::"{table}", CAST(:w{i} AS json)) WHERE EXISTS (SELECT FROM changed))')
    return Prebuilt(text(f"WITH {', '.join(parts)} SELECT count(*) FROM changed"))


def _write(connection: Connection, change: dict[str, Any], rows: Rows) -> bool:
    """The state change ``change`` (guarded by ``match_id`` and ``match_version``) and, if it matched, ``rows`` (the
    tables' in order): on PostgreSQL in one round trip. Whether it matched."""
    if connection.dialect.name != "postgresql":
        update_state = UPDATE_STATE_AND_DETAILS if "details" in change else UPDATE_STATE
        if connection.execute(update_state, change).rowcount != 1:
            return False
        for table, table_rows in rows:  # one row is one execution, not a batch of one
            if table_rows:
                connection.execute(_insert(table), table_rows[0] if len(table_rows) == 1 else table_rows)
        return True
    batches = [(table, table_rows) for table, table_rows in rows if table_rows]
    values = {name: value for name, value in change.items() if not name.startswith("match_")}
    statement = _write_statement(tuple(values), tuple((table.name, tuple(table_rows[0])) for table, table_rows in batches))
    return statement.scalar(connection, {
        "change": json.dumps(values, default=json_value), "match_id": change["match_id"],
        "match_version": change["match_version"],
        **{f"w{i}": json.dumps(table_rows, default=json_value) for i, (_, table_rows) in enumerate(batches)},
    }) == 1


EVENTS = EngineEvent.__table__
# What ``create_engagement`` reads and writes.
SWG_EXISTS = select(SWGS.c.code).where(SWGS.c.code == bindparam("code"))
MEETING_EXISTS = select(MEETINGS.c.id).where(MEETINGS.c.id == bindparam("id"))
ORGANIZATIONS = Organization.__table__
ORGANIZATION_NAMED = select(ORGANIZATIONS.c.id).where(ORGANIZATIONS.c.name == bindparam("name"))
CONTACT_BY_EMAIL = select(CONTACTS.c.id, CONTACTS.c.organization_id).where(
    func.lower(CONTACTS.c.email) == bindparam("email"))
PRIMARY_CONTACT = select(func.min(CONTACTS.c.id)).where(CONTACTS.c.organization_id == bindparam("organization_id"))
INSERT_ENGAGEMENT = insert(ENGAGEMENTS).returning(ENGAGEMENTS.c.id)
INSERT_PARTICIPANTS = insert(PARTICIPANTS)


@dataclass(frozen=True)
class TransitionOutcome:
    """What a transition did; ``replayed`` when its idempotency key had already been applied."""

    engagement_id: int
    trigger: str
    from_state: str
    to_state: str
    version: int
    log_id: int
    notifications: int
    replayed: bool = False
    follow_up: TransitionOutcome | None = None
    """The step the new state is followed by (``StateSpec.then``), taken in the same transaction."""
    follow_up_refused: str | None = None
    """Why that step was refused (rolled back alone; ``finish_follow_ups`` takes it later)."""

    @property
    def final_state(self) -> str:
        """The state the engagement is left in, after any follow-up."""
        return self.follow_up.final_state if self.follow_up else self.to_state


def follow_up_key(engagement_id: int, trigger: str) -> str:
    """The idempotency key of the follow-up ``trigger`` of an engagement (the same from every path)."""
    return f"follow-up:{engagement_id}:{trigger}"


def _refuse_unknown(lifecycle: Lifecycle, engagement: EngagementRow, trigger: str) -> UnknownTriggerError:
    possible = [t for t in dict.fromkeys(t.trigger for t in lifecycle.transitions_from(engagement.state))]
    now_possible = (Phrase.of(N_("possible now: %(steps)s"), steps=", ".join(possible)) if possible
                    else Phrase.of(N_("it is final: nothing more can happen")))
    if trigger not in lifecycle.triggers:
        return UnknownTriggerError(Phrase.of(N_("'%(step)s' is not a step of %(kind)s; its steps are: %(steps)s"),
                                             step=trigger, kind=a_kind(engagement.kind),
                                             steps=", ".join(lifecycle.triggers)))
    return UnknownTriggerError(Phrase.of(N_("engagement %(id)s is '%(state)s': cannot '%(step)s' from there (%(possible)s)"),
                                         id=engagement.id, state=Phrase.of(state_word(engagement.state)), step=trigger,
                                         possible=now_possible))


def check_identity(connection: Connection, engagement: EngagementRow, actor: Actor) -> CoChairSeat | None:
    """Confirm a person acts for the engagement in the role they claim; a co-chair's seat on its SWG, if one.

    ``engagement`` needs ``id`` and ``swg_code``. Raises ``NotAllowedError`` naming what the person is
    (a co-chair of another SWG, not a contact).
    """
    roles = IDENTITY_ROLES.get(actor.role, ())
    seats = connection.execute(CO_CHAIR_SEATS, {"id": engagement.id, "seat_email": actor.identity}).all() \
        if actor.role == Role.CO_CHAIR else []
    member = connection.scalar(IS_CONTACT, {"id": engagement.id, "roles": roles, "contact_email": actor.identity}) \
        if roles else None
    return _identified(engagement, actor, seats, member is not None)


def _identified(engagement: EngagementRow, actor: Actor, seats: list[Any], contact: bool) -> CoChairSeat | None:
    """What ``check_identity`` decides from the person's seats as a co-chair and whether they are a contact."""
    if actor.role == Role.CO_CHAIR:
        mine = next((seat for seat in seats if seat.swg_code == engagement.swg_code), None)
        if mine is None:
            elsewhere = ", ".join(sorted(seat.swg_code for seat in seats))
            swg = engagement.swg_code or Phrase.of(N_("(none set)"))
            raise NotAllowedError(
                Phrase.of(N_("%(email)s is a co-chair of SWG %(elsewhere)s, not of SWG %(swg)s"), email=actor.identity,
                          elsewhere=elsewhere, swg=swg) if elsewhere
                else Phrase.of(N_("%(email)s is not a co-chair of SWG %(swg)s"), email=actor.identity, swg=swg))
        return mine
    roles = IDENTITY_ROLES.get(actor.role)
    if roles is not None and not contact:
        raise NotAllowedError(Phrase.of(
            N_("%(email)s is not a contact of an organization taking part in engagement %(id)s as %(roles)s"),
            email=actor.identity, id=engagement.id,
            roles=series([Phrase.of(state_word(role)) for role in roles], N_("%(first)s or %(rest)s"))))
    return None


@dataclass(frozen=True)
class _Seat:
    """A co-chair's seat and their vote on the engagement, as ``read_statement`` returns it (``CoChairSeat``)."""

    id: int
    swg_code: str
    name: str
    email: str
    decision: str | None
    decided_at: datetime | None
    channel: str | None


@dataclass(frozen=True)
class Seen:
    """What the read of a refused step saw (``refusal.seen``, for ``UnknownTriggerError`` and
    ``AlreadyDecidedError``): the engagement, and the actor's seat as a co-chair of its SWG with their vote, if one."""

    id: int
    kind: str
    state: str
    swg_code: str | None
    seat: _Seat | None


def _seen(refusal: EngageError, engagement: EngagementRow, seats: list[_Seat]) -> EngageError:
    """``refusal``, telling what its read saw (``Seen``)."""
    mine = next((seat for seat in seats if seat.swg_code == engagement.swg_code), None)
    refusal.seen = Seen(engagement.id, engagement.kind, engagement.state, engagement.swg_code, mine)
    return refusal


def _read(connection: Connection, engagement_id: int, request: TransitionRequest, now: datetime,
          settings: Settings) -> list[Row[Any]]:
    """``read_statement`` for this request, under the engagement's lock: one row per seat of the actor as a
    co-chair (at least one); none for an unknown engagement."""
    statement = read_statement(connection.dialect.name, request.actor.role, request.trigger)
    params = {"id": engagement_id, "key": request.idempotency_key, "seat_email": request.actor.identity,
              "email": request.actor.identity, "now": now, "secretariat": settings.secretariat_email.lower()}
    rows = statement.all(connection, params)
    if rows and rows[0].seen_version != rows[0].version:  # it waited for another writer: read what it left
        rows = statement.all(connection, params)
    return rows


def _replay(connection: Connection, key: str) -> TransitionOutcome | None:
    log = applied_under(connection, key)
    if log is None:
        return None
    return TransitionOutcome(log.engagement_id, log.trigger, log.from_state, log.to_state, log.version, log.id, 0, True)


def replayed(db: Database, idempotency_key: str | None) -> TransitionOutcome | None:
    """The outcome already recorded under ``idempotency_key``, if any (``replayed=True``)."""
    if not idempotency_key:
        return None
    with db.engine.begin() as connection:
        return _replay(connection, idempotency_key)


def apply_transition(
    db: Database | Connection,
    engagement_id: int,
    trigger: str,
    actor: Actor | dict[str, Any],
    *,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
    channel: Channel = Channel.CLI,
    flow_run_id: str | None = None,
    idempotency_key: str | None = None,
    expected_version: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
    settings: Settings | None = None,
    language: Language | str = Language.EN,
) -> TransitionOutcome:
    """Fire ``trigger`` on engagement ``engagement_id`` as ``actor``, all in one transaction.

    The engagement row is locked first, so concurrent callers are applied one after the other, each
    against the state the previous one left. With ``idempotency_key``, the key is looked up right after
    the lock and before anything else: a repeated or concurrent call with the same key returns the
    first outcome with ``replayed=True``, whatever the engagement's state is now.

    Raises (and writes nothing): ``InputError`` (bad trigger name, actor, comment, data or key),
    ``NotFoundError`` (no such engagement), ``UnknownTriggerError`` (not a step of the lifecycle, or
    not possible from the current state), ``NotAllowedError`` (role or person), ``GuardFailedError``
    (a rule refused, including ``AlreadyDecidedError`` for a co-chair's second vote) and
    ``ConflictError`` (``expected_version`` is not the current version).
    ``language`` is the language of the form the data came from (partner text without its own).

    Given a ``Connection``, the transition is made in its open transaction (a portal request's), which the
    caller commits; a unique violation (a key used on another engagement at the same time) then ends that
    transaction with ``IntegrityError``, and ``unique_violation`` gives the answer in a new one.
    """
    check_id(engagement_id, "engagement_id")
    request = parse(TransitionRequest, {
        "trigger": trigger, "actor": actor, "comment": comment, "data": data, "flow_run_id": flow_run_id,
        "idempotency_key": idempotency_key, "expected_version": expected_version,
    })
    settings = settings or get_settings()
    now = clock.now()
    if isinstance(db, Connection):
        return _apply(db, engagement_id, request, Channel(channel), now, settings, Language(language))
    try:
        with db.engine.begin() as connection:
            return _apply(connection, engagement_id, request, Channel(channel), now, settings, Language(language))
    except IntegrityError as error:
        return unique_violation(db, engagement_id, request.idempotency_key, error)


def unique_violation(db: Database, engagement_id: int, idempotency_key: str | None,
                     error: IntegrityError) -> TransitionOutcome:
    """The answer to a transition whose transaction ended in ``error``: the outcome already applied under its
    key, else ``ConflictError``. Only a key used on ANOTHER engagement at the same time gets here (one
    engagement's writers are serialized)."""
    if earlier := replayed(db, idempotency_key):
        return earlier
    raise ConflictError(Phrase.of(
        N_("engagement %(id)s was changed by someone else at the same time; nothing was written"), id=engagement_id,
    )) from error


@dataclass(frozen=True)
class _Decided:
    """A transition its guards allowed, not yet written."""

    engagement: EngagementRow
    lifecycle: Lifecycle
    ctx: TransitionContext
    request: TransitionRequest
    new_state: str


def _apply(connection: Connection, engagement_id: int, request: TransitionRequest, channel: Channel, now: datetime,
           settings: Settings, language: Language) -> TransitionOutcome:
    """The transition, and the step its new state is followed by, in the open transaction."""
    decided = _decide(connection, engagement_id, request, channel, now, language, settings)
    return decided if isinstance(decided, TransitionOutcome) else _carry_out(connection, decided, channel, settings)


def _carry_out(connection: Connection, decided: _Decided, channel: Channel, settings: Settings) -> TransitionOutcome:
    ctx = decided.ctx
    outcome = _commit(connection, decided.engagement, decided.lifecycle, ctx.fired, ctx, decided.request, channel,
                      decided.new_state, settings)
    return _follow_up(connection, decided.lifecycle, outcome, decided.request, channel, ctx.now, settings)


def _decide(connection: Connection, engagement_id: int, request: TransitionRequest, channel: Channel, now: datetime,
            language: Language, settings: Settings) -> TransitionOutcome | _Decided:
    """Read and judge the transition (writing nothing but what its effects write): the earlier outcome of its
    idempotency key, or the transition allowed."""
    rows = _read(connection, engagement_id, request, now, settings)
    if not rows:
        raise NotFoundError(Phrase.of(N_("no engagement with id %(engagement_id)s"), engagement_id=engagement_id))
    engagement = rows[0]
    if engagement.earlier_id is not None:
        earlier = TransitionOutcome(engagement.earlier_engagement_id, engagement.earlier_trigger,
                                    engagement.earlier_from_state, engagement.earlier_to_state,
                                    engagement.earlier_version, engagement.earlier_id, 0, True)
        if (earlier.engagement_id, earlier.trigger) != (engagement_id, request.trigger):
            raise ConflictError(Phrase.of(
                N_("idempotency key '%(key)s' was already used to '%(step)s' engagement %(id)s; nothing was written"),
                key=request.idempotency_key, step=earlier.trigger, id=earlier.engagement_id,
            ))
        return earlier
    if request.expected_version is not None and engagement.version != request.expected_version:
        raise ConflictError(Phrase.of(
            N_("engagement %(id)s changed since you saw it (version %(seen)s, now %(version)s, state '%(state)s'); "
               "nothing was written"),
            id=engagement_id, seen=request.expected_version, version=engagement.version,
            state=Phrase.of(state_word(engagement.state)),
        ))
    lifecycle = get_lifecycle(engagement.kind)
    trigger, actor = request.trigger, request.actor
    candidates = lifecycle.transitions_from(engagement.state, trigger)
    seats = [_Seat(row.seat_id, row.seat_swg_code, row.seat_name, row.seat_email, row.seat_decision,
                   row.seat_decided_at, row.seat_channel) for row in rows if row.seat_id is not None] \
        if actor.role == Role.CO_CHAIR else []
    if not candidates:
        raise _seen(_refuse_unknown(lifecycle, engagement, trigger), engagement, seats)
    allowed = set().union(*(spec.roles for spec in candidates))
    if actor.role not in allowed:
        raise NotAllowedError(Phrase.of(
            N_("a %(role)s may not '%(step)s' %(kind)s; that is for: %(roles)s"), role=Phrase.of(state_word(actor.role.value)),
            step=trigger, kind=a_kind(engagement.kind),
            roles=series([Phrase.of(state_word(role)) for role in sorted(role.value for role in allowed)]),
        ))
    ctx = TransitionContext(
        connection, engagement, lifecycle, actor, now, comment=request.comment,
        co_chair=_identified(engagement, actor, seats, engagement.contact_of is not None),
        memo={"channel": channel.value, "approval_counts": (engagement.co_chairs, engagement.approvals,
                                                            engagement.declines)},
    )
    schema = next((spec.data_model() for spec in candidates if spec.data_schema), None)
    if schema is not None and request.data is not None:
        ctx.data = parse(schema, request.data, "data.", language=language)
    elif request.data:
        raise GuardFailedError(Phrase.of(N_("'%(step)s' takes no data; got fields %(fields)s"), step=trigger,
                                         fields=", ".join(sorted(request.data))))
    try:
        for effect in dict.fromkeys(name for spec in candidates for name in spec.effects):
            EFFECTS[effect](ctx, trigger)
    except AlreadyDecidedError as refusal:
        raise _seen(refusal, engagement, seats) from None
    new_state = fire(engagement.kind, engagement.state, trigger, ctx)
    if new_state is None:
        raise GuardFailedError(Phrase.of(N_("cannot '%(step)s' engagement %(id)s: %(reasons)s"), step=trigger,
                                         id=engagement.id, reasons=series(ctx.refusals, N_("%(first)s; %(rest)s"))))
    return _Decided(engagement, lifecycle, ctx, request, new_state)


def _follow_up(connection: Connection, lifecycle: Lifecycle, outcome: TransitionOutcome, request: TransitionRequest,
               channel: Channel, now: datetime, settings: Settings) -> TransitionOutcome:
    """Take the step the new state is followed by; refused, it is undone alone. A step whose effects may write
    is taken in a savepoint; any other is refused before it writes anything, so it needs none."""
    then = lifecycle.state(outcome.to_state).then
    if then is None or outcome.to_state == outcome.from_state:
        return outcome
    step = parse(TransitionRequest, {"trigger": then, "actor": FOLLOW_UP_ACTOR, "flow_run_id": request.flow_run_id,
                                     "idempotency_key": follow_up_key(outcome.engagement_id, then)})
    try:
        if any(spec.effects for spec in lifecycle.transitions_from(outcome.to_state, then)):
            with connection.begin_nested():
                decided = _decide(connection, outcome.engagement_id, step, channel, now, Language.EN, settings)
                done = decided if isinstance(decided, TransitionOutcome) else _carry_out(
                    connection, decided, channel, settings)
            return replace(outcome, follow_up=done)
        decided = _decide(connection, outcome.engagement_id, step, channel, now, Language.EN, settings)
    except EngageError as error:
        return replace(outcome, follow_up_refused=str(error))
    done = decided if isinstance(decided, TransitionOutcome) else _carry_out(connection, decided, channel, settings)
    return replace(outcome, follow_up=done)


def _commit(connection: Connection, engagement: EngagementRow, lifecycle: Lifecycle, spec: TransitionSpec,
            ctx: TransitionContext, request: TransitionRequest, channel: Channel, new_state: str,
            settings: Settings) -> TransitionOutcome:
    now, from_state = ctx.now, engagement.state
    entering = spec.dest is not None
    current = WaitProgress(engagement.waiting_since, engagement.reminders_sent, engagement.escalated, engagement.next_due_at)
    progress = progress_after(
        lifecycle.state(new_state).wait, entering, current,
        ctx.row_updates.get("reminders_sent", engagement.reminders_sent),
        ctx.row_updates.get("escalated", engagement.escalated), now,
    )
    version = engagement.version + 1
    values = {
        "match_id": engagement.id, "match_version": engagement.version, "state": new_state, "version": version,
        "updated_at": now, "waiting_since": progress.waiting_since, "reminders_sent": progress.reminders_sent,
        "escalated": progress.escalated, "next_due_at": progress.next_due_at,
    }
    logged = {
        "trigger": request.trigger, "from_state": from_state, "to_state": new_state, "version": version,
        "actor": request.actor.identity, "actor_role": request.actor.role.value, "channel": channel.value,
        "flow_run_id": request.flow_run_id, "comment": request.comment,
        "data": ctx.data.model_dump(mode="json") if ctx.data is not None else None,
        "idempotency_key": request.idempotency_key, "at": now,
    }
    if "details" in ctx.row_updates:
        values["details"] = ctx.details
    vote, log_id = ctx.memo.get("vote"), engagement.log_id
    extra = {"trigger": request.trigger, "actor": request.actor.identity, "comment": request.comment,
             "reminder_number": progress.reminders_sent if request.trigger == "remind" else None}
    wait = lifecycle.state(new_state).wait
    if wait is not None and wait.expire_after is not None and progress.waiting_since is not None:
        extra["deadline"] = (progress.waiting_since + wait.expire_after).date().isoformat()
    voted = Vote(vote["co_chair_id"], ctx.co_chair.name, vote["decision"], vote["comment"]) if vote else None
    rows = enqueue(lifecycle, engagement, spec.notify, log_id=log_id, state=new_state,
                   extra={k: v for k, v in extra.items() if v is not None}, now=now, settings=settings, vote=voted)
    events = [{
        "name": name, "engagement_id": engagement.id, "transition_id": log_id, "created_at": now,
        "payload": {"engagement_id": engagement.id, "kind": engagement.kind, "trigger": request.trigger,
                    "from_state": from_state, "to_state": new_state, "actor": request.actor.identity,
                    "channel": channel.value},
    } for name in spec.emits]
    written = [(VOTES, [vote] if vote else []), (LOG, [{"id": log_id, "engagement_id": engagement.id, **logged}]),
               *rows, (EVENTS, events)]
    if not _write(connection, values, written):
        raise ConflictError(Phrase.of(
            N_("engagement %(id)s was changed by someone else while '%(step)s' was being applied; nothing was written"),
            id=engagement.id, step=request.trigger,
        ))
    sent = sum(len(table_rows) for table, table_rows in rows if table is OUTBOX)
    return TransitionOutcome(engagement.id, request.trigger, from_state, new_state, version, log_id, sent)


def create_engagement(db: Database, engagement: EngagementInput | dict[str, Any], actor: Actor | dict[str, Any], *,
                      channel: Channel = Channel.CLI, clock: Clock = SYSTEM_CLOCK,
                      language: Language | str = Language.EN) -> int:
    """Create an engagement in its lifecycle's initial state, with its participants and a first audit row.

    ``language`` is the language of the form it came from: the default of partner text's ``details.language``.
    Raises (and writes nothing): ``InputError`` (bad engagement or actor), ``NotAllowedError`` (a role
    that may not create engagements) and ``NotFoundError`` (an unknown organization, contact, SWG or meeting).
    """
    spec = engagement if isinstance(engagement, EngagementInput) else parse(
        EngagementInput, engagement, language=Language(language))
    who = actor if isinstance(actor, Actor) else parse(Actor, actor)
    if who.role not in (Role.SECRETARIAT, Role.NATIONAL_AUTHORITY, Role.PARTNER, Role.SYSTEM):
        raise NotAllowedError(Phrase.of(N_("a %(role)s may not create engagements"),
                                        role=Phrase.of(state_word(who.role.value))))
    if who.role != Role.SECRETARIAT and any(person.all_contacts for person in spec.participants):
        raise NotAllowedError(Phrase.of(
            N_("participants: only the Secretariat may address every contact of an organization")))
    lifecycle = get_lifecycle(spec.kind)
    now = clock.now()
    with db.engine.begin() as connection:
        if spec.swg_code and connection.scalar(SWG_EXISTS, {"code": spec.swg_code}) is None:
            raise NotFoundError(Phrase.of(N_("swg_code: there is no SWG %(swg)s"), swg=spec.swg_code))
        if spec.meeting_id and connection.scalar(MEETING_EXISTS, {"id": spec.meeting_id}) is None:
            raise NotFoundError(Phrase.of(N_("meeting_id: there is no meeting with id %(id)s"),
                                        id=spec.meeting_id))
        participants = []
        for person in spec.participants:
            organization_id = connection.scalar(ORGANIZATION_NAMED, {"name": person.organization})
            if organization_id is None:
                raise NotFoundError(Phrase.of(N_("participants: no organization named '%(name)s'"),
                                            name=person.organization))
            contact_id = None  # the designated contact: the one named, else the organization's primary contact
            if person.contact_email:
                contact = connection.execute(CONTACT_BY_EMAIL, {"email": person.contact_email.lower()}).first()
                if contact is None or contact.organization_id != organization_id:
                    raise NotFoundError(Phrase.of(N_("participants: %(email)s is not a contact of %(name)s"),
                                                email=person.contact_email, name=person.organization))
                contact_id = contact.id
            elif not person.all_contacts:
                contact_id = connection.scalar(PRIMARY_CONTACT, {"organization_id": organization_id})
            participants.append({"organization_id": organization_id, "contact_id": contact_id,
                                 "role": person.role, "all_contacts": person.all_contacts})
        engagement_id = connection.execute(INSERT_ENGAGEMENT, {
            "kind": spec.kind, "title": spec.title, "state": lifecycle.initial, "version": 1, "swg_code": spec.swg_code,
            "meeting_id": spec.meeting_id, "country": spec.country, "details": spec.details, "created_at": now,
            "updated_at": now, "reminders_sent": 0, "escalated": False,
        }).scalar_one()
        if participants:
            connection.execute(INSERT_PARTICIPANTS, [person | {"engagement_id": engagement_id} for person in participants])
        connection.execute(INSERT_LOG, {
            "engagement_id": engagement_id, "trigger": CREATED, "from_state": "", "to_state": lifecycle.initial,
            "version": 1, "actor": who.identity, "actor_role": who.role.value, "channel": Channel(channel).value,
            "at": now,
        })
        return engagement_id
