"""Pauses a procedure allows beyond supplementation and payment (survey, verification,
public posting, consultation), and what a dossier's pause was for

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:25:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('procedure_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pauses', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pause_kind', sa.Enum(
            'cadastral_survey', 'verification', 'public_posting', 'consultation', name='pausekind',
            native_enum=False, length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.drop_column('pause_kind')
    with op.batch_alter_table('procedure_version', schema=None) as batch_op:
        batch_op.drop_column('pauses')
