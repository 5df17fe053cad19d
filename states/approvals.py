"""Co-chair decisions from any channel (Prefect UI form, CLI, signed e-mail link), applied once.

``record_decision`` is the one seam every channel uses. The database is the truth: a decision
that arrives after the engagement has left ``awaiting_approval``, or a second decision by the
same co-chair (from any channel), is not an error but a clear, non-crashing result. A person who
is not a co-chair of the engagement's SWG is refused with ``NotAllowedError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, literal_column, null, select, union_all
from sqlalchemy.exc import IntegrityError

from models import ApprovalVote, CoChair, Engagement, Meeting, Organization, Participant, SubWorkingGroup
from models.db import Database
from models.prebuilt import Prebuilt
from models.enums import Channel, Decision, EngagementKind
from settings import Settings
from states.action_links import within
from states.approval import ApprovalOutcome, approval_outcome
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import AlreadyDecidedError, EngageError, NotAllowedError, NotFoundError, UnknownTriggerError, english
from states.guards import PARTNER_ROLES
from states.inputs import Actor, InputError, check_id, parse
from states.words import CHANNEL_WORDS, DECISION_WORDS, state_word
from states.workflow import Seen, TransitionOutcome, apply_transition, check_identity, unique_violation
from website.i18n import N_, N_plural, Phrase

AWAITING = "awaiting_approval"
_ALL_APPROVE = N_("all co-chairs must approve")
_QUORUM = N_plural("%(quorum)s of %(count)s co-chair must approve", "%(quorum)s of %(count)s co-chairs must approve")
_ANY_ONE = N_("any one co-chair decides")
_DECIDED_NOW = N_("%(email)s decided to %(decision)s engagement %(engagement_id)s; it is now %(state)s.")
_DECIDED_MORE = N_("%(email)s decided to %(decision)s engagement %(engagement_id)s; more co-chairs must still decide.")
_REPLAYED = N_("%(message)s (This decision had already been applied.)")
_FOLLOWED = N_("%(message)s Its next step followed at once: it is now %(state)s.")
_FOLLOW_UP_LATER = N_("%(message)s Its next step is not done yet; the engine will retry it.")
_ALREADY_DECIDED = N_("%(email)s already decided to %(decision)s on %(day)s via %(channel)s; engagement "
                      "%(engagement_id)s is now %(state)s.")
_NOT_AWAITING = N_("Engagement %(engagement_id)s no longer awaits the co-chairs' decision (it is %(state)s); the "
                   "decision of %(email)s to %(decision)s was not needed and was not recorded.")

# What ``approval_status`` reads in one statement, built once on the tables (every portal page shows it): the
# engagement with its SWG, its meeting and each co-chair of the SWG with their vote (``part`` 0, one row per
# co-chair), then its partners (``part`` 1, one row each).
_ENGAGEMENTS, _SWGS, _MEETINGS = Engagement.__table__, SubWorkingGroup.__table__, Meeting.__table__
_CHAIRS, _VOTES = CoChair.__table__, ApprovalVote.__table__
_ORGANIZATIONS, _PARTICIPANTS = Organization.__table__, Participant.__table__
_STATUS_ENGAGEMENT = (
    select(
        literal_column("0").label("part"), _ENGAGEMENTS.c.id, _ENGAGEMENTS.c.title, _ENGAGEMENTS.c.state, _ENGAGEMENTS.c.version, _ENGAGEMENTS.c.swg_code,
        _ENGAGEMENTS.c.details, _SWGS.c.title.label("swg_title"), _SWGS.c.title_es, _SWGS.c.title_fr,
        _SWGS.c.approval_policy, _SWGS.c.quorum, _MEETINGS.c.title.label("meeting_title"), _MEETINGS.c.starts_on,
        _CHAIRS.c.name, _CHAIRS.c.email, _VOTES.c.decision, _VOTES.c.channel, _VOTES.c.comment,
        _CHAIRS.c.id.label("chair_id"), null().label("partner"),
    )
    .outerjoin(_SWGS, _SWGS.c.code == _ENGAGEMENTS.c.swg_code)
    .outerjoin(_MEETINGS, _MEETINGS.c.id == _ENGAGEMENTS.c.meeting_id)
    .outerjoin(_CHAIRS, _CHAIRS.c.swg_code == _SWGS.c.code)
    .outerjoin(_VOTES, (_VOTES.c.co_chair_id == _CHAIRS.c.id) & (_VOTES.c.engagement_id == _ENGAGEMENTS.c.id))
    .where(_ENGAGEMENTS.c.id == bindparam("engagement_id"))
)
_STATUS_PARTNERS = (
    select(literal_column("1"), *(null() for _ in range(len(_STATUS_ENGAGEMENT.selected_columns) - 2)),
           _ORGANIZATIONS.c.name)
    .join(_PARTICIPANTS, _PARTICIPANTS.c.organization_id == _ORGANIZATIONS.c.id)
    .where(_PARTICIPANTS.c.engagement_id == bindparam("engagement_id"),
           _PARTICIPANTS.c.role.in_([literal_column(f"'{role.value}'") for role in PARTNER_ROLES]))
)
_STATUS = union_all(_STATUS_ENGAGEMENT, _STATUS_PARTNERS)
STATUS = Prebuilt(_STATUS.order_by(_STATUS.selected_columns.part, _STATUS.selected_columns.chair_id,
                                   _STATUS.selected_columns.partner))

class DecisionStatus(StrEnum):
    APPLIED = "applied"
    """The vote was recorded (and may have settled the approval)."""
    ALREADY_DECIDED = "already_decided"
    """This co-chair had already decided; nothing changed."""
    NOT_AWAITING = "not_awaiting"
    """The engagement no longer waits for co-chairs; nothing changed."""


@dataclass(frozen=True)
class CoChairVote:
    name: str
    email: str
    decision: str | None
    channel: str | None
    comment: str | None = None


@dataclass(frozen=True)
class DecisionResult:
    status: DecisionStatus
    message: str
    state: str
    outcome: TransitionOutcome | None = None
    earlier: CoChairVote | None = None
    """``ALREADY_DECIDED``: the co-chair's vote on record."""
    phrase: Phrase | None = None
    """``message`` as a catalog message, for a web page to say in its reader's language."""

    @classmethod
    def said(cls, status: DecisionStatus, phrase: Phrase, state: str, outcome: TransitionOutcome | None = None,
             earlier: CoChairVote | None = None) -> DecisionResult:
        """The result whose ``message`` is ``phrase`` in English."""
        return cls(status, english(phrase), state, outcome, earlier, phrase)

    @property
    def applied(self) -> bool:
        return self.status is DecisionStatus.APPLIED


