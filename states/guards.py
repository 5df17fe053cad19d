"""Guards: rules a transition must pass. Each returns ``None`` to allow, or a refusal a person understands.

A refusal is a ``Phrase`` (a catalog message and its parameters): each door says it in its reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import bindparam, func, select

from models import ApprovalVote, CoChair, Contact, Participant, SubmissionWindow
from models.enums import Decision, ParticipantRole
from states.approval import ApprovalOutcome, approval_outcome
from states.context import TransitionContext
from states.words import state_word
from website.i18n import N_, Phrase

Guard = Callable[[TransitionContext], Phrase | None]

PARTNER_ROLES = (ParticipantRole.PARTNER, ParticipantRole.PRESENTER, ParticipantRole.INVITEE)

# Built once, as Core statements on the tables: an SWG's co-chairs, the partner contacts of an engagement,
# a kind's submission window, and the approval's count of co-chairs, approvals and declines in one statement.
_CHAIRS, _VOTES = CoChair.__table__, ApprovalVote.__table__
_PARTICIPANTS, _CONTACTS = Participant.__table__, Contact.__table__
COUNT_CO_CHAIRS = select(func.count()).select_from(_CHAIRS).where(_CHAIRS.c.swg_code == bindparam("swg_code"))
COUNT_PARTNER_CONTACTS = (
    select(func.count())
    .select_from(_PARTICIPANTS)
    .join(_CONTACTS, _CONTACTS.c.organization_id == _PARTICIPANTS.c.organization_id)
    .where(_PARTICIPANTS.c.engagement_id == bindparam("engagement_id"), _PARTICIPANTS.c.role.in_(PARTNER_ROLES))
)
_WINDOWS = SubmissionWindow.__table__
WINDOW = select(_WINDOWS).where(_WINDOWS.c.kind == bindparam("kind"))
_ENGAGEMENT_VOTES = select(func.count()).select_from(_VOTES).where(_VOTES.c.engagement_id == bindparam("engagement_id"))
COUNT_APPROVAL = select(
    COUNT_CO_CHAIRS.scalar_subquery(),
    _ENGAGEMENT_VOTES.where(_VOTES.c.decision == Decision.APPROVE).scalar_subquery(),
    _ENGAGEMENT_VOTES.where(_VOTES.c.decision == Decision.DECLINE).scalar_subquery(),
)


def window_open(ctx: TransitionContext) -> str | None:
    """The engagement kind's submission window is open today."""
    kind = ctx.engagement.kind
    window = ctx.connection.execute(WINDOW, {"kind": kind}).first()
    label = Phrase.of(state_word(kind))
    if window is None:
        return Phrase.of(N_("no submission window is configured for %(kind)s; the Secretariat must set one first"),
                         kind=label)
    today = ctx.now.date()
    if today < window.opens_on:
        return Phrase.of(N_("the window for %(kind)s opens on %(day)s; it does not accept submissions yet"),
                         kind=label, day=window.opens_on)
    if today > window.closes_on:
        return Phrase.of(N_("the window for %(kind)s closed on %(day)s; it no longer accepts submissions"),
                         kind=label, day=window.closes_on)
    return None


def report_complete(ctx: TransitionContext) -> str | None:
    """A dialogue report with date, organizing agency and partner counts comes with the trigger."""
    if ctx.data is None:
        return Phrase.of(N_("a report is required: held_on, organizing_agency, public_partners and private_partners"))
    held_on = getattr(ctx.data, "held_on")
    if held_on > ctx.now.date():
        return Phrase.of(N_("held_on %(day)s is in the future; report a dialogue once it has been held"),
                         day=held_on.isoformat())
    return None


def comment_given(ctx: TransitionContext) -> str | None:
    """A reason is given as a comment."""
    return None if ctx.comment and ctx.comment.strip() else Phrase.of(N_("a reason is required: give it as a comment"))


