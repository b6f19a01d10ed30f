"""users searched by name and e-mail through trigram indexes (PostgreSQL)

The admin searches match "contains" (``lower(column) LIKE '%term%'``), which no b-tree
index serves: every search read the whole users table. ``pg_trgm``'s GIN indexes answer
such patterns (of three characters or more). ``pg_trgm`` ships with PostgreSQL and is a
trusted extension (13+): a role that may create objects in the database may create it.
SQLite has no such index and keeps scanning (its embedded scale is small).

Revision ID: d8e9f0a1b2c3
Revises: c6d7e8f9a0b1
Create Date: 2026-11-27 15:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d8e9f0a1b2c3"
down_revision = "c6d7e8f9a0b1"
branch_labels = None
depends_on = None

COLUMNS = ("full_name", "email")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # The extension's operator class lives in the schema it was installed in, which need not
    # be on this database user's search path (an app in its own schema, a second app in the
    # same database): name it with its schema.
    schema = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT n.nspname FROM pg_extension e"
                " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )
        )
        .scalar_one()
    )
    opclass = f'"{schema}".gin_trgm_ops'
    for column in COLUMNS:
        op.execute(
            f"CREATE INDEX ix_users_{column}_trgm ON users USING gin (lower({column}) {opclass})"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX ix_users_{column}_trgm")
