"""Engine events, follow-ups in the deciding transaction and their safety net, audited refusals (domain, SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, select, update

from models import Engagement, EngineEvent, OutboxMessage, TransitionLog
from states.approvals import record_decision
from states.clock import SimulatedClock
from states.errors import NotFoundError
from states.events import mark_emitted, unsent_events
from states.follow_ups import finish_follow_ups, follow_up_states
from states.refusals import record_refusal
from states.sweep import run_sweep
from states.workflow import apply_transition, create_engagement, follow_up_key
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
        log = session.scalar(select(TransitionLog).where(TransitionLog.engagement_id == quorum,
                                                         TransitionLog.trigger == "approve")
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


def _invitations(db, engagement: int) -> list[tuple[str, int]]:
    with db.transaction() as session:
        return session.execute(select(OutboxMessage.recipient_address, OutboxMessage.transition_id).where(
            OutboxMessage.engagement_id == engagement, OutboxMessage.notification_type == "invitation")).all()


def test_a_settling_approval_queues_the_invitation_in_its_own_commit(awaiting):
    db, presentation, clock = awaiting
    engagement = presentation("1.1")  # SWG 1.1: any one co-chair decides
    commits: list[int] = []
    listener = lambda connection: commits.append(1)  # noqa: E731
    event.listen(db.engine, "commit", listener)
    try:
        result = record_decision(db, engagement, "swg11.incb@cochairs.example", "approve", channel="email_link",
                                 clock=clock)
    finally:
        event.remove(db.engine, "commit", listener)
    assert len(commits) == 1  # the decision, its invitation and its event: one transaction
    assert result.state == "approved" and "Its next step followed at once: it is now invitation sent." in result.message
    invitation = result.outcome.follow_up
    assert invitation.trigger == "send_invitation" and invitation.notifications == 1
    with db.transaction() as session:
        assert session.get(Engagement, engagement).state == "invitation_sent"
        log = session.get(TransitionLog, invitation.log_id)
        assert (log.actor, log.actor_role, log.channel) == ("follow-up", "system", "email_link")
        assert log.idempotency_key == follow_up_key(engagement, "send_invitation") and log.at == clock.now()
    assert [transition for _, transition in _invitations(db, engagement)] == [invitation.log_id]
    again = record_decision(db, engagement, "swg11.canada@cochairs.example", "approve", clock=clock)
    assert again.status.value == "not_awaiting" and len(_invitations(db, engagement)) == 1


def test_a_refused_follow_up_leaves_the_decision_standing(awaiting):
    db, presentation, clock = awaiting
    engagement, other = presentation("1.1"), presentation("2.2")
    # The follow-up's key already used on another engagement: the invitation is refused, alone.
    record_refusal(db, other, "approve", "x@state.example", "secretariat", "test", "cli", clock,
                   idempotency_key=follow_up_key(engagement, "send_invitation"))
    result = record_decision(db, engagement, "swg11.incb@cochairs.example", "approve", clock=clock)
    assert result.applied and result.outcome.follow_up is None and "was already used" in result.outcome.follow_up_refused
    assert "the engine will retry it" in result.message
    with db.transaction() as session:
        assert session.get(Engagement, engagement).state == "approved"
    assert _events(db) == [("engage.approval.approved", engagement)] and _invitations(db, engagement) == []


def test_approved_not_invited_is_invited_exactly_once_by_the_net(awaiting):
    db, presentation, clock = awaiting
    left, declined = presentation("1.1"), presentation("3.1")
    # As a decision whose follow-up was lost (data from before, a crash) leaves it: approved, not invited.
    with db.transaction() as session:
        session.execute(update(Engagement).where(Engagement.id == left).values(state="approved"))
    record_decision(db, declined, "swg31.uk@cochairs.example", "decline", clock=clock)
    with ThreadPoolExecutor(2) as pool:  # two relays at once, then a third later
        reports = list(pool.map(lambda _: finish_follow_ups(db, clock), range(2)))
    reports.append(finish_follow_ups(db, clock))
    taken = [item for report in reports for item in report.done]
    assert [(item.engagement_id, item.to_state) for item in taken if not item.replayed] == [(left, "invitation_sent")]
    assert not any(report.refused for report in reports) and reports[-1].done == []
    with db.transaction() as session:
        triggers = session.scalars(select(TransitionLog.trigger).where(TransitionLog.engagement_id == left)).all()
    assert triggers.count("send_invitation") == 1 and len(_invitations(db, left)) == 1
    sweep = run_sweep(db, clock)  # the reminder sweep runs the same net: nothing left to do
    assert sweep.followed_up.done == []


def test_every_state_followed_by_a_step_is_declared():
    assert follow_up_states() == {("swg_presentation", "approved"): "send_invitation"}