def has_swg(ctx: TransitionContext) -> str | None:
    """The engagement names an SWG that has co-chairs."""
    code = ctx.engagement.swg_code
    if code is None:
        return Phrase.of(N_("no Sub-Working Group is set for this engagement"))
    if not _counts(ctx)[0]:
        return Phrase.of(N_("SWG %(swg)s has no co-chairs to decide"), swg=code)
    return None


def has_meeting(ctx: TransitionContext) -> str | None:
    """The engagement names its meeting."""
    return None if ctx.engagement.meeting_id else Phrase.of(N_("no meeting is set for this engagement"))


def has_partner_contact(ctx: TransitionContext) -> str | None:
    """At least one partner of the engagement has a contact to notify."""
    found = ctx.connection.scalar(COUNT_PARTNER_CONTACTS, {"engagement_id": ctx.engagement.id})
    return None if found else Phrase.of(N_("no partner with a contact takes part in this engagement"))


def outcome_given(ctx: TransitionContext) -> str | None:
    """An outcome comes with the trigger."""
    return None if ctx.data is not None else Phrase.of(N_("an outcome is required"))


def received_by_early_deadline(ctx: TransitionContext) -> str | None:
    """The submission arrived by its window's early deadline."""
    window = ctx.connection.execute(WINDOW, {"kind": ctx.engagement.kind}).first()
    if window is None or window.early_deadline is None:
        return Phrase.of(N_("no early deadline is configured for this kind"))
    submitted = ctx.details.get("submitted_on")
    if submitted is None:
        return Phrase.of(N_("no day of receipt is recorded, so the early deadline of %(deadline)s cannot be met"),
                         deadline=window.early_deadline)
    if date.fromisoformat(submitted) > window.early_deadline:
        return Phrase.of(N_("received on %(day)s, after the early deadline of %(deadline)s"),
                         day=date.fromisoformat(submitted), deadline=window.early_deadline)
    return None


def _counts(ctx: TransitionContext) -> tuple[int, int, int]:
    """The SWG's co-chairs, the approvals and the declines of the engagement: as the transition read them with
    the engagement (``memo["approval_counts"]``, with any vote it recorded since), else in one statement."""
    if "approval_counts" not in ctx.memo:
        ctx.memo["approval_counts"] = tuple(ctx.connection.execute(
            COUNT_APPROVAL, {"swg_code": ctx.engagement.swg_code, "engagement_id": ctx.engagement.id}).one())
    return ctx.memo["approval_counts"]


def _outcome(ctx: TransitionContext) -> ApprovalOutcome:
    """The approval's outcome from the SWG's policy (read with the engagement), its co-chairs and the votes
    (read under the row lock)."""
    if "approval" not in ctx.memo:
        engagement = ctx.engagement
        ctx.memo["approval"] = approval_outcome(engagement.approval_policy, engagement.quorum, *_counts(ctx))
    return ctx.memo["approval"]


def approval_granted(ctx: TransitionContext) -> str | None:
    """The SWG's approval policy is satisfied."""
    return None if _outcome(ctx) is ApprovalOutcome.APPROVED else Phrase.of(N_("the approval policy is not yet satisfied"))


def approval_refused(ctx: TransitionContext) -> str | None:
    """The SWG's approval policy can no longer be satisfied."""
    return None if _outcome(ctx) is ApprovalOutcome.DECLINED else Phrase.of(N_("approval can still be reached"))


def approval_pending(ctx: TransitionContext) -> str | None:
    """Co-chairs are still to decide."""
    return None if _outcome(ctx) is ApprovalOutcome.PENDING else Phrase.of(N_("the co-chairs' decision is complete"))


GUARDS: dict[str, Guard] = {
    guard.__name__: guard
    for guard in (
        window_open, report_complete, comment_given, has_swg, has_meeting, has_partner_contact, outcome_given,
        received_by_early_deadline, approval_granted, approval_refused, approval_pending,
    )
}
