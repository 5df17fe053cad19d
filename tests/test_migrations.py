"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from models.base import Base
from models.db import Database


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) >= set(Base.metadata.tables)


def test_next_due_column_is_indexed_for_the_sweep(db: Database) -> None:
    indexes = {index["name"]: index["column_names"] for index in inspect(db.engine).get_indexes("engagements")}
    assert indexes["ix_engagements_next_due_at"] == ["next_due_at"]
