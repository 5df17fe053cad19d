"""Waiting states: when the next reminder, escalation or expiry falls due, and which one it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from states.spec import Wait

Action = Literal["remind", "escalate", "expire"]


@dataclass(frozen=True)
class WaitProgress:
    """Where an engagement stands in its current waiting state."""

    waiting_since: datetime | None
    reminders_sent: int
    escalated: bool
    next_due_at: datetime | None


NOT_WAITING = WaitProgress(None, 0, False, None)


def due_action(wait: Wait, progress: WaitProgress, now: datetime) -> Action | None:
    """What the sweep must do now, if anything: expire, remind, or escalate (in that precedence)."""
    if progress.waiting_since is None or progress.next_due_at is None or now < progress.next_due_at:
        return None
    if wait.expire_after is not None and now >= progress.waiting_since + wait.expire_after:
        return "expire"
    if progress.reminders_sent < wait.max_reminders:
        return "remind"
    if not progress.escalated:
        return "escalate"
    return None


def next_due(wait: Wait, since: datetime, reminders_sent: int, escalated: bool, now: datetime) -> datetime | None:
    """When the sweep next has something to do: reminder n+1, then the escalation, and the expiry.

    Reminders fall ``remind_after`` apart from entering the state, and never sooner than
    ``remind_after`` after the last thing done, so a late sweep does not send a burst.
    """
    candidates: list[datetime] = []
    if reminders_sent < wait.max_reminders or not escalated:
        scheduled = since + wait.remind_after * (reminders_sent + 1)
        spaced = now + wait.remind_after if reminders_sent or escalated else scheduled
        candidates.append(max(scheduled, spaced))
    if wait.expire_after is not None:
        candidates.append(since + wait.expire_after)
    return min(candidates) if candidates else None


def progress_after(wait: Wait | None, entering: bool, current: WaitProgress, reminders_sent: int, escalated: bool,
                   now: datetime) -> WaitProgress:
    """The waiting bookkeeping after a transition: restarted on entering a state, advanced on a step within it."""
    if wait is None:
        return NOT_WAITING
    if entering:
        return WaitProgress(now, 0, False, next_due(wait, now, 0, False, now))
    since = current.waiting_since or now
    return WaitProgress(since, reminders_sent, escalated, next_due(wait, since, reminders_sent, escalated, now))
