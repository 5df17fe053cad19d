"""swg titles: each Sub-Working Group's title in Spanish and French

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sub_working_groups') as batch_op:
        batch_op.add_column(sa.Column('title_es', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('title_fr', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sub_working_groups') as batch_op:
        batch_op.drop_column('title_fr')
        batch_op.drop_column('title_es')
