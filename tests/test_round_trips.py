"""What one decision costs in round trips to the database, on SQLite and PostgreSQL, against a fixed budget.

Every statement the engine sends is counted (``before_cursor_execute`` on the real engine), with the
transaction's own round trips: PostgreSQL's ``BEGIN`` (psycopg sends it apart; SQLite's ``BEGIN IMMEDIATE``
is a statement), ``COMMIT``, ``ROLLBACK`` and the liveness ping of a pooled connection, if one is sent
(``models.db.Database`` pings only a connection idle for a while, not one per transaction).
A change that adds a round trip to the decision path fails here, with the statements listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from models.db import Database
from states.approvals import DecisionStatus, record_decision
from tests.world import FRANCE_CHAIR, UNODC_CHAIR, awaiting_approval, clock_at, seeded

# Round trips per decision, by database. SWG 2.2 decides under the "all" policy: the first vote leaves the
# engagement waiting, the second settles it, and the invitation follows in the same transaction. Each step reads
# in one statement (the engagement, locked, with the id its audit row will have and what its mails need) and, on
# PostgreSQL, writes in one (the state change, the vote, the audit row, the outbox rows, their links and the
# events: a data-modifying CTE chain). SQLite has no data-modifying CTEs: each table it writes is a statement of
# its own (in-process calls, no network).
# The settling vote on PostgreSQL: BEGIN; the decision's read (with the partners, the votes so far and the
# Secretariat's address bounced or not) and its write; the invitation's read (with the partners' contacts and
# their bounces) and its write; COMMIT. A second vote of a co-chair: BEGIN, the read (which finds their vote,
# with when and how they cast it), COMMIT.
BUDGET = {
    "vote": {"postgresql": 4, "sqlite": 6},
    "replayed vote": {"postgresql": 3, "sqlite": 3},
    "second vote of a co-chair": {"postgresql": 3, "sqlite": 3},
    "settling vote and its invitation": {"postgresql": 6, "sqlite": 13},
}


@contextmanager
def round_trips(db: Database) -> Iterator[list[str]]:
    """The round trips ``db``'s engine makes in the block, each named by its first words."""
    seen: list[str] = []

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        seen.append(" ".join(sql.split()[:4]))

    def begin(_conn: object) -> None:
        if db.dialect == "postgresql":
            seen.append("BEGIN")

    def checkout(*_: object) -> None:
        if db.engine.pool._pre_ping:  # SQLAlchemy's own ping at every checkout, were it turned on
            seen.append("PING")

    listeners = [("before_cursor_execute", statement), ("begin", begin), ("checkout", checkout),
                 ("commit", lambda _conn: seen.append("COMMIT")), ("rollback", lambda _conn: seen.append("ROLLBACK"))]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    pings = db.pings
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(db.engine, name, listener)
        seen.extend(["PING"] * (db.pings - pings))


def within(db: Database, budget: str, seen: list[str]) -> None:
    limit = BUDGET[budget][db.dialect]
    assert len(seen) <= limit, f"{budget}: {len(seen)} round trips, budget {limit}:\n" + "\n".join(seen)


def test_a_decision_stays_within_its_round_trip_budget(db: Database) -> None:
    world = seeded(db)
    clock = clock_at(2024, 3, 1)
    engagement = awaiting_approval(world, clock, swg="2.2")
    france, unodc = FRANCE_CHAIR["identity"], UNODC_CHAIR["identity"]
    record_decision(world, engagement, france, "approve", clock=clock)  # the pool holds a used connection

    other = awaiting_approval(world, clock, swg="2.2", partner="Meta")
    with round_trips(world) as seen:
        first = record_decision(world, other, france, "approve", channel="email_link", clock=clock,
                                idempotency_key="first")
    assert first.status is DecisionStatus.APPLIED and first.state == "awaiting_approval"
    within(world, "vote", seen)

    with round_trips(world) as seen:
        again = record_decision(world, other, france, "approve", channel="email_link", clock=clock,
                                idempotency_key="first")
    assert again.outcome is not None and again.outcome.replayed
    within(world, "replayed vote", seen)

    with round_trips(world) as seen:
        twice = record_decision(world, other, france, "decline", clock=clock)
    assert twice.status is DecisionStatus.ALREADY_DECIDED
    within(world, "second vote of a co-chair", seen)

    with round_trips(world) as seen:
        settling = record_decision(world, other, unodc, "approve", clock=clock)
    assert settling.state == "approved" and settling.outcome is not None
    assert settling.outcome.follow_up is not None and settling.outcome.final_state == "invitation_sent"
    assert settling.outcome.notifications > 0 and settling.outcome.follow_up.notifications > 0
    within(world, "settling vote and its invitation", seen)

