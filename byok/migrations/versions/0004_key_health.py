"""key health: states, history, alerts, deliveries

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('healthalert',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('check_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('previous_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('delivery_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('delivery_attempts', sa.Integer(), nullable=False),
    sa.Column('delivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('check_id')
    )
    with op.batch_alter_table('healthalert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_healthalert_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_healthalert_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('keyhealth',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=True),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('drilled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('drilled_backup', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'generation', 'region')
    )
    with op.batch_alter_table('keyhealth', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_keyhealth_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('tenanthealth',
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=True),
    sa.Column('checks', sa.Integer(), nullable=False),
    sa.Column('last_check_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    with op.batch_alter_table('tenanthealth', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenanthealth_state'), ['state'], unique=False)

    op.create_table('alertdelivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['healthalert.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alertdelivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alertdelivery_alert_id'), ['alert_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alertdelivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alertdelivery_alert_id'))

    op.drop_table('alertdelivery')
    with op.batch_alter_table('tenanthealth', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenanthealth_state'))

    op.drop_table('tenanthealth')
    with op.batch_alter_table('keyhealth', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_keyhealth_tenant_id'))

    op.drop_table('keyhealth')
    with op.batch_alter_table('healthalert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_healthalert_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_healthalert_created_at'))

    op.drop_table('healthalert')
