"""performance: the audit log by actor and time, and users by role and joining date

The admin audit viewer filters on ``actor_email`` and sorts by ``created_at`` (newest
first); the therapist directory filters ``role = 'therapist'`` and sorts by ``created_at``
(newest first by default). Each index serves its page's filter and order together, so the
database walks the index for one page of rows instead of sorting every match.

Revision ID: a1c2e3f4a5b6
Revises: c7d8e9f0a1b2
Create Date: 2026-11-27 12:00:00
"""

from alembic import op

revision = "a1c2e3f4a5b6"
down_revision = "c7d8e9f0a1b2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_audit_events_actor_email_created_at",
        "audit_events",
        ["actor_email", "created_at"],
        unique=False,
    )
    op.create_index("ix_users_role_created_at", "users", ["role", "created_at"], unique=False)


def downgrade():
    op.drop_index("ix_users_role_created_at", table_name="users")
    op.drop_index("ix_audit_events_actor_email_created_at", table_name="audit_events")
