"""32 concurrent decision POSTs on one approval, through a real portal server, on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import httpx
from sqlalchemy import select

from models import ApprovalVote, Engagement, TransitionLog
from models.db import Database
from portal.server import running_portal
from settings import Settings
from states.workflow import apply_transition
from tests.world import SECRETARIAT, clock_at, new_engagement, seeded

from tests.portal.portal_world import BASE_URL, PortalWorld, csrf_of

CHAIRS = {"swg31.nigeria@cochairs.example": "approve", "swg31.who@cochairs.example": "approve",
          "swg31.uk@cochairs.example": "decline"}


def test_32_concurrent_posts_give_exactly_the_policy_outcome(postgres_db: Database, tmp_path: Path) -> None:
    db = seeded(postgres_db)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 48, public_base_url=BASE_URL)
    clock = clock_at(2024, 3, 1)
    engagement = new_engagement(db, "swg_presentation", clock, swg_code="3.1", title="Meta presents at SWG 3.1")
    apply_transition(db, engagement, "request_approval", SECRETARIAT, clock=clock, settings=settings)
    world = PortalWorld(db, settings, clock, client=None)  # type: ignore[arg-type]
    paths = {email: world.link_of(email) for email in CHAIRS}
    jobs = [list(CHAIRS)[i % 3] for i in range(32)]
    barrier = Barrier(len(jobs))

    with running_portal(settings, db, clock) as base:
        def post(email: str) -> int:
            with httpx.Client(base_url=base, timeout=60) as client:
                token = csrf_of(client.get(paths[email]).text)
                barrier.wait(timeout=60)
                return client.post(paths[email], data={"csrf": token, "action": CHAIRS[email]}).status_code

        with ThreadPoolExecutor(len(jobs)) as pool:
            statuses = list(pool.map(post, jobs))

    assert set(statuses) <= {200, 409}, statuses
    assert statuses.count(200) >= sum(1 for email in jobs if CHAIRS[email] == "approve")  # repeats replay
    with db.transaction() as session:
        state = session.get(Engagement, engagement).state
        votes = {v.co_chair_id: v for v in session.scalars(select(ApprovalVote).where(ApprovalVote.engagement_id == engagement))}
        audit = session.scalars(select(TransitionLog).where(TransitionLog.trigger.in_(["approve", "decline"]))).all()
    # quorum 2 of 3: Nigeria and WHO approve, so it is approved whatever the order; the UK's decline counts
    # only if it came before the approval settled it
    assert state == "invitation_sent"  # the approval sent the invitation in its own transaction
    assert len(audit) == len(votes) in (2, 3)
    assert sorted(log.actor for log in audit) == sorted({log.actor for log in audit})  # one row per co-chair
    assert sum(1 for log in audit if log.trigger == "approve") == 2


def test_a_worker_runs_at_most_its_portal_threads_at_once(db: Database, tmp_path: Path) -> None:
    """Pages and decisions run in worker threads, as many at once as ``portal_threads`` (anyio's default is 40)."""
    from anyio import to_thread
    from fastapi.testclient import TestClient

    from portal.app import create_app

    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 48, public_base_url=BASE_URL,
                        portal_threads=3)
    with TestClient(create_app(settings, seeded(db)), base_url=BASE_URL) as client:
        assert client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens) == 3
        assert client.get("/").status_code == 200
