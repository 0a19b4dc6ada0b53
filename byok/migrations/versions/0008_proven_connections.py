"""proven account connections: state, per-tenant role name, ExternalId, hashed token

Connections made before this revision were never proven: they stay `pending` (usable for
nothing that reads the account) until the tenant connects again and deploys the stack.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table('awsconnection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', _S(length=16), nullable=False,
                                      server_default='pending'))
        batch_op.add_column(sa.Column('role_name', _S(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('external_id', _S(length=128), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('token_hash', _S(length=64), nullable=True))
        batch_op.add_column(sa.Column('token_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('error_message', _S(length=2000), nullable=True))
        batch_op.add_column(sa.Column('verified_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.create_index(batch_op.f('ix_awsconnection_token_hash'), ['token_hash'],
                              unique=True)


def downgrade() -> None:
    with op.batch_alter_table('awsconnection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awsconnection_token_hash'))
        for name in ('verified_at', 'error_message', 'token_expires_at', 'token_hash',
                     'external_id', 'role_name', 'state'):
            batch_op.drop_column(name)
