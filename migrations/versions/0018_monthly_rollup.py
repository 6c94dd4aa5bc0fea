"""The monthly rollup: per department and ended reporting month, the counts behind the
compliance figures (issue 12)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 00:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

COUNTS = (
    'received', 'received_direct', 'received_online', 'received_postal', 'refused',
    'carried_over', 'resolved', 'early', 'on_time', 'late', 'late_with_apology',
    'in_progress_within', 'in_progress_overdue', 'paused_supplement', 'paused_payment',
    'paused_other', 'withdrawn', 'stopped', 'apologies', 'ratings', 'satisfied',
    'steps_completed', 'steps_early', 'steps_on_time', 'steps_late', 'steps_overdue_open',
    'nc_opened', 'nc_closed', 'nc_rejected',
)


def upgrade():
    op.create_table(
        'rollup_month',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('basis', sa.String(length=40), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rollup_month')),
        sa.UniqueConstraint('month', 'basis', name=op.f('uq_rollup_month_month_basis')),
    )
    op.create_table(
        'monthly_rollup',
        sa.Column('rollup_month_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.ForeignKeyConstraint(['rollup_month_id'], ['rollup_month.id'], ondelete='CASCADE',
                                name=op.f('fk_monthly_rollup_rollup_month_id_rollup_month')),
        sa.ForeignKeyConstraint(['department_id'], ['department.id'],
                                name=op.f('fk_monthly_rollup_department_id_department')),
        sa.PrimaryKeyConstraint('rollup_month_id', 'department_id', name=op.f('pk_monthly_rollup')),
    )
    with op.batch_alter_table('monthly_rollup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_rollup_department_id'), ['department_id'], unique=False)


def downgrade():
    with op.batch_alter_table('monthly_rollup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monthly_rollup_department_id'))
    op.drop_table('monthly_rollup')
    op.drop_table('rollup_month')