@dataclass(frozen=True)
class ApprovalStatus:
    """Where an engagement's approval stands, read from the database."""

    engagement_id: int
    title: str
    state: str
    version: int
    swg_code: str | None
    swg_title: str | None
    policy: str | None
    quorum: int | None
    meeting: str | None
    topic: str | None
    partners: list[str] = field(default_factory=list)
    votes: list[CoChairVote] = field(default_factory=list)
    meeting_title: str | None = None
    meeting_on: date | None = None
    """The meeting's title and first day, for a page to write the day in its language."""
    swg_titles: dict[str, str] = field(default_factory=dict)
    """The SWG's title in Spanish and French, where the reference data has them."""

    @property
    def awaiting(self) -> bool:
        return self.state == AWAITING

    @property
    def decided(self) -> int:
        return sum(1 for vote in self.votes if vote.decision)

    @property
    def outcome(self) -> ApprovalOutcome | None:
        if not self.votes or self.policy is None:
            return None
        approvals = sum(1 for vote in self.votes if vote.decision == Decision.APPROVE)
        declines = sum(1 for vote in self.votes if vote.decision == Decision.DECLINE)
        return approval_outcome(self.policy, self.quorum, len(self.votes), approvals, declines)

    @property
    def policy_phrase(self) -> Phrase:
        """The approval policy as a catalog message."""
        if self.policy == "all":
            return Phrase.of(_ALL_APPROVE)
        if self.policy == "quorum":
            return Phrase.of(_QUORUM, len(self.votes), quorum=self.quorum or 0, count=len(self.votes))
        return Phrase.of(_ANY_ONE)

    @property
    def policy_text(self) -> str:
        return english(self.policy_phrase)

    def describe_markdown(self) -> str:
        """The engagement as co-chairs see it above the decision form."""
        lines = [
            f"### Invitation to present: {self.title}",
            "",
            f"- **Engagement**: #{self.engagement_id} (state `{self.state}`)",
            f"- **Partner**: {', '.join(self.partners) or '(none)'}",
            f"- **SWG**: {self.swg_code} {self.swg_title or ''}".rstrip(),
            f"- **Meeting**: {self.meeting or '(not set)'}",
            f"- **Topic**: {self.topic or '(not given)'}",
            f"- **Policy**: {self.policy_text}",
            "",
            "| Co-chair | E-mail | Decision |",
            "|---|---|---|",
            *(f"| {v.name} | {v.email} | {v.decision or 'pending'}{f' ({v.channel})' if v.channel else ''} |" for v in self.votes),
            "",
            "Enter **your co-chair e-mail**, choose *approve* or *decline* and add a comment if you wish.",
        ]
        return "\n".join(lines)


