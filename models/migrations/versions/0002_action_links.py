"""action links and pending submissions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('action_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=24), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('expires_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('used_action', sa.String(length=40), nullable=True),
    sa.Column('created_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_action_links_engagement_id_engagements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_action_links_token_hash'))
    )
    op.create_index(op.f('ix_action_links_engagement_id'), 'action_links', ['engagement_id'], unique=False)
    op.create_table('pending_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('organization', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('engagement_id', sa.Integer(), nullable=True),
    sa.Column('link_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_pending_submissions_engagement_id_engagements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_submissions')),
    sa.UniqueConstraint('link_hash', name=op.f('uq_pending_submissions_link_hash'))
    )
    op.create_index('ix_pending_submissions_email', 'pending_submissions', ['email'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pending_submissions_email', table_name='pending_submissions')
    op.drop_table('pending_submissions')
    op.drop_index(op.f('ix_action_links_engagement_id'), table_name='action_links')
    op.drop_table('action_links')
