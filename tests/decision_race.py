"""Rounds of 32 concurrent co-chair decisions on one invitation, shared by the race test and its benchmark.

In each round every co-chair of SWG 3.1 answers (one decision, one idempotency key, sent ten times over
mixed channels, as a retried flow task or a double-clicked link would), the first co-chair also answers
once more without a key from the CLI, and a co-chair of another SWG tries to vote.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import select, update

from models import SubWorkingGroup
from models.db import Database
from models.enums import Channel
from states.approvals import DecisionResult, record_decision
from states.clock import SimulatedClock
from states.workflow import apply_transition
from tests.world import SYSTEM, new_engagement

THREADS = 32
CHAIRS = ("swg31.nigeria@cochairs.example", "swg31.who@cochairs.example", "swg31.uk@cochairs.example")
OUTSIDER = "swg22.france@cochairs.example"
CHANNELS = (Channel.EMAIL_LINK, Channel.PREFECT_UI, Channel.WEBSITE)
POLICIES = (("any", None), ("all", None), ("quorum", 2))


@dataclass(frozen=True)
class Call:
    email: str
    decision: str
    channel: Channel
    key: str | None


@dataclass
class Round:
    engagement_id: int
    policy: str
    calls: list[Call]
    results: list[DecisionResult | Exception] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def set_policy(db: Database, policy: str, quorum: int | None) -> None:
    """Give SWG 3.1 the approval policy of the coming rounds."""
    with db.transaction() as session:
        session.execute(update(SubWorkingGroup).where(SubWorkingGroup.code == "3.1")
                        .values(approval_policy=policy, quorum=quorum))


def new_round(db: Database, clock: SimulatedClock, policy: str, rng: random.Random) -> Round:
    """An invitation awaiting the SWG 3.1 co-chairs, and the 32 calls that will race on it."""
    eid = new_engagement(db, "swg_presentation", clock, swg_code="3.1", title=f"Race under {policy}")
    apply_transition(db, eid, "request_approval", SYSTEM, clock=clock)
    decisions = {email: rng.choice(("approve", "decline")) for email in CHAIRS}
    calls = [Call(CHAIRS[i % 3], decisions[CHAIRS[i % 3]], CHANNELS[i % 3], f"race:{eid}:{CHAIRS[i % 3]}")
             for i in range(THREADS - 2)]
    calls.append(Call(CHAIRS[0], decisions[CHAIRS[0]], Channel.CLI, None))
    calls.append(Call(OUTSIDER, "approve", Channel.EMAIL_LINK, None))
    rng.shuffle(calls)
    return Round(eid, policy, calls)


def race(db: Database, clock: SimulatedClock, round_: Round, pool: ThreadPoolExecutor) -> Round:
    """Fire the round's calls from 32 threads released at once; keep each result (or error) and its time."""
    barrier = threading.Barrier(len(round_.calls))

    def call(item: Call) -> tuple[DecisionResult | Exception, float]:
        barrier.wait()
        began = time.perf_counter()
        try:
            result: DecisionResult | Exception = record_decision(
                db, round_.engagement_id, item.email, item.decision, None, item.channel, clock,
                idempotency_key=item.key,
            )
        except Exception as error:  # noqa: BLE001 - kept for the caller to judge
            result = error
        return result, time.perf_counter() - began

    answers = list(pool.map(call, round_.calls))
    round_.results = [result for result, _ in answers]
    round_.seconds = [seconds for _, seconds in answers]
    return round_


def policy_of(db: Database) -> str:
    with db.transaction() as session:
        return session.scalar(select(SubWorkingGroup.approval_policy).where(SubWorkingGroup.code == "3.1"))
