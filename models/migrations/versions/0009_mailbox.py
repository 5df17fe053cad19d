"""mailbox: inbound messages filed once, and addresses mail no longer reaches

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_messages',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('folder', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('received_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_inbound_messages_engagement_id_engagements')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_inbound_messages'))
    )
    op.create_index(op.f('ix_inbound_messages_engagement_id'), 'inbound_messages', ['engagement_id'], unique=False)
    op.create_index(op.f('ix_inbound_messages_outcome'), 'inbound_messages', ['outcome'], unique=False)
    op.create_table('undeliverable_addresses',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('since', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('message_key', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_undeliverable_addresses'))
    )


def downgrade() -> None:
    op.drop_table('undeliverable_addresses')
    op.drop_index(op.f('ix_inbound_messages_outcome'), table_name='inbound_messages')
    op.drop_index(op.f('ix_inbound_messages_engagement_id'), table_name='inbound_messages')
    op.drop_table('inbound_messages')
