"""Hostile text through the real seams: refused naming the field with nothing written, or stored on SQLite and
PostgreSQL and delivered by a real SMTP server (no accepted value can dead-letter a mail)."""

from __future__ import annotations

import itertools
import mailbox
from collections.abc import Callable
from email.header import decode_header, make_header
from email.utils import getaddresses
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import func, select

from models import DialogueReport, Engagement, TransitionLog
from models.base import Base
from models.db import Database
from notifications.dispatcher import dispatch_pending
from settings import Settings
from states.directory import upsert_contact
from states.inputs import ContactInput, InputError, parse
from states.workflow import apply_transition, create_engagement
from tests.hostile import hostile_text
from tests.world import ENGAGEMENTS, MEXICO, REPORT, SECRETARIAT, clock_at, seeded

EXAMPLE = itertools.count()
T = TypeVar("T")


@pytest.fixture
def world(db: Database) -> Database:
    return seeded(db)


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {table.name: connection.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables}


def hostile_or_fallback(db: Database, field: str, call: Callable[[Any], T], hostile: Any, fallback: Any) -> tuple[T, Any]:  # noqa: ANN401
    """``call(hostile)``; if refused, the refusal names ``field`` and wrote nothing, and ``call(fallback)`` runs."""
    before = row_counts(db)
    try:
        return call(hostile), hostile
    except InputError as error:
        assert field in str(error), str(error)
        assert row_counts(db) == before
        return call(fallback), fallback


def words(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(title=hostile_text, name=hostile_text, comment=hostile_text, narrative=hostile_text, area=hostile_text)
def test_accepted_text_is_stored_and_delivered(world: Database, sink: int, maildir: Path, title: str, name: str,
                                               comment: str, narrative: str, area: str) -> None:
    number = next(EXAMPLE)
    clock = clock_at(2024, 3, 1)  # after the report's held_on
    address = f"person{number}@gob-mx.example"

    def add_contact(value: str) -> ContactInput:
        contact = parse(ContactInput, {"organization": "Government of Mexico", "name": value, "email": address})
        with world.transaction() as session:
            upsert_contact(session, contact)
        return contact

    contact, _ = hostile_or_fallback(world, "name", add_contact, name, "Ana")
    dialogue = dict(ENGAGEMENTS["national_dialogue"], participants=[  # its mails reach the contact named
        {"organization": "Government of Mexico", "role": "organizer", "contact_email": address},
        {"organization": "Química Andina S.A.", "role": "partner"}])
    eid, _ = hostile_or_fallback(world, "title", lambda value: create_engagement(
        world, {"kind": "national_dialogue", **dialogue, "title": value}, SECRETARIAT, clock=clock), title, "Dialogue")
    apply_transition(world, eid, "convene", MEXICO, clock=clock)
    hostile_or_fallback(world, "comment", lambda value: apply_transition(
        world, eid, "hold", MEXICO, comment=value, clock=clock), comment, None)
    report = dict(REPORT, narrative=narrative, areas_of_discussion=[area])
    hostile_or_fallback(world, "data.", lambda value: apply_transition(
        world, eid, "submit_report", MEXICO, data=value, clock=clock), report, REPORT)

    with world.sessions() as session:
        stored = session.get(Engagement, eid)
        stored_report = session.get(DialogueReport, eid)
        held = session.scalar(select(TransitionLog).where(TransitionLog.engagement_id == eid,
                                                          TransitionLog.trigger == "hold"))
        assert stored is not None and stored_report is not None and held is not None
        assert stored.title.strip() == stored.title and "\x00" not in (stored_report.narrative or "")
        assert held.comment is None or "\r" not in held.comment
    delivery = dispatch_pending(world, clock=clock, settings=Settings(smtp_port=sink, smtp_timeout_seconds=5))
    assert delivery.dead == 0 and delivery.sent == delivery.claimed, delivery
    mine = [message for message in mailbox.Maildir(maildir, create=False)
            if address in [found for _, found in getaddresses([str(make_header(decode_header(message["To"])))])]]
    assert len(mine) == 1
    assert words(stored.title) in words(str(make_header(decode_header(mine[0]["Subject"]))))
    assert contact.name
