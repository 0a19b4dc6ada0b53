"""foundation: tenants, connections, wallet, tokens, bindings, audit

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from byok.migrations.triggers import (
    IMMUTABLE_TABLES,
    create_immutable_trigger,
    drop_immutable_trigger,
)

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auditevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('event_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'event_key'),
    sa.UniqueConstraint('tenant_id', 'seq')
    )
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditevent_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('tenant',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('webhook_url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_name'), ['name'], unique=True)

    op.create_table('awsconnection',
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'account_id')
    )
    with op.batch_alter_table('awsconnection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awsconnection_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('enabletoken',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('callback_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('voided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('enabletoken', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enabletoken_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enabletoken_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('keybinding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('role_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('key_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('primary_region', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('multi_region', sa.Boolean(), nullable=False),
    sa.Column('replica_key_arns', sa.JSON(), nullable=True),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('enabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'generation')
    )
    with op.batch_alter_table('keybinding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_keybinding_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('wallet',
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('error_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('error_message', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('account_native_id', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('role_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('key_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('replica_key_arns', sa.JSON(), nullable=True),
    sa.Column('installed_regions', sa.JSON(), nullable=True),
    sa.Column('key_errors', sa.JSON(), nullable=True),
    sa.Column('progress', sa.JSON(), nullable=True),
    sa.Column('stack_version', sa.Integer(), nullable=True),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('token_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    with op.batch_alter_table('wallet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wallet_state'), ['state'], unique=False)

    op.create_table('audithead',
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    for table in IMMUTABLE_TABLES:
        create_immutable_trigger(table)


def downgrade() -> None:
    for table in IMMUTABLE_TABLES:
        drop_immutable_trigger(table)
    op.drop_table('audithead')
    with op.batch_alter_table('wallet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wallet_state'))

    op.drop_table('wallet')
    with op.batch_alter_table('keybinding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_keybinding_tenant_id'))

    op.drop_table('keybinding')
    with op.batch_alter_table('enabletoken', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enabletoken_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_enabletoken_external_id'))

    op.drop_table('enabletoken')
    with op.batch_alter_table('awsconnection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awsconnection_tenant_id'))

    op.drop_table('awsconnection')
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_name'))

    op.drop_table('tenant')
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditevent_tenant_id'))

    op.drop_table('auditevent')
