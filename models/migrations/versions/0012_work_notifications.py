"""work notifications: on PostgreSQL, a commit that queues mail or engine events wakes the waiting workers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION engage_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('engage_work', TG_TABLE_NAME);
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite serves one machine: its workers poll
    op.execute(FUNCTION)
    for table in ("outbox", "engine_events"):
        op.execute(f"CREATE TRIGGER {table}_notify_work AFTER INSERT ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION engage_notify_work()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("outbox", "engine_events"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_work ON {table}")
    op.execute("DROP FUNCTION IF EXISTS engage_notify_work()")
