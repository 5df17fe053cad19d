"""Prebuilt statements answer as Core does, on SQLite and PostgreSQL: the same rows, types and errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from models import ActionLink
from models.db import Database
from models.prebuilt import Prebuilt

LINKS = ActionLink.__table__
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
ROW = {"token_hash": "a" * 64, "email": "someone@example.org", "role": "co_chair", "language": "fr",
       "actions": ["approve", "decline"], "purpose": "co_chair_decision", "expires_at": NOW, "created_at": NOW}
INSERT = Prebuilt(insert(LINKS).values({name: bindparam(name) for name in ROW}))  # its shape fixed once


def test_a_prebuilt_statement_answers_as_core_does(db: Database) -> None:
    find = select(LINKS).where(LINKS.c.token_hash.in_(bindparam("hashes", expanding=True)))
    with db.engine.begin() as connection:
        INSERT.run(connection, ROW)
        core = connection.execute(find, {"hashes": ["a" * 64, "b" * 64]}).all()
        rows = Prebuilt(find).all(connection, {"hashes": ["a" * 64, "b" * 64]})
    assert [tuple(row) for row in rows] == [tuple(row) for row in core] and len(rows) == 1
    row = rows[0]
    assert row.actions == ["approve", "decline"] and row.expires_at == NOW and row.expires_at.tzinfo == timezone.utc
    with db.engine.begin() as connection:
        email = Prebuilt(select(LINKS.c.email).where(LINKS.c.id == bindparam("id"))).scalar(connection, {"id": row.id})
    assert email == "someone@example.org"


def test_a_driver_error_is_sqlalchemys(db: Database) -> None:
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        INSERT.run(connection, ROW)
        INSERT.run(connection, ROW)
    with db.engine.connect() as connection:
        assert connection.scalar(select(LINKS.c.id)) is None  # rolled back
