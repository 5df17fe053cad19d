"""Engine events and audited refusals (domain, SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from models import Engagement, EngineEvent, TransitionLog
from states.approvals import record_decision
from states.clock import SimulatedClock
from states.errors import NotFoundError
from states.events import mark_emitted, unsent_events
from states.refusals import record_refusal
from states.workflow import apply_transition, create_engagement
from tests.world import seeded


@pytest.fixture
def awaiting(db):
    clock = SimulatedClock(datetime(2024, 1, 15, 9, tzinfo=timezone.utc))
    seeded(db)

    def presentation(swg: str) -> int:
        engagement = create_engagement(db, {
            "kind": "swg_presentation", "title": f"Meta at SWG {swg}", "swg_code": swg, "details": {"topic": "Prevention"},
            "participants": [{"organization": "Meta", "role": "presenter"}],
        }, {"role": "secretariat", "identity": "s@state.example"}, clock=clock)
        apply_transition(db, engagement, "request_approval", {"role": "system", "identity": "t"}, clock=clock)
        return engagement

    return db, presentation, clock


def _events(db) -> list[tuple[str, int]]:
    with db.transaction() as session:
        return [(row.name, row.engagement_id) for row in session.scalars(select(EngineEvent).order_by(EngineEvent.id))]


def test_settling_decisions_record_one_event_in_their_transaction(awaiting):
    db, presentation, clock = awaiting
    quorum, single = presentation("3.1"), presentation("1.1")
    assert _events(db) == []  # request_approval emits nothing
    record_decision(db, quorum, "swg31.nigeria@cochairs.example", "approve", clock=clock)
    assert _events(db) == []  # one of two approvals: nothing settled yet
    record_decision(db, quorum, "swg31.who@cochairs.example", "approve", clock=clock)
    record_decision(db, single, "swg11.incb@cochairs.example", "decline", clock=clock)
    assert _events(db) == [("engage.approval.approved", quorum), ("engage.approval.declined", single)]
    pending = unsent_events(db)
    assert [event.payload["to_state"] for event in pending] == ["approved", "declined"]
    assert pending[0].payload["actor"] == "swg31.who@cochairs.example" and pending[0].payload["channel"] == "cli"
    with db.transaction() as session:
        log = session.scalar(select(TransitionLog).where(TransitionLog.engagement_id == quorum)
                             .order_by(TransitionLog.id.desc()))
        assert session.scalar(select(EngineEvent.transition_id).where(EngineEvent.engagement_id == quorum)) == log.id
    mark_emitted(db, pending[0].id, clock.now())
    mark_emitted(db, pending[0].id, clock.now())
    assert [event.id for event in unsent_events(db)] == [pending[1].id]


def test_a_refused_transition_records_no_event(awaiting):
    db, presentation, clock = awaiting
    engagement = presentation("1.1")
    with pytest.raises(Exception):
        apply_transition(db, engagement, "approve", {"role": "co_chair", "identity": "swg22.france@cochairs.example"},
                         clock=clock)
    assert _events(db) == []


def test_refusal_is_audited_without_changing_the_engagement(awaiting):
    db, presentation, clock = awaiting
    engagement = presentation("2.2")
    with db.transaction() as session:
        before = session.execute(select(Engagement.state, Engagement.version).where(Engagement.id == engagement)).one()
    first = record_refusal(db, engagement, "approve", "swg11.canada@cochairs.example", "co_chair",
                           "not a co-chair of SWG 2.2", "prefect_ui", clock, idempotency_key="form:1:0")
    again = record_refusal(db, engagement, "approve", "swg11.canada@cochairs.example", "co_chair",
                           "not a co-chair of SWG 2.2", "prefect_ui", clock, idempotency_key="form:1:0")
    assert first is not None and again is None
    with db.transaction() as session:
        after = session.execute(select(Engagement.state, Engagement.version).where(Engagement.id == engagement)).one()
        rows = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "refused")).all()
        assert session.scalar(select(func.count()).select_from(EngineEvent)) == 0
    assert tuple(after) == tuple(before)
    assert len(rows) == 1
    row = rows[0]
    assert (row.from_state, row.to_state, row.version) == ("awaiting_approval", "awaiting_approval", before.version)
    assert (row.channel, row.actor, row.comment, row.data) == (
        "prefect_ui", "swg11.canada@cochairs.example", "not a co-chair of SWG 2.2", {"attempted": "approve"})
    with pytest.raises(NotFoundError):
        record_refusal(db, 999_999, "approve", "x@example.org", "co_chair", "why", "cli", clock)
