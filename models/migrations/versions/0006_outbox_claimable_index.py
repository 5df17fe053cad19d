"""outbox: partial index on (next_attempt_at, id) of the claimable rows, so a claim reads them in order

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CLAIMABLE = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index('ix_outbox_claimable', 'outbox', ['next_attempt_at', 'id'], unique=False,
                    postgresql_where=sa.text(CLAIMABLE), sqlite_where=sa.text(CLAIMABLE))


def downgrade() -> None:
    op.drop_index('ix_outbox_claimable', table_name='outbox')
