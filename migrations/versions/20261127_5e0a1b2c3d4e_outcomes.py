"""outcome measurements (GAD-7, PHQ-9)

Revision ID: 5e0a1b2c3d4e
Revises: 903ce3c1273a
Create Date: 2026-11-27 06:40:00
"""

import sqlalchemy as sa
from alembic import op

import lms.db

revision = "5e0a1b2c3d4e"
down_revision = "903ce3c1273a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outcome_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column(
            "instrument",
            sa.Enum(
                "gad7",
                "phq9",
                name="outcome_instrument",
                native_enum=False,
                create_constraint=True,
                length=8,
            ),
            nullable=False,
        ),
        sa.Column("administered_on", sa.Date(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "total >= 0 AND total <= 27", name=op.f("ck_outcome_measurements_total_range")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_outcome_measurements_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_outcome_measurements_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_measurements")),
    )
    op.create_index(
        "ix_outcome_measurements_recorded_by_id",
        "outcome_measurements",
        ["recorded_by_id"],
        unique=False,
    )
    op.create_index(
        "ix_outcome_measurements_referral_day",
        "outcome_measurements",
        ["referral_id", "administered_on"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_outcome_measurements_referral_day", table_name="outcome_measurements")
    op.drop_index("ix_outcome_measurements_recorded_by_id", table_name="outcome_measurements")
    op.drop_table("outcome_measurements")
