"""An apology issued after its latest time is marked late

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.drop_column('late')