def approval_status(db: Database | Connection, engagement_id: int) -> ApprovalStatus:
    """Read the engagement, its SWG, co-chairs and votes (in ``db``'s transaction when it is a connection);
    ``NotFoundError`` for an unknown engagement."""
    check_id(engagement_id, "engagement_id")
    key = {"engagement_id": engagement_id}
    with within(db) as connection:
        found = STATUS.all(connection, key)
    rows = [row for row in found if row.part == 0]
    if not rows:
        raise NotFoundError(Phrase.of(N_("no engagement with id %(engagement_id)s"), engagement_id=str(engagement_id)))
    partners = [row.partner for row in found if row.part == 1]
    engagement = rows[0]
    votes = [CoChairVote(row.name, row.email, row.decision, row.channel, row.comment) for row in rows
             if row.email is not None]
    return ApprovalStatus(
        engagement_id=engagement.id, title=engagement.title, state=engagement.state, version=engagement.version,
        swg_code=engagement.swg_code, swg_title=engagement.swg_title, policy=engagement.approval_policy,
        quorum=engagement.quorum,
        meeting=f"{engagement.meeting_title} ({engagement.starts_on.isoformat()})" if engagement.starts_on else None,
        meeting_title=engagement.meeting_title, meeting_on=engagement.starts_on,
        swg_titles={lang: title for lang, title in (("es", engagement.title_es), ("fr", engagement.title_fr)) if title},
        topic=(engagement.details or {}).get("topic"), partners=list(partners), votes=votes,
    )


def _why_not_applied(connection: Connection, email: str, decision: Decision, refusal: EngageError) -> DecisionResult:
    """Whether this co-chair had decided or the engagement moved on, as the refused vote's read saw it (under its
    row lock; ``refusal.seen``).

    Raises ``NotAllowedError`` when the engagement is not an invitation to present or the person
    co-chairs another SWG (``refusal`` is the cause).
    """
    seen: Seen | None = refusal.seen
    assert seen is not None, "a refused decision's read tells what it saw"
    if seen.kind != EngagementKind.SWG_PRESENTATION:
        raise NotAllowedError(Phrase.of(
            N_("engagement %(engagement_id)s is a %(kind)s; co-chairs do not decide it"),
            engagement_id=str(seen.id), kind=Phrase.of(state_word(seen.kind)))) from refusal
    seat = seen.seat
    if seat is None:
        check_identity(connection, seen, Actor(role="co_chair", identity=email))
    elif seat.decision is not None:
        return DecisionResult.said(
            DecisionStatus.ALREADY_DECIDED,
            Phrase.of(_ALREADY_DECIDED, email=email, decision=Phrase.of(DECISION_WORDS[seat.decision]),
                      day=seat.decided_at.date(), channel=Phrase.of(CHANNEL_WORDS.get(seat.channel, seat.channel)),
                      engagement_id=str(seen.id), state=Phrase.of(state_word(seen.state))),
            seen.state,
            earlier=CoChairVote(seat.name, seat.email, seat.decision, seat.channel),
        )
    return DecisionResult.said(
        DecisionStatus.NOT_AWAITING,
        Phrase.of(_NOT_AWAITING, engagement_id=str(seen.id), state=Phrase.of(state_word(seen.state)), email=email,
                  decision=Phrase.of(DECISION_WORDS[decision.value])),
        seen.state,
    )


