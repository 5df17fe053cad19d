"""Approval policies and the waiting-state schedule, as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from models.enums import Role
from states.approval import ApprovalOutcome, approval_outcome
from states.spec import Wait
from states.waits import WaitProgress, due_action, next_due, progress_after

A, D, P = ApprovalOutcome.APPROVED, ApprovalOutcome.DECLINED, ApprovalOutcome.PENDING


@pytest.mark.parametrize(
    ("policy", "quorum", "chairs", "approvals", "declines", "expected"),
    [
        ("any", None, 2, 0, 0, P), ("any", None, 2, 1, 0, A), ("any", None, 2, 0, 1, D),
        ("all", None, 2, 1, 0, P), ("all", None, 2, 2, 0, A), ("all", None, 2, 1, 1, D), ("all", None, 3, 0, 1, D),
        ("quorum", 2, 3, 1, 0, P), ("quorum", 2, 3, 2, 0, A), ("quorum", 2, 3, 0, 1, P), ("quorum", 2, 3, 1, 1, P),
        ("quorum", 2, 3, 0, 2, D), ("quorum", 3, 3, 2, 1, D),
    ],
)
def test_approval_policies(policy, quorum, chairs, approvals, declines, expected) -> None:  # noqa: ANN001
    assert approval_outcome(policy, quorum, chairs, approvals, declines) is expected


@pytest.mark.parametrize(("quorum", "chairs"), [(None, 3), (0, 3), (4, 3)])
def test_a_quorum_must_fit_the_co_chairs(quorum, chairs) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="quorum must be between 1 and"):
        approval_outcome("quorum", quorum, chairs, 0, 0)


T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
WAIT = Wait(Role.PARTNER, 7 * DAY, max_reminders=2, expire_after=28 * DAY, expire_trigger="expire")


def test_entering_a_waiting_state_schedules_the_first_reminder() -> None:
    progress = progress_after(WAIT, True, WaitProgress(None, 0, False, None), 0, False, T0)
    assert progress == WaitProgress(T0, 0, False, T0 + 7 * DAY)
    assert due_action(WAIT, progress, T0 + 6 * DAY) is None
    assert due_action(WAIT, progress, T0 + 7 * DAY) == "remind"


def test_reminders_then_escalation_then_expiry() -> None:
    progress = progress_after(WAIT, True, WaitProgress(None, 0, False, None), 0, False, T0)
    seen = []
    now = T0
    for _ in range(10):
        now = progress.next_due_at
        action = due_action(WAIT, progress, now)
        seen.append((action, (now - T0).days))
        if action == "expire":
            break
        progress = progress_after(WAIT, False, progress, progress.reminders_sent + (action == "remind"),
                                  progress.escalated or action == "escalate", now)
    assert seen == [("remind", 7), ("remind", 14), ("escalate", 21), ("expire", 28)]


def test_a_late_sweep_does_not_burst_reminders() -> None:
    late = T0 + 20 * DAY
    assert next_due(WAIT, T0, 1, False, late) == late + 7 * DAY
    no_expiry = Wait(Role.CO_CHAIR, 7 * DAY, max_reminders=1)
    assert next_due(no_expiry, T0, 1, True, late) is None


def test_leaving_a_waiting_state_clears_the_schedule() -> None:
    assert progress_after(None, True, WaitProgress(T0, 2, True, T0), 2, True, T0) == WaitProgress(None, 0, False, None)
