"""contacts: index on lower(email), for the case-insensitive lookups of imports and identity checks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_contacts_lower_email', 'contacts', [sa.text('lower(email)')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_contacts_lower_email', table_name='contacts')
