"""Two staff accepting one identity claim at once: one contact, one partner, one audit row, one clear refusal."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from models import Contact, Participant, PendingSubmission, TransitionLog
from models.db import Database
from settings import Settings
from states import intake
from states.errors import EngageError, NotAllowedError
from tests.world import clock_at, seeded

STRANGER = "mallory@snap-lookalike.example"


def test_one_claim_accepted_by_eight_staff_at_once_is_accepted_once(db: Database, tmp_path: Path) -> None:
    seeded(db)
    clock = clock_at(2024, 5, 1)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="test-key-" + "x" * 40)
    intake.receive(db, "recommendation", {"organization": "snap inc.", "title": "Teen safety alerts", "email": STRANGER},
                   {"topic": "information_sharing", "text": "Alerts"}, language="en", settings=settings, clock=clock)
    with db.transaction() as session:
        pending = session.scalars(select(PendingSubmission.id)).one()
    engagement = intake.confirm(db, pending, settings=settings, clock=clock).engagement_id
    assert [claim.engagement_id for claim in intake.claims(db)] == [engagement]

    start, outcomes = threading.Barrier(8), []

    def accept(n: int) -> None:
        start.wait()
        try:
            outcomes.append(intake.accept_claim(db, engagement, f"staff{n}@coalition.example", clock=clock))
        except EngageError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    assert len(accepted) == 1 and "is now a contact of Snap Inc." in accepted[0]
    assert len(refused) == 7 and all(isinstance(error, NotAllowedError) for error in refused)
    assert all("was already accepted" in str(error) for error in refused)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Participant)
                              .where(Participant.engagement_id == engagement)) == 1
        assert session.scalar(select(func.count()).select_from(Contact).where(Contact.email == STRANGER)) == 1
        assert session.scalar(select(func.count()).select_from(TransitionLog)
                              .where(TransitionLog.trigger == "accept_claim")) == 1
