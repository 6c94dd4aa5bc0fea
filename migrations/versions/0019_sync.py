"""Dossiers taken in from another one-stop system: sync sources, their mappings, the held
queue, each synced dossier's handling history, and the dossier's source columns (issue 13)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 02:02:32.280923

"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_source',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['user_account.id'], name=op.f('fk_sync_source_account_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_source')),
    sa.UniqueConstraint('account_id', name=op.f('uq_sync_source_account_id')),
    sa.UniqueConstraint('code', name=op.f('uq_sync_source_code'))
    )
    op.create_table('sync_mapping',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('agency', 'procedure', 'department', 'status', name='mappingkind', native_enum=False, length=16), nullable=False),
    sa.Column('external', sa.String(length=255), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('procedure_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('registered', 'received', 'not_accepted', 'processing', 'supplement_requested', 'awaiting_payment', 'withdrawn', 'stopped', 'processed', 'returned', name='dossierstatus', native_enum=False, length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_sync_mapping_agency_id_agency')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_sync_mapping_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_sync_mapping_department_id_department')),
    sa.ForeignKeyConstraint(['procedure_id'], ['procedure.id'], name=op.f('fk_sync_mapping_procedure_id_procedure')),
    sa.ForeignKeyConstraint(['source_id'], ['sync_source.id'], name=op.f('fk_sync_mapping_source_id_sync_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_mapping')),
    sa.UniqueConstraint('source_id', 'kind', 'external', name=op.f('uq_sync_mapping_source_id_kind_external'))
    )
    with op.batch_alter_table('sync_mapping', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_mapping_source_id'), ['source_id'], unique=False)

    op.create_table('dossier_history',
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('person', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('due_by_rule', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_dossier_history_dossier_id_dossier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_history')),
    sa.UniqueConstraint('dossier_id', 'digest', name=op.f('uq_dossier_history_dossier_id_digest'))
    )
    with op.batch_alter_table('dossier_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_history_dossier_id'), ['dossier_id'], unique=False)

    op.create_table('held_dossier',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Enum('unknown_procedure', 'unknown_agency', 'unknown_status', 'unknown_department', 'no_process', 'code_taken', name='holdreason', native_enum=False, length=32), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('dossier_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_held_dossier_dossier_id_dossier')),
    sa.ForeignKeyConstraint(['released_by_id'], ['user_account.id'], name=op.f('fk_held_dossier_released_by_id_user_account')),
    sa.ForeignKeyConstraint(['source_id'], ['sync_source.id'], name=op.f('fk_held_dossier_source_id_sync_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_dossier')),
    sa.UniqueConstraint('source_id', 'code', name=op.f('uq_held_dossier_source_id_code'))
    )
    with op.batch_alter_table('held_dossier', schema=None) as batch_op:
        batch_op.create_index('ix_held_dossier_open', ['released_at', 'reason'], unique=False)
        batch_op.create_index(batch_op.f('ix_held_dossier_source_id'), ['source_id'], unique=False)

    op.create_table('register_import',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('storage_name', sa.String(length=128), nullable=False),
    sa.Column('mapping', sa.Text(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('running', 'done', 'failed', name='importstatus', native_enum=False, length=16), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('progressed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sync_source.id'], name=op.f('fk_register_import_source_id_sync_source')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_register_import_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_register_import')),
    sa.UniqueConstraint('storage_name', name=op.f('uq_register_import_storage_name'))
    )
    with op.batch_alter_table('register_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_register_import_source_id'), ['source_id'], unique=False)

    op.create_table('push_endpoint',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('first_event_id', sa.Integer(), nullable=False),
    sa.Column('enqueued_through', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_endpoint'))
    )
    op.create_table('outbox_event',
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_outbox_event_dossier_id_dossier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_event'))
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_event_dossier_id'), ['dossier_id'], unique=False)

    op.create_table('outbox_delivery',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossier.id'], name=op.f('fk_outbox_delivery_dossier_id_dossier')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['push_endpoint.id'], name=op.f('fk_outbox_delivery_endpoint_id_push_endpoint')),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_event.id'], name=op.f('fk_outbox_delivery_event_id_outbox_event')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_delivery')),
    sa.UniqueConstraint('event_id', 'endpoint_id', name=op.f('uq_outbox_delivery_event_id_endpoint_id'))
    )
    with op.batch_alter_table('outbox_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_delivery_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index('ix_outbox_delivery_pending', ['endpoint_id', 'delivered_at', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('source_state_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('source_digest', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('before_version', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_dossier_source_id_source_code'), ['source_id', 'source_code'])
        batch_op.create_foreign_key(batch_op.f('fk_dossier_source_id_sync_source'), 'sync_source', ['source_id'], ['id'])


def downgrade():
    with op.batch_alter_table('outbox_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_delivery_pending')
        batch_op.drop_index(batch_op.f('ix_outbox_delivery_dossier_id'))

    op.drop_table('outbox_delivery')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_event_dossier_id'))

    op.drop_table('outbox_event')
    op.drop_table('push_endpoint')

    with op.batch_alter_table('register_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_import_source_id'))

    op.drop_table('register_import')

    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dossier_source_id_sync_source'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_dossier_source_id_source_code'), type_='unique')
        batch_op.drop_column('before_version')
        batch_op.drop_column('source_digest')
        batch_op.drop_column('source_state_at')
        batch_op.drop_column('source_due_at')
        batch_op.drop_column('source_code')
        batch_op.drop_column('source_id')

    with op.batch_alter_table('held_dossier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_dossier_source_id'))
        batch_op.drop_index('ix_held_dossier_open')

    op.drop_table('held_dossier')
    with op.batch_alter_table('dossier_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_history_dossier_id'))

    op.drop_table('dossier_history')
    with op.batch_alter_table('sync_mapping', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_mapping_source_id'))

    op.drop_table('sync_mapping')
    op.drop_table('sync_source')
