"""Dossiers received at one agency's one-stop office and processed by another's

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('processing_agency_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dossier_processing_agency_id'), ['processing_agency_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_dossier_processing_agency_id_agency'), 'agency',
                                    ['processing_agency_id'], ['id'])


def downgrade():
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dossier_processing_agency_id_agency'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_dossier_processing_agency_id'))
        batch_op.drop_column('processing_agency_id')
