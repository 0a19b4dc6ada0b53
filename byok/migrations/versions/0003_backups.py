"""backup catalog and restores

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('backup',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('workload', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('plaintext_size', sa.Integer(), nullable=False),
    sa.Column('stored_size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('key_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('key_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_generation', sa.Integer(), nullable=True),
    sa.Column('object_key', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('backup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backup_key_arn'), ['key_arn'], unique=False)
        batch_op.create_index(batch_op.f('ix_backup_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_backup_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_backup_workload'), ['workload'], unique=False)

    op.create_table('restore',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('backup_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['backup_id'], ['backup.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('restore', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_restore_backup_id'), ['backup_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_restore_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('restore', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_restore_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_restore_backup_id'))

    op.drop_table('restore')
    with op.batch_alter_table('backup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backup_workload'))
        batch_op.drop_index(batch_op.f('ix_backup_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_backup_status'))
        batch_op.drop_index(batch_op.f('ix_backup_key_arn'))

    op.drop_table('backup')
