"""Window-closing notices queued by the sweep (domain, SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from models import Contact, Organization, OutboxMessage
from models.enums import OrganizationType
from states.clock import SimulatedClock
from states.sweep import run_sweep
from states.window_notices import deadlines_due, queue_window_notices
from tests.world import seeded


def _notices(db) -> list[tuple[str, str]]:
    with db.transaction() as session:
        return list(session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status)
                                    .where(OutboxMessage.notification_type == "window_closing")
                                    .order_by(OutboxMessage.id)).all())


def _partner_contacts(db) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Contact).join(Organization)
                              .where(Organization.type == OrganizationType.PARTNER))


def test_once_per_partner_and_window_before_each_date(db):
    seeded(db)
    partners = _partner_contacts(db)
    assert partners > 0
    assert queue_window_notices(db, datetime(2024, 4, 1, 9, tzinfo=timezone.utc)) == 0  # a month early: nothing
    early = datetime(2024, 4, 20, 9, tzinfo=timezone.utc)
    assert [(d.kind, d.deadline.isoformat(), d.early) for d in deadlines_due(db, early.date())] == [
        ("recommendation", "2024-04-30", True)]
    assert queue_window_notices(db, early) == partners
    assert queue_window_notices(db, early) == 0  # the sweep runs again the same day
    closing = datetime(2024, 9, 20, 9, tzinfo=timezone.utc)
    report = run_sweep(db, SimulatedClock(closing))  # both windows close on 30 September
    assert report.window_notices == 2 * partners and report.notifications == 2 * partners
    assert run_sweep(db, SimulatedClock(closing.replace(day=29))).window_notices == 0
    keys = [key for key, _status in _notices(db)]
    assert len(keys) == len(set(keys)) == 3 * partners
    assert {key.rsplit(":", 1)[0] for key in keys} == {
        "window:recommendation:2024-04-30", "window:recommendation:2024-09-30", "window:website_submission:2024-09-30"}
    assert queue_window_notices(db, datetime(2024, 10, 1, 9, tzinfo=timezone.utc)) == 0  # closed: nothing more
