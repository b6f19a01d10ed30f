"""support: requests by status, newest first

The clinicians' queue filtered to resolved or closed requests lists them newest first; the
index on (status, filed_at, id) walks straight to a page of them instead of sorting every
finished request, and replaces the index on status alone (it serves any lookup by status).

Revision ID: f5e74f5092a1
Revises: e9f0a1b2c3d4
Create Date: 2026-11-29 09:30:00
"""

from alembic import op

revision = "f5e74f5092a1"
down_revision = "e9f0a1b2c3d4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_support_requests_status_filed_at",
        "support_requests",
        ["status", "filed_at", "id"],
        unique=False,
    )
    op.drop_index("ix_support_requests_status", table_name="support_requests")


def downgrade():
    op.create_index("ix_support_requests_status", "support_requests", ["status"], unique=False)
    op.drop_index("ix_support_requests_status_filed_at", table_name="support_requests")
