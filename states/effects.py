"""Effects: writes a transition makes besides its state, inside the same transaction, decided before its guards."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam, insert, select, update

from models import DialogueReport
from models.enums import Decision
from states.context import TransitionContext
from states.errors import AlreadyDecidedError

Effect = Callable[[TransitionContext, str], None]

# Built once, as Core statements on the tables: a dialogue's report (found, added, replaced).
REPORTS = DialogueReport.__table__
HAS_REPORT = select(REPORTS.c.engagement_id).where(REPORTS.c.engagement_id == bindparam("engagement_id"))
INSERT_REPORT = insert(REPORTS)


def record_vote(ctx: TransitionContext, trigger: str) -> None:
    """The co-chair's decision, written with the state change (``memo["vote"]``, the ``approval_votes`` row); a
    co-chair decides once (their vote, if any, was read with their seat)."""
    seat = ctx.co_chair
    assert seat is not None, "the co-chair is identified before effects run"
    if seat.decision is not None:
        raise AlreadyDecidedError(
            f"{seat.name} ({seat.email}) already decided to {seat.decision} "
            f"on {seat.decided_at:%Y-%m-%d %H:%M} UTC via {seat.channel}"
        )
    ctx.memo["vote"] = {
        "engagement_id": ctx.engagement.id, "co_chair_id": seat.id, "decision": trigger, "comment": ctx.comment,
        "channel": ctx.memo["channel"], "decided_at": ctx.now,
    }
    if "approval_counts" in ctx.memo:  # the counts read with the engagement, before this vote
        co_chairs, approvals, declines = ctx.memo["approval_counts"]
        ctx.memo["approval_counts"] = (co_chairs, approvals + (trigger == Decision.APPROVE),
                                       declines + (trigger == Decision.DECLINE))


def store_dialogue_report(ctx: TransitionContext, _trigger: str) -> None:
    """Store (or replace, after a revision) the dialogue's report; without one, the guard refuses.

    The language it was written in goes to the engagement's ``details.language``, like other partner text.
    """
    if ctx.data is None:
        return
    values = ctx.data.model_dump(exclude={"language"})
    _set_details(ctx, language=ctx.data.language.value)
    values |= {"engagement_id": ctx.engagement.id, "submitted_at": ctx.now}
    if ctx.connection.scalar(HAS_REPORT, values) is None:
        ctx.connection.execute(INSERT_REPORT, values)
    else:
        ctx.connection.execute(update(REPORTS).where(REPORTS.c.engagement_id == ctx.engagement.id).values(values))


def _set_details(ctx: TransitionContext, **values: object) -> None:
    ctx.row_updates["details"] = {**ctx.details, **values}


def stamp_submitted(ctx: TransitionContext, _trigger: str) -> None:
    """Remember the day it was (re)submitted: the early deadline is judged on it."""
    _set_details(ctx, submitted_on=ctx.now.date().isoformat())


def stamp_published(ctx: TransitionContext, _trigger: str) -> None:
    """Remember when it was published."""
    _set_details(ctx, published_at=ctx.now.isoformat())


def mark_selected_for_report(ctx: TransitionContext, _trigger: str) -> None:
    """Remember when the Secretariat selected it for the final report."""
    _set_details(ctx, selected_for_report=ctx.now.isoformat())


def store_outcome(ctx: TransitionContext, _trigger: str) -> None:
    """Keep the meeting's recorded outcome with the engagement; without one, the guard refuses."""
    if ctx.data is not None:
        _set_details(ctx, outcome=ctx.data.model_dump(mode="json"))


def count_reminder(ctx: TransitionContext, _trigger: str) -> None:
    """One more reminder went out in this waiting state."""
    ctx.row_updates["reminders_sent"] = ctx.engagement.reminders_sent + 1


def mark_escalated(ctx: TransitionContext, _trigger: str) -> None:
    """The secretariat has been told of the unanswered reminders."""
    ctx.row_updates["escalated"] = True


EFFECTS: dict[str, Effect] = {
    effect.__name__: effect
    for effect in (
        record_vote, store_dialogue_report, stamp_submitted, stamp_published, mark_selected_for_report, store_outcome,
        count_reminder, mark_escalated,
    )
}
