"""Processed (status 9) apart from returned (status 10): how the result was returned, and
the monthly indexes on the processed time, which the figures now read

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_via', sa.Enum('desk', 'postal', 'online', name='resultdelivery',
                                                              native_enum=False, length=16), nullable=True))
        batch_op.drop_index('ix_dossier_department_returned')
        batch_op.drop_index('ix_dossier_agency_returned')
        batch_op.create_index('ix_dossier_department_processed', ['department_id', 'processed_at'], unique=False)
        batch_op.create_index('ix_dossier_agency_processed', ['agency_id', 'processed_at'], unique=False)
    # Until now the last step set both moments at once: those dossiers were returned at the desk.
    op.execute("UPDATE dossier SET returned_via = 'desk' WHERE returned_at IS NOT NULL")
    op.execute("UPDATE dossier SET processed_at = returned_at WHERE processed_at IS NULL AND returned_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_agency_processed')
        batch_op.drop_index('ix_dossier_department_processed')
        batch_op.create_index('ix_dossier_agency_returned', ['agency_id', 'returned_at'], unique=False)
        batch_op.create_index('ix_dossier_department_returned', ['department_id', 'returned_at'], unique=False)
        batch_op.drop_column('returned_via')
