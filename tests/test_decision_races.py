"""32 threads decide one invitation at once, round after round, under the any, all and quorum policies.

Per round: exactly one deciding transition, the policy's outcome for the votes in the order they were
applied, one audit row (and one vote) per applied call, only ``EngageError``s (and only for the co-chair
of another SWG), messages true of the final state, and every duplicate idempotency key replayed.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import bindparam, select

from models import ApprovalVote, CoChair, Engagement, TransitionLog
from models.db import Database
from states.approval import ApprovalOutcome, approval_outcome
from states.approvals import DecisionResult, DecisionStatus
from states.errors import NotAllowedError
from states.words import state_word
from tests.decision_race import OUTSIDER, POLICIES, THREADS, Round, new_round, race, set_policy
from tests.world import clock_at, seeded

ROUNDS = int(os.environ.get("ENGAGE_RACE_ROUNDS", "201"))

# What a round left, read in one transaction by Core statements: the state, the deciding audit rows in
# the order they were applied, and each co-chair's recorded vote.
_ENGAGEMENTS, _LOG = Engagement.__table__, TransitionLog.__table__
_CHAIRS, _VOTES = CoChair.__table__, ApprovalVote.__table__
STATE = select(_ENGAGEMENTS.c.state).where(_ENGAGEMENTS.c.id == bindparam("eid"))
DECISIONS = (select(_LOG.c.trigger, _LOG.c.to_state)
             .where(_LOG.c.engagement_id == bindparam("eid"), _LOG.c.trigger.in_(("approve", "decline")))
             .order_by(_LOG.c.id))
VOTES = (select(_CHAIRS.c.email, _VOTES.c.decision).join(_CHAIRS, _CHAIRS.c.id == _VOTES.c.co_chair_id)
         .where(_VOTES.c.engagement_id == bindparam("eid")))


def check_round(db: Database, round_: Round, quorum: int | None) -> None:
    eid = round_.engagement_id
    with db.engine.begin() as connection:
        state = connection.scalar(STATE, {"eid": eid})
        logs = connection.execute(DECISIONS, {"eid": eid}).all()
        votes = dict(connection.execute(VOTES, {"eid": eid}).all())
    context = f"round on engagement {eid} ({round_.policy}): {list(zip(round_.calls, round_.results))}"
    # Only the outsider is refused, with the right type; everything else is an answer.
    for call, result in zip(round_.calls, round_.results):
        if call.email == OUTSIDER:
            assert isinstance(result, NotAllowedError) and "not of SWG 3.1" in str(result), context
        else:
            assert isinstance(result, DecisionResult), context
    answers = [(c, r) for c, r in zip(round_.calls, round_.results) if isinstance(r, DecisionResult)]
    # Exactly one deciding transition, and the outcome the policy gives for the votes in applied order.
    # An approval is followed by the invitation in its own transaction.
    assert state in ("invitation_sent", "declined"), context
    decided = "approved" if state == "invitation_sent" else state
    assert [log.to_state for log in logs].count(decided) == 1 and logs[-1].to_state == decided, context
    approvals = declines = 0
    for number, log in enumerate(logs, start=1):
        approvals += log.trigger == "approve"
        declines += log.trigger == "decline"
        outcome = approval_outcome(round_.policy, quorum, 3, approvals, declines)
        assert (outcome is ApprovalOutcome.PENDING) == (number < len(logs)), context
    assert outcome.value == decided, context
    # One audit row and one vote per applied call; duplicates of a key get the first outcome, replayed.
    fresh = [r for _, r in answers if r.status is DecisionStatus.APPLIED and not r.outcome.replayed]
    assert len(fresh) == len(logs) == len(votes), context
    by_key: dict[str, list[DecisionResult]] = defaultdict(list)
    for call, result in answers:
        if call.key:
            by_key[call.key].append(result)
    for results in by_key.values():
        statuses = {r.status for r in results}
        assert len(statuses) == 1, context
        if statuses == {DecisionStatus.APPLIED}:
            assert sum(not r.outcome.replayed for r in results) == 1, context
            assert len({r.outcome.log_id for r in results}) == 1, context
    # Messages are true of the final state and of the votes recorded.
    for call, result in answers:
        if result.status is DecisionStatus.NOT_AWAITING:
            assert f"(it is {state_word(state)})" in result.message and call.email not in votes, context
        elif result.status is DecisionStatus.ALREADY_DECIDED:
            assert f"already decided to {votes[call.email]}" in result.message, context
        else:
            assert votes[call.email] == call.decision, context


def test_thirty_two_deciders_round_after_round(postgres_db: Database) -> None:
    world = seeded(postgres_db)
    clock = clock_at(2024, 3, 1)
    rng = random.Random(2024)
    with ThreadPoolExecutor(THREADS) as pool:
        for index in range(ROUNDS):
            policy, quorum = POLICIES[index % len(POLICIES)]
            set_policy(world, policy, quorum)
            check_round(world, race(world, clock, new_round(world, clock, policy, rng), pool), quorum)
