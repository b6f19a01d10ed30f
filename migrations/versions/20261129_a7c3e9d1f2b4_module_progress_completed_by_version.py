"""training: module progress completed, by module version

The course analytics' drop-off counts, for each module version of a course, the learners
who completed it. Without an index on the module version PostgreSQL read every learner's
progress in every course (200,000 rows at the seeded scale) to find one course's; this
partial index holds the completed rows by version and learner, so the count reads only the
course's entries, from the index alone.

Revision ID: a7c3e9d1f2b4
Revises: f5e74f5092a1
Create Date: 2026-11-29 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a7c3e9d1f2b4"
down_revision = "f5e74f5092a1"
branch_labels = None
depends_on = None

COMPLETED = sa.text("completed_at IS NOT NULL")


def upgrade():
    op.create_index(
        "ix_module_progress_completed_version_user",
        "module_progress",
        ["module_version_id", "user_id"],
        unique=False,
        postgresql_where=COMPLETED,
        sqlite_where=COMPLETED,
    )


def downgrade():
    op.drop_index("ix_module_progress_completed_version_user", table_name="module_progress")
