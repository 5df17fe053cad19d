"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('industry', sa.String(length=32), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations')),
    sa.UniqueConstraint('name', name=op.f('uq_organizations_name'))
    )
    op.create_table('submission_windows',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('early_deadline', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_submission_windows'))
    )
    op.create_table('working_groups',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('focus', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_working_groups'))
    )
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('opt_outs', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_contacts_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('email', name=op.f('uq_contacts_email'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_organization_id'), ['organization_id'], unique=False)

    op.create_table('sub_working_groups',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('working_group_code', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('approval_policy', sa.String(length=8), nullable=False),
    sa.Column('quorum', sa.Integer(), nullable=True),
    sa.CheckConstraint("approval_policy <> 'quorum' OR quorum >= 1", name=op.f('ck_sub_working_groups_quorum_set')),
    sa.ForeignKeyConstraint(['working_group_code'], ['working_groups.code'], name=op.f('fk_sub_working_groups_working_group_code_working_groups')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_sub_working_groups'))
    )
    op.create_table('co_chairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('swg_code', sa.String(length=8), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_co_chairs_organization_id_organizations')),
    sa.ForeignKeyConstraint(['swg_code'], ['sub_working_groups.code'], name=op.f('fk_co_chairs_swg_code_sub_working_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_co_chairs')),
    sa.UniqueConstraint('swg_code', 'email', name=op.f('uq_co_chairs_swg_code'))
    )
    with op.batch_alter_table('co_chairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_co_chairs_swg_code'), ['swg_code'], unique=False)

    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('swg_code', sa.String(length=8), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['swg_code'], ['sub_working_groups.code'], name=op.f('fk_meetings_swg_code_sub_working_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    op.create_table('engagements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('swg_code', sa.String(length=8), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('waiting_since', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('next_due_at', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_engagements_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['swg_code'], ['sub_working_groups.code'], name=op.f('fk_engagements_swg_code_sub_working_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engagements'))
    )
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.create_index('ix_engagements_kind_state', ['kind', 'state'], unique=False)
        batch_op.create_index('ix_engagements_next_due_at', ['next_due_at'], unique=False)

    op.create_table('approval_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('co_chair_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('decided_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['co_chair_id'], ['co_chairs.id'], name=op.f('fk_approval_votes_co_chair_id_co_chairs')),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_approval_votes_engagement_id_engagements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_votes')),
    sa.UniqueConstraint('engagement_id', 'co_chair_id', name=op.f('uq_approval_votes_engagement_id'))
    )
    with op.batch_alter_table('approval_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_votes_engagement_id'), ['engagement_id'], unique=False)

    op.create_table('dialogue_reports',
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('organizing_agency', sa.String(length=200), nullable=False),
    sa.Column('public_partners', sa.Integer(), nullable=False),
    sa.Column('private_partners', sa.Integer(), nullable=False),
    sa.Column('narrative', sa.Text(), nullable=True),
    sa.Column('areas_of_discussion', sa.JSON(), nullable=False),
    sa.Column('recommendations', sa.Text(), nullable=True),
    sa.Column('submitted_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_dialogue_reports_engagement_id_engagements')),
    sa.PrimaryKeyConstraint('engagement_id', name=op.f('pk_dialogue_reports'))
    )
    op.create_table('participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_participants_contact_id_contacts')),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_participants_engagement_id_engagements')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_participants_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('engagement_id', 'organization_id', 'role', name=op.f('uq_participants_engagement_id'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_engagement_id'), ['engagement_id'], unique=False)

    op.create_table('transition_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=40), nullable=False),
    sa.Column('to_state', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('actor_role', sa.String(length=24), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_transition_log_engagement_id_engagements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transition_log')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_transition_log_idempotency_key'))
    )
    with op.batch_alter_table('transition_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transition_log_engagement_id'), ['engagement_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=True),
    sa.Column('transition_id', sa.Integer(), nullable=True),
    sa.Column('notification_type', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('recipient_address', sa.String(length=500), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('mandatory', sa.Boolean(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagements.id'], name=op.f('fk_outbox_engagement_id_engagements')),
    sa.ForeignKeyConstraint(['transition_id'], ['transition_log.id'], name=op.f('fk_outbox_transition_id_transition_log')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_engagement_id'), ['engagement_id'], unique=False)
        batch_op.create_index('ix_outbox_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_outbox_engagement_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('transition_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transition_log_engagement_id'))

    op.drop_table('transition_log')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_engagement_id'))

    op.drop_table('participants')
    op.drop_table('dialogue_reports')
    with op.batch_alter_table('approval_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_votes_engagement_id'))

    op.drop_table('approval_votes')
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_index('ix_engagements_next_due_at')
        batch_op.drop_index('ix_engagements_kind_state')

    op.drop_table('engagements')
    op.drop_table('meetings')
    with op.batch_alter_table('co_chairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_co_chairs_swg_code'))

    op.drop_table('co_chairs')
    op.drop_table('sub_working_groups')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_organization_id'))

    op.drop_table('contacts')
    op.drop_table('working_groups')
    op.drop_table('submission_windows')
    op.drop_table('organizations')
