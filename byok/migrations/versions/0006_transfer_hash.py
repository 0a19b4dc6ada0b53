"""backup digest algorithm: blake3 for new backups, sha256 kept for older ones

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('backup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=128),
                                      nullable=True))
        # Every backup taken before this revision was checksummed with SHA-256.
        batch_op.add_column(sa.Column('digest_alg', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default='sha256'))
    op.execute("UPDATE backup SET digest = sha256 WHERE digest IS NULL")


def downgrade() -> None:
    # Refused while BLAKE3 backups exist: their digest has no place in the old schema.
    bind = op.get_bind()
    n = bind.execute(sa.text("SELECT count(*) FROM backup WHERE digest_alg != 'sha256'")).scalar()
    if n:
        raise RuntimeError(f"{n} backups carry a non-SHA-256 digest; cannot downgrade")
    with op.batch_alter_table('backup', schema=None) as batch_op:
        batch_op.drop_column('digest_alg')
        batch_op.drop_column('digest')
