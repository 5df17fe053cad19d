"""What the outbox rows of a transition tell their readers: policy, votes, partner, the day to answer by, the meeting."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import OutboxMessage
from models.db import Database
from notifications.templates import render_message
from states.approvals import record_decision
from states.workflow import apply_transition
from tests.world import SYSTEM, clock_at, new_engagement, seeded


def _rows(db: Database, notification_type: str) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.notification_type == notification_type,
                                                                OutboxMessage.channel == "email")
                                    .order_by(OutboxMessage.id)))


def test_co_chairs_see_the_policy_the_votes_the_partner_the_meeting_and_the_day_to_answer_by(db: Database) -> None:
    seeded(db)
    clock = clock_at(2024, 2, 1)
    engagement = new_engagement(db, "swg_presentation", clock, swg_code="3.1", meeting_id=4,
                                participants=[{"organization": "Atlantique Maritime", "role": "presenter"}])
    apply_transition(db, engagement, "request_approval", SYSTEM, clock=clock)
    asked = _rows(db, "approval_request")[0].context
    assert (asked["approval_policy"], asked["quorum"], asked["partner"]) == ("quorum", 2, "Atlantique Maritime")
    assert asked["votes"] == [] and asked["meeting_date"] == "2024-04-16" and asked["meeting_location"] == "Virtual"
    assert asked["deadline"] == "2024-02-15"  # one reminder after 7 days, then the Secretariat is told
    record_decision(db, engagement, "swg31.nigeria@cochairs.example", "approve", "Useful for ports", clock=clock)
    clock.advance(timedelta(days=7))
    apply_transition(db, engagement, "remind", SYSTEM, clock=clock)
    reminded = [row.context for row in _rows(db, "reminder")]
    assert all(row["deadline"] == "2024-02-15" for row in reminded)  # the same day as the request said
    assert reminded[0]["votes"] == [{"name": reminded[0]["votes"][0]["name"], "decision": "approve",
                                     "comment": "Useful for ports"}]
    text = " ".join(render_message("approval_request", "en", asked | {"votes": reminded[0]["votes"]}).text.split())
    for said in ("Partner: Atlantique Maritime.", "Approval policy: 2 co-chairs must approve.",
                 "approved: \"Useful for ports\"", "16 April 2024", "by 15 February 2024"):
        assert said in text, said
    record_decision(db, engagement, "swg31.who@cochairs.example", "approve", clock=clock)
    decided = [row for row in _rows(db, "decision") if row.context["trigger"] == "approve"][0]
    assert decided.recipient_address == "syntheticscoalition@state.example"
    text = " ".join(render_message("decision", "en", decided.context).text.split())
    assert decided.context["actor"] == "swg31.who@cochairs.example" and "swg31.who@cochairs.example" in text
    assert "approved" in text and "(Atlantique Maritime)" in text and "Useful for ports" in text


def test_the_secretariat_hears_of_a_submission_and_of_a_partners_answer(db: Database) -> None:
    seeded(db)
    clock = clock_at(2024, 2, 1)
    recommendation = new_engagement(db, "recommendation", clock)
    apply_transition(db, recommendation, "submit", SYSTEM, clock=clock)
    received = _rows(db, "decision")[-1]
    assert (received.recipient_address, received.context["partner"]) == ("syntheticscoalition@state.example",
                                                                         "Química Andina S.A.")
    assert render_message("decision", "en", received.context).subject == "Received: Share precursor alerts"
