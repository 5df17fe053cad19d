"""The public doors' hour budget of confirmation mails: all addresses together, whichever door."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models import ActionLink, OutboxMessage, PendingSubmission
from models.db import Database
from portal.app import create_app
from settings import Settings
from states import intake
from tests.portal.portal_world import BASE_URL, csrf_of
from tests.world import clock_at, seeded

RECOMMENDATION = {"topic": "information_sharing", "text": "A shared alert list"}


def _rows(db: Database) -> tuple[int, int, int]:
    with db.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(table))  # type: ignore[return-value]
                     for table in (PendingSubmission, OutboxMessage, ActionLink))


def _send(db: Database, settings: Settings, clock, n: int) -> intake.Received:
    return intake.receive(db, "recommendation", {"organization": f"Org {n}", "title": f"Alerts number {n}",
                                                 "email": f"sender{n}@org{n}.example"},
                          RECOMMENDATION, language="fr", settings=settings, clock=clock)


def test_past_the_hours_budget_every_address_is_refused_and_nothing_written(db: Database, tmp_path: Path) -> None:
    seeded(db)
    clock = clock_at(2024, 5, 1)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="test-key-" + "x" * 40,
                        public_confirmations_per_hour=3)
    for n in range(3):
        assert _send(db, settings, clock, n).queued
        clock.advance(timedelta(minutes=10))
    before = _rows(db)
    with pytest.raises(intake.BusyError) as refused:
        _send(db, settings, clock, 3)  # a fourth address, 30 minutes after the first
    assert "unusually many submissions" in str(refused.value)
    assert refused.value.phrase is not None and "soumissions" in str(refused.value.phrase.html("fr"))
    assert _rows(db) == before
    clock.advance(timedelta(minutes=31))  # the first confirmation is now over an hour old: one more fits
    assert _send(db, settings, clock, 4).queued
    with pytest.raises(intake.BusyError):
        _send(db, settings, clock, 5)


def test_the_form_says_so_with_503_and_retry_after(db: Database, tmp_path: Path) -> None:
    seeded(db)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="test-key-" + "x" * 40,
                        public_base_url=BASE_URL, public_confirmations_per_hour=1)
    with TestClient(create_app(settings, db, clock_at(2024, 4, 10)), base_url=BASE_URL) as client:
        for n, expected in ((0, 200), (1, 503)):
            page = client.get("/submit/recommendation?lang=fr")
            sent = client.post("/submit/recommendation?lang=fr", data={
                "organization": f"Org {n}", "email": f"sender{n}@org{n}.example", "title": f"Alertes {n}",
                "csrf": csrf_of(page.text), **RECOMMENDATION})
            assert sent.status_code == expected, sent.text
    assert sent.headers["Retry-After"] == "3600"
    assert "soumissions" in sent.text and 'value="Alertes 1"' in sent.text  # said in French, the values kept
