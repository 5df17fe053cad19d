"""outbox channels: pauses and outages per delivery channel

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_channels',
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('paused_until', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('outage_since', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_outbox_channels'))
    )


def downgrade() -> None:
    op.drop_table('outbox_channels')
