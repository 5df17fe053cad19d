"""meeting hours: a meeting's start and end times in its time zone; public submissions indexed by arrival

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('meetings') as batch_op:
        batch_op.add_column(sa.Column('start_time', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('end_time', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    with op.batch_alter_table('pending_submissions') as batch_op:
        batch_op.create_index('ix_pending_submissions_received_at', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_submissions') as batch_op:
        batch_op.drop_index('ix_pending_submissions_received_at')
    with op.batch_alter_table('meetings') as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('end_time')
        batch_op.drop_column('start_time')
