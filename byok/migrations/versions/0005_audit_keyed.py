"""audit chain keyed (HMAC key id per event); the head only moves forward

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN keeps the append-only triggers (a batch rebuild would drop them).
    op.add_column('auditevent', sa.Column('key_id', sa.String(length=40), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute("CREATE TRIGGER audithead_no_delete BEFORE DELETE ON audithead "
                   "BEGIN SELECT RAISE(ABORT, 'audithead only moves forward'); END")
        op.execute("CREATE TRIGGER audithead_forward BEFORE UPDATE ON audithead "
                   "WHEN NEW.seq <= OLD.seq OR NEW.tenant_id != OLD.tenant_id "
                   "BEGIN SELECT RAISE(ABORT, 'audithead only moves forward'); END")
    elif dialect == 'postgresql':
        op.execute(
            "CREATE OR REPLACE FUNCTION audithead_forward() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' OR NEW.seq <= OLD.seq OR NEW.tenant_id <> OLD.tenant_id THEN "
            "RAISE EXCEPTION 'audithead only moves forward'; END IF; RETURN NEW; END; $$ "
            "LANGUAGE plpgsql")
        op.execute("CREATE TRIGGER audithead_forward BEFORE UPDATE OR DELETE ON audithead "
                   "FOR EACH ROW EXECUTE FUNCTION audithead_forward()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS audithead_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audithead_forward")
    elif dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audithead_forward ON audithead")
        op.execute("DROP FUNCTION IF EXISTS audithead_forward()")
    op.drop_column('auditevent', 'key_id')
