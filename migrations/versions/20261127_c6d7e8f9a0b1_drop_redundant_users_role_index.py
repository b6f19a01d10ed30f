"""drop ix_users_role: ix_users_role_created_at (role, created_at) serves every role filter

With both, PostgreSQL picked either for the directory's count, at random by its estimates;
the two-column index also gives the directory its order.

Revision ID: c6d7e8f9a0b1
Revises: b5c6d7e8f9a0
Create Date: 2026-11-27 10:30:00
"""

from alembic import op

revision = "c6d7e8f9a0b1"
down_revision = "b5c6d7e8f9a0"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_users_role", table_name="users")


def downgrade():
    op.create_index("ix_users_role", "users", ["role"], unique=False)
