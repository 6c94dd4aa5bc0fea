"""Cases of a procedure (trường hợp), each with its own limit, fee and process; the case a
dossier was received under

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('procedure_case',
    sa.Column('procedure_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=48), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('time_limit', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('time_unit', sa.Enum('working_hours', 'working_days', 'calendar_days', name='timeunit',
                                   native_enum=False, length=32), nullable=False),
    sa.Column('same_day', sa.Boolean(), nullable=False),
    sa.Column('fee', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['procedure_version_id'], ['procedure_version.id'],
                            name=op.f('fk_procedure_case_procedure_version_id_procedure_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procedure_case')),
    sa.UniqueConstraint('procedure_version_id', 'key', name=op.f('uq_procedure_case_procedure_version_id_key'))
    )
    with op.batch_alter_table('procedure_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procedure_case_procedure_version_id'), ['procedure_version_id'],
                              unique=False)
    with op.batch_alter_table('process_step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_key', sa.String(length=48), server_default='', nullable=False))
        batch_op.drop_constraint('uq_process_step_procedure_version_id_position', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_process_step_procedure_version_id_case_key_position'),
                                          ['procedure_version_id', 'case_key', 'position'])
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_key', sa.String(length=48), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_column('case_key')
    with op.batch_alter_table('process_step', schema=None) as batch_op:
        batch_op.drop_constraint('uq_process_step_procedure_version_id_case_key_position', type_='unique')
        batch_op.create_unique_constraint('uq_process_step_procedure_version_id_position',
                                          ['procedure_version_id', 'position'])
        batch_op.drop_column('case_key')
    with op.batch_alter_table('procedure_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procedure_case_procedure_version_id'))
    op.drop_table('procedure_case')
