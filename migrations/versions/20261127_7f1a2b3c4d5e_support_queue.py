"""support requests, events, on-call

Revision ID: 7f1a2b3c4d5e
Revises: 5e0a1b2c3d4e
Create Date: 2026-11-27 06:40:00
"""

import sqlalchemy as sa
from alembic import op

import lms.db

revision = "7f1a2b3c4d5e"
down_revision = "5e0a1b2c3d4e"
branch_labels = None
depends_on = None

# A request's history and its notification ledger are append-only in the database too.
APPEND_ONLY = ("support_events", "support_notifications")


def upgrade():
    op.create_table(
        "clinician_on_call",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("on_call", sa.Boolean(), nullable=False),
        sa.Column("changed_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_clinician_on_call_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_clinician_on_call")),
    )
    with op.batch_alter_table("clinician_on_call", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clinician_on_call_on_call"), ["on_call"], unique=False)

    op.create_table(
        "support_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column(
            "category",
            sa.Enum(
                "acute_dosing",
                "side_effects",
                "medication",
                "eligibility",
                "other",
                name="support_category",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "urgency",
            sa.Enum(
                "urgent",
                "high",
                "routine",
                name="support_urgency",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("callback_phone", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "claimed",
                "awaiting_therapist",
                "resolved",
                "closed",
                name="support_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("target_minutes", sa.Integer(), nullable=False),
        sa.Column("filed_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_response_by_id", sa.Integer(), nullable=True),
        sa.Column("breached_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submission_token", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "(status = 'open' AND claimed_by_id IS NULL) OR status = 'closed' OR (status IN ('claimed', 'awaiting_therapist', 'resolved') AND claimed_by_id IS NOT NULL)",
            name=op.f("ck_support_requests_owner_matches_status"),
        ),
        sa.CheckConstraint("target_minutes > 0", name=op.f("ck_support_requests_target_positive")),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"], ["users.id"], name=op.f("fk_support_requests_claimed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["first_response_by_id"],
            ["users.id"],
            name=op.f("fk_support_requests_first_response_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_support_requests_referral_id_referrals"),
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"], ["users.id"], name=op.f("fk_support_requests_therapist_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_requests")),
        sa.UniqueConstraint("submission_token", name=op.f("uq_support_requests_submission_token")),
    )
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_requests_claimed_by_id"), ["claimed_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_support_requests_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_support_requests_filed_at"), ["filed_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_support_requests_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_support_requests_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "support_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "filed",
                "claimed",
                "reply",
                "therapist_reply",
                "note",
                "reassigned",
                "awaiting",
                "resolved",
                "reopened",
                "closed",
                "notified",
                name="support_event_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column(
            "from_status",
            sa.Enum(
                "open",
                "claimed",
                "awaiting_therapist",
                "resolved",
                "closed",
                name="support_event_from_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "open",
                "claimed",
                "awaiting_therapist",
                "resolved",
                "closed",
                name="support_event_to_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind NOT IN ('note', 'notified') OR internal",
            name=op.f("ck_support_events_internal_kinds"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_support_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_support_events_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["support_requests.id"],
            name=op.f("fk_support_events_request_id_support_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_events")),
    )
    with op.batch_alter_table("support_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_events_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "support_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "step",
            sa.Enum(
                "filed",
                "half",
                "breach",
                name="support_notification_step",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("due_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["support_requests.id"],
            name=op.f("fk_support_notifications_request_id_support_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_notifications")),
        sa.UniqueConstraint(
            "request_id",
            "step",
            "sequence",
            name=op.f("uq_support_notifications_request_id_step_sequence"),
        ),
    )
    with op.batch_alter_table("support_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_notifications_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "support_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "new_request",
                "renotify",
                "escalation",
                "assigned",
                "therapist_reply",
                "reply",
                name="support_alert_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("emailed", sa.Boolean(), nullable=False),
        sa.Column("created_at", lms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", lms.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["support_notifications.id"],
            name=op.f("fk_support_alerts_notification_id_support_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["support_requests.id"],
            name=op.f("fk_support_alerts_request_id_support_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_support_alerts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_alerts")),
    )
    with op.batch_alter_table("support_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_alerts_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            "ix_support_alerts_user_id_read_at", ["user_id", "read_at"], unique=False
        )

    _create_append_only_triggers()


def _create_append_only_triggers():
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(
                f"""
                CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION '{table} is append-only';
                END;
                $$ LANGUAGE plpgsql
                """
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )
        else:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def _drop_append_only_triggers():
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


def downgrade():
    _drop_append_only_triggers()
    with op.batch_alter_table("support_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_support_alerts_user_id_read_at")
        batch_op.drop_index(batch_op.f("ix_support_alerts_request_id"))

    op.drop_table("support_alerts")
    with op.batch_alter_table("support_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_notifications_request_id"))

    op.drop_table("support_notifications")
    with op.batch_alter_table("support_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_events_request_id"))

    op.drop_table("support_events")
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_requests_therapist_id"))
        batch_op.drop_index(batch_op.f("ix_support_requests_status"))
        batch_op.drop_index(batch_op.f("ix_support_requests_filed_at"))
        batch_op.drop_index(batch_op.f("ix_support_requests_due_at"))
        batch_op.drop_index(batch_op.f("ix_support_requests_claimed_by_id"))

    op.drop_table("support_requests")
    with op.batch_alter_table("clinician_on_call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinician_on_call_on_call"))

    op.drop_table("clinician_on_call")
