"""Concurrent writers on PostgreSQL: exactly one wins, the others get a clear conflict and write nothing."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from models import Engagement, OutboxMessage, TransitionLog
from models.db import Database
from states.errors import ConflictError
from states.workflow import apply_transition
from tests.world import SECRETARIAT, clock_at, new_engagement, seeded

THREADS = 16


def test_sixteen_conflicting_writers_one_winner(postgres_db: Database) -> None:
    world = seeded(postgres_db)
    clock = clock_at(2024, 2, 1)
    eid = new_engagement(world, "swg_presentation", clock)
    with world.sessions() as session:
        version = session.get(Engagement, eid).version
        logs_before = session.scalar(select(func.count()).select_from(TransitionLog))
    # Half request approval, half withdraw: conflicting decisions on the same version.
    choices = [("request_approval", None) if i % 2 else ("withdraw", "duplicate proposal") for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS

    def writer(index: int) -> None:
        trigger, comment = choices[index]
        barrier.wait()
        try:
            results[index] = apply_transition(world, eid, trigger, SECRETARIAT, comment=comment,
                                              expected_version=version, clock=clock)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            results[index] = error

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert len(losers) == THREADS - 1
    assert all(isinstance(error, ConflictError) and "nothing was written" in str(error) for error in losers), losers
    with world.sessions() as session:
        row = session.get(Engagement, eid)
        assert (row.state, row.version) == (winners[0].to_state, version + 1)
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == logs_before + 1
        expected_notices = 2 if winners[0].trigger == "request_approval" else 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == expected_notices