def record_decision(
    db: Database | Connection,
    engagement_id: int,
    co_chair_email: str,
    decision: Decision | str,
    comment: str | None = None,
    channel: Channel | str = Channel.CLI,
    clock: Clock = SYSTEM_CLOCK,
    *,
    flow_run_id: str | None = None,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
) -> DecisionResult:
    """Apply a co-chair's approve/decline through ``apply_transition``, from any channel.

    The engagement is locked while the vote is counted, so concurrent decisions are applied one after
    the other and each answer is true of the final state. Returns ``APPLIED`` (``outcome.replayed``
    when ``idempotency_key`` had already been applied: the first outcome, whatever the state now),
    ``ALREADY_DECIDED`` (this co-chair had voted, from any channel) or ``NOT_AWAITING`` (the
    engagement no longer waits for co-chairs), each with a message a person understands.

    Raises ``InputError`` (bad e-mail, decision, comment or key), ``NotFoundError`` (no such
    engagement), ``NotAllowedError`` (not a co-chair of this SWG, or not an invitation to present) and
    ``ConflictError`` (``idempotency_key`` was already used for another step or engagement).
    A settling approval is followed, in the same transaction, by the invitation (``outcome.follow_up``);
    ``state`` is the decision's own destination.
    """
    check_id(engagement_id, "engagement_id")
    if decision not in set(Decision):
        raise InputError(Phrase.of(N_("decision: '%(decision)s' is not one of: approve, decline"),
                                   decision=str(decision)))
    decision = Decision(decision)
    actor = parse(Actor, {"role": "co_chair", "identity": co_chair_email})
    email = actor.identity
    steps = {"comment": comment or None, "channel": Channel(channel), "flow_run_id": flow_run_id,
             "idempotency_key": idempotency_key, "clock": clock, "settings": settings}
    if isinstance(db, Connection):
        return _record(db, engagement_id, actor, decision, steps)
    try:
        with db.engine.begin() as connection:
            return _record(connection, engagement_id, actor, decision, steps)
    except IntegrityError as error:
        return _applied(unique_violation(db, engagement_id, idempotency_key, error), email, engagement_id)


def _record(connection: Connection, engagement_id: int, actor: Actor, decision: Decision,
            steps: dict[str, Any]) -> DecisionResult:
    """The decision in the open transaction: applied, or why it was not."""
    try:
        outcome = apply_transition(connection, engagement_id, decision.value, actor, **steps)
    except (AlreadyDecidedError, UnknownTriggerError) as refusal:
        return _why_not_applied(connection, actor.identity, decision, refusal)
    return _applied(outcome, actor.identity, engagement_id)


def _applied(outcome: TransitionOutcome, email: str, engagement_id: int) -> DecisionResult:
    """The answer to an applied (or replayed) decision."""
    said = {"email": email, "decision": Phrase.of(DECISION_WORDS[outcome.trigger]), "engagement_id": str(engagement_id)}
    if outcome.to_state != outcome.from_state:
        phrase = Phrase.of(_DECIDED_NOW, **said, state=Phrase.of(state_word(outcome.to_state)))
    else:
        phrase = Phrase.of(_DECIDED_MORE, **said)
    if outcome.follow_up is not None:
        phrase = Phrase.of(_FOLLOWED, message=phrase, state=Phrase.of(state_word(outcome.follow_up.final_state)))
    elif outcome.follow_up_refused:
        phrase = Phrase.of(_FOLLOW_UP_LATER, message=phrase)
    if outcome.replayed:
        phrase = Phrase.of(_REPLAYED, message=phrase)
    return DecisionResult.said(DecisionStatus.APPLIED, phrase, outcome.to_state, outcome)

