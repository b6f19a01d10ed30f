"""support requests and referrals searched by their words through trigram indexes (PostgreSQL)

The clinicians' searches by words (a request's subject, a patient's name) match the
encrypted texts' search terms with ``LIKE '% term %'`` (lms.crypto), which no b-tree index
serves: every search read every request (53,000 at the seeded scale: 40-80 ms a page)
or every referral. ``pg_trgm``'s GIN indexes answer such patterns; the extension is the one
the users' trigram indexes already use (migration d8e9f0a1b2c3). SQLite has no such index
and keeps scanning (its embedded scale is small).

Revision ID: b3d5f7a9c1e2
Revises: a7c3e9d1f2b4
Create Date: 2026-11-29 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b3d5f7a9c1e2"
down_revision = "a7c3e9d1f2b4"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_support_requests_search_terms_trgm": "support_requests",
    "ix_referrals_search_terms_trgm": "referrals",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Named with its schema: the extension's schema need not be on this user's search path
    # (as in migration d8e9f0a1b2c3).
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
    for name, table in INDEXES.items():
        op.execute(
            f'CREATE INDEX {name} ON {table} USING gin (search_terms "{schema}".gin_trgm_ops)'
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
