"""swg titles: each Sub-Working Group's title in Spanish and French, and the Secretariat's signature by language

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
    op.create_table('secretariat_signatures',
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('language', name=op.f('pk_secretariat_signatures'))
    )


def downgrade() -> None:
    op.drop_table('secretariat_signatures')
    with op.batch_alter_table('sub_working_groups') as batch_op:
        batch_op.drop_column('title_fr')
        batch_op.drop_column('title_es')
