"""record_decision (domain, no Prefect): the one seam for every channel."""

from __future__ import annotations

import pytest

from states.approvals import DecisionStatus, approval_status, record_decision
from states.errors import NotAllowedError
from states.inputs import InputError
from states.workflow import apply_transition
from tests.world import SYSTEM, clock_at, new_engagement, seeded


@pytest.fixture
def awaiting(db):
    clock = clock_at(2024, 1, 15)
    engagement = new_engagement(seeded(db), "swg_presentation", clock, swg_code="3.1", title="Meta presents at SWG 3.1")
    apply_transition(db, engagement, "request_approval", SYSTEM, clock=clock)
    return db, engagement, clock


def test_quorum_twice_and_late(awaiting):
    db, engagement, clock = awaiting
    first = record_decision(db, engagement, "swg31.nigeria@cochairs.example", "approve", None, "email_link", clock)
    assert first.status is DecisionStatus.APPLIED and first.state == "awaiting_approval"
    again = record_decision(db, engagement, "swg31.nigeria@cochairs.example", "decline", None, "cli", clock)
    assert again.status is DecisionStatus.ALREADY_DECIDED and "via e-mail link" in again.message
    second = record_decision(db, engagement, "Swg31.WHO@cochairs.example", "approve", "ok", "prefect_ui", clock)
    assert second.state == "approved" and second.outcome.follow_up.to_state == "invitation_sent"
    late = record_decision(db, engagement, "swg31.uk@cochairs.example", "decline", None, "cli", clock)
    assert late.status is DecisionStatus.NOT_AWAITING and "(it is invitation sent)" in late.message
    status = approval_status(db, engagement)
    assert status.decided == 2 and "2 of 3" in status.describe_markdown()


def test_refusals(awaiting):
    db, engagement, clock = awaiting
    with pytest.raises(NotAllowedError, match="co-chair of SWG 1.1, not of SWG 3.1"):
        record_decision(db, engagement, "swg11.canada@cochairs.example", "approve", clock=clock)
    with pytest.raises(NotAllowedError, match="not a co-chair"):
        record_decision(db, engagement, "someone@example.org", "approve", clock=clock)
    with pytest.raises(InputError):
        record_decision(db, engagement, "no-at-sign", "approve", clock=clock)
    with pytest.raises(InputError, match="decision: 'maybe' is not one of: approve, decline"):
        record_decision(db, engagement, "swg31.uk@cochairs.example", "maybe", clock=clock)
