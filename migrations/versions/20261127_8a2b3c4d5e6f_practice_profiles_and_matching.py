"""practice profiles, self-referrals and match offers

Revision ID: 8a2b3c4d5e6f
Revises: 7f1a2b3c4d5e
Create Date: 2026-11-27 06:45:00
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import lms.db

revision = "8a2b3c4d5e6f"
down_revision = "7f1a2b3c4d5e"
branch_labels = None
depends_on = None

PRIMARY_CONCERN = sa.Enum(
    "generalized_anxiety",
    "social_anxiety",
    "panic",
    "depression",
    "ptsd",
    "other",
    name="referral_primary_concern",
    native_enum=False,
    create_constraint=True,
    length=24,
)


@contextmanager
def _rebuilding_referenced_table() -> Iterator[None]:
    """SQLite rebuilds "referrals" to change its columns (copy, drop, rename), and other
    tables point at it: with foreign keys on, dropping the old table would fail (or, with
    the checks deferred, the commit would). SQLite's documented way is to switch foreign
    keys off around the rebuild and check them after; the switch only works outside a
    transaction, so the one in progress is committed first and a new one opened. The
    statements go to the driver's connection, under SQLAlchemy's view of the transaction.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    in_transaction = raw.in_transaction
    if in_transaction:
        raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("BEGIN")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild of referrals: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        if in_transaction:
            raw.execute("BEGIN")


def upgrade():
    with _rebuilding_referenced_table(), op.batch_alter_table("referrals") as batch_op:
        batch_op.add_column(
            sa.Column(
                "source",
                sa.Enum(
                    "therapist",
                    "self",
                    name="referral_source",
                    native_enum=False,
                    create_constraint=True,
                    length=24,
                ),
                server_default="therapist",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "age_band",
                sa.Enum(
                    "18_24",
                    "25_34",
                    "35_44",
                    "45_54",
                    "55_64",
                    "65_plus",
                    name="referral_age_band",
                    native_enum=False,
                    create_constraint=True,
                    length=24,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("conditions", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "modality",
                sa.Enum(
                    "in_person",
                    "telehealth",
                    "either",
                    name="referral_modality",
                    native_enum=False,
                    create_constraint=True,
                    length=24,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=100), nullable=True))
        batch_op.alter_column("therapist_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("date_of_birth", existing_type=sa.Date(), nullable=True)
        batch_op.alter_column("primary_concern", existing_type=PRIMARY_CONCERN, nullable=True)
        batch_op.create_index(batch_op.f("ix_referrals_source"), ["source"], unique=False)

    op.create_table(
        "practice_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("practice_name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("zip_code", sa.String(length=10), nullable=True),
        sa.Column("in_person", sa.Boolean(), nullable=False),
        sa.Column("telehealth", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("approaches", sa.JSON(), nullable=False),
        sa.Column("other_approaches", sa.String(length=300), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("fees", sa.String(length=500), nullable=True),
        sa.Column("accepting_new_clients", sa.Boolean(), nullable=False),
        sa.Column("created_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_practice_profiles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_practice_profiles_user_id")),
    )

    op.create_table(
        "match_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("offered_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "offered",
                "accepted",
                "declined",
                "expired",
                "withdrawn",
                name="match_offer_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("offered_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["offered_by_id"], ["users.id"], name=op.f("fk_match_offers_offered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["users.id"], name=op.f("fk_match_offers_partner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_match_offers_referral_id_referrals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_offers")),
    )
    with op.batch_alter_table("match_offers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_offers_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_match_offers_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_match_offers_referral_id"), ["referral_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_match_offers_status"), ["status"], unique=False)
        # One open offer per referral.
        batch_op.create_index(
            "uq_match_offers_open_referral",
            ["referral_id"],
            unique=True,
            sqlite_where=sa.text("status = 'offered'"),
            postgresql_where=sa.text("status = 'offered'"),
        )


def downgrade():
    with op.batch_alter_table("match_offers", schema=None) as batch_op:
        batch_op.drop_index("uq_match_offers_open_referral")
        batch_op.drop_index(batch_op.f("ix_match_offers_status"))
        batch_op.drop_index(batch_op.f("ix_match_offers_referral_id"))
        batch_op.drop_index(batch_op.f("ix_match_offers_partner_id"))
        batch_op.drop_index(batch_op.f("ix_match_offers_expires_at"))
    op.drop_table("match_offers")
    op.drop_table("practice_profiles")

    # Self-referrals no partner took cannot exist without a therapist: they go. Matched
    # ones stay as the partner's referrals, with placeholders where the old columns
    # demand a value.
    op.execute(
        "DELETE FROM referral_events WHERE referral_id IN "
        "(SELECT id FROM referrals WHERE therapist_id IS NULL)"
    )
    op.execute("DELETE FROM referrals WHERE therapist_id IS NULL")
    op.execute("UPDATE referrals SET date_of_birth = '1900-01-01' WHERE date_of_birth IS NULL")
    op.execute("UPDATE referrals SET primary_concern = 'other' WHERE primary_concern IS NULL")
    with _rebuilding_referenced_table(), op.batch_alter_table("referrals") as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_source"))
        batch_op.alter_column("primary_concern", existing_type=PRIMARY_CONCERN, nullable=False)
        batch_op.alter_column("date_of_birth", existing_type=sa.Date(), nullable=False)
        batch_op.alter_column("therapist_id", existing_type=sa.Integer(), nullable=False)
        for name in ("referral_modality", "referral_age_band", "referral_source"):
            batch_op.drop_constraint(op.f(f"ck_referrals_{name}"), type_="check")
        batch_op.drop_column("location")
        batch_op.drop_column("language")
        batch_op.drop_column("modality")
        batch_op.drop_column("conditions")
        batch_op.drop_column("age_band")
        batch_op.drop_column("source")
