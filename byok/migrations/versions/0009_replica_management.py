"""wallet.replica_management: who creates the replicas (service or tenant)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Wallets before this revision were all enabled with service-made replicas (or none yet):
    # NULL reads as "not reported", and the workflow writes the stack's choice.
    with op.batch_alter_table('wallet', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replica_management',
                                      sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('wallet', schema=None) as batch_op:
        batch_op.drop_column('replica_management')
