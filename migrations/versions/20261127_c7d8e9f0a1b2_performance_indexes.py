"""performance: certificates indexed by enrolment (course progress reads them that way)

Revision ID: c7d8e9f0a1b2
Revises: 9b3c4d5e6f70
Create Date: 2026-11-27 08:00:00
"""

from alembic import op

revision = "c7d8e9f0a1b2"
down_revision = "9b3c4d5e6f70"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        op.f("ix_certificates_enrollment_id"), "certificates", ["enrollment_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_certificates_enrollment_id"), table_name="certificates")
