"""intake identity: designated participant contacts, identity claims, quarantined uploads, address opt-outs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX (SQLite has both): batch mode would reflect the tables, and SQLAlchemy
    # warns on every fresh database that it cannot reflect the contacts' expression index.
    op.add_column('participants', sa.Column('all_contacts', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Participants added before designation reached every contact of their organization: from now on
    # they reach its primary contact (the first one on file), as new participants do.
    op.execute(
        "UPDATE participants SET contact_id = (SELECT MIN(contacts.id) FROM contacts "
        "WHERE contacts.organization_id = participants.organization_id) WHERE contact_id IS NULL"
    )
    op.add_column('pending_submissions', sa.Column('claim', sa.String(length=16), nullable=True))
    op.add_column('pending_submissions', sa.Column('upload_name', sa.String(length=80), nullable=True))
    op.create_index('ix_pending_submissions_upload_name', 'pending_submissions', ['upload_name'], unique=False)
    op.create_table(
        'address_opt_outs',
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('notification_type', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('email', 'notification_type'),
    )


def downgrade() -> None:
    op.drop_table('address_opt_outs')
    with op.batch_alter_table('pending_submissions') as batch:
        batch.drop_index('ix_pending_submissions_upload_name')
        batch.drop_column('upload_name')
        batch.drop_column('claim')
    with op.batch_alter_table('participants') as batch:
        batch.drop_column('all_contacts')
