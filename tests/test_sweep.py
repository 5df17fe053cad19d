"""The reminder sweep (domain, no Prefect): due rows via next_due_at, idempotent, remind/escalate/expire."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from models import OutboxMessage, TransitionLog
from states.clock import SimulatedClock
from states.sweep import find_due, run_sweep
from states.workflow import apply_transition
from tests.world import SYSTEM, awaiting_approval, seeded

START = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)


def _outbox(db) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_remind_then_escalate_and_idempotent(db):
    clock = SimulatedClock(START)
    seeded(db)
    engagement = awaiting_approval(db, clock)
    assert find_due(db, clock.now()) == []
    assert run_sweep(db, clock).items == []

    clock.advance(timedelta(days=7))
    due = find_due(db, clock.now())
    assert [row.id for row in due] == [engagement]
    before = _outbox(db)
    report = run_sweep(db, clock, "run-1")
    assert [item.engagement_id for item in report.reminded] == [engagement]
    assert report.reminded[0].notifications == 3  # the three undecided co-chairs of SWG 3.1
    assert _outbox(db) == before + 3
    # the same moment again: nothing due, nothing sent twice
    again = run_sweep(db, clock, "run-2")
    assert again.items == [] and _outbox(db) == before + 3

    clock.advance(timedelta(days=7))
    report = run_sweep(db, clock)
    assert [item.engagement_id for item in report.escalated] == [engagement]
    with db.transaction() as session:
        log = session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == engagement).order_by(TransitionLog.id)).all()
    assert [row.trigger for row in log] == ["create", "request_approval", "remind", "escalate"]
    assert log[2].channel == "flow" and log[2].flow_run_id == "run-1"
    clock.advance(timedelta(days=30))
    assert run_sweep(db, clock).items == []  # max reminders sent, escalated, no expiry: done


def test_expire_invitation(db):
    clock = SimulatedClock(START)
    seeded(db)
    engagement = awaiting_approval(db, clock, swg="1.2", partner="Naviera del Pacífico")
    # the approval is followed by the invitation, in its transaction
    apply_transition(db, engagement, "approve", {"role": "co_chair", "identity": "swg12.mexico@cochairs.example"}, clock=clock)
    clock.advance(timedelta(days=29))
    report = run_sweep(db, clock)
    assert [(item.engagement_id, item.to_state) for item in report.expired] == [(engagement, "expired")]


def test_replayed_key_is_not_sent_twice(db):
    """Two sweeps that both saw the same due row (concurrent runs) fire it once."""
    clock = SimulatedClock(START)
    seeded(db)
    engagement = awaiting_approval(db, clock)
    clock.advance(timedelta(days=7))
    row = find_due(db, clock.now())[0]
    key = f"sweep:{engagement}:v{row.version}:remind"
    first = apply_transition(db, engagement, "remind", SYSTEM, idempotency_key=key, clock=clock)
    count = _outbox(db)
    second = apply_transition(db, engagement, "remind", SYSTEM, idempotency_key=key, clock=clock)
    assert second.replayed and second.log_id == first.log_id and _outbox(db) == count


def test_paging_and_limit(sqlite_db):
    clock = SimulatedClock(START)
    seeded(sqlite_db)
    ids = [awaiting_approval(sqlite_db, clock) for _ in range(5)]
    clock.advance(timedelta(days=8))
    assert [row.id for row in find_due(sqlite_db, clock.now(), limit=2)] == ids[:2]
    page = find_due(sqlite_db, clock.now(), limit=10, after=(find_due(sqlite_db, clock.now())[1].next_due_at, ids[1]))
    assert [row.id for row in page] == ids[2:]
    report = run_sweep(sqlite_db, clock, page_size=2, limit=3)
    assert len(report.reminded) == 3
    assert len(run_sweep(sqlite_db, clock, page_size=2).reminded) == 2
