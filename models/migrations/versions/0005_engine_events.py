"""engine events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('engine_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('transition_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('emitted_at', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_engine_events_engagement_id_engagements')),
    sa.ForeignKeyConstraint(['transition_id'], ['transition_log.id'], name=op.f('fk_engine_events_transition_id_transition_log')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engine_events'))
    )
    with op.batch_alter_table('engine_events', schema=None) as batch_op:
        batch_op.create_index('ix_engine_events_emitted_at_id', ['emitted_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_engine_events_engagement_id'), ['engagement_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('engine_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_engine_events_engagement_id'))
        batch_op.drop_index('ix_engine_events_emitted_at_id')
    op.drop_table('engine_events')
