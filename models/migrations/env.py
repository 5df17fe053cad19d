"""Alembic environment: runs migrations against the URL the engine gives it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from models import Base  # from the package: every mapped class registered on Base.metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
engine.dispose()
