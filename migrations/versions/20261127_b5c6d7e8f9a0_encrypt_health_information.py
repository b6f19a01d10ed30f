"""encryption at rest of patient details, outcome answers and support requests

The encrypted columns become text (a Fernet token is longer than the value and has no
date or JSON form), existing values are encrypted with the app's newest key
(``ENCRYPTION_KEYS``, or the development key in ``instance/``), and the searchable lists
get their search terms. Also the two indexes the benchmark asked for (docs/PERFORMANCE.md):
the active support queue by due time, and referrals by status and age.

Uploaded documents are files, not rows: ``flask --app app encryption rotate`` encrypts the
ones stored before this version (they stay readable until then).

Revision ID: b5c6d7e8f9a0
Revises: a1c2e3f4a5b6
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "b5c6d7e8f9a0"
down_revision = "a1c2e3f4a5b6"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('open', 'claimed', 'awaiting_therapist')"

# table -> {column: its type before this revision}
ENCRYPTED = {
    "referrals": {
        "patient_name": sa.String(length=200),
        "date_of_birth": sa.Date(),
        "email": sa.String(length=254),
        "phone": sa.String(length=40),
        "prior_treatments": sa.Text(),
        "current_medications": sa.Text(),
        "status_reason": sa.Text(),
        "location": sa.String(length=100),
    },
    "referral_events": {"body": sa.Text()},
    "outcome_measurements": {"answers": sa.JSON()},
    "support_requests": {
        "subject": sa.String(length=200),
        "description": sa.Text(),
        "callback_phone": sa.String(length=40),
    },
    "support_events": {"body": sa.Text()},
}
# The column whose words make a table's search terms.
SEARCHED = {"referrals": "patient_name", "support_requests": "subject"}
NOT_NULL = {
    ("referrals", "patient_name"),
    ("referrals", "email"),
    ("referrals", "phone"),
    ("referrals", "prior_treatments"),
    ("referrals", "current_medications"),
    ("outcome_measurements", "answers"),
    ("support_requests", "subject"),
    ("support_requests", "description"),
    ("support_requests", "callback_phone"),
}
# Tables that other tables point at: SQLite rebuilds them with foreign keys off.
REFERENCED = {"referrals", "support_requests"}


def _keyring():
    from lms.crypto import keyring

    return keyring()


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


@contextmanager
def _foreign_keys_off(table: str) -> Iterator[None]:
    """SQLite changes a column's type by rebuilding the table (copy, drop, rename); with
    other tables pointing at it, foreign keys are switched off around the rebuild and
    checked after (SQLite's documented procedure; the switch works only between
    transactions, so the current one is committed first)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or table not in REFERENCED:
        yield
        return
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:
        raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("BEGIN")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild of {table}: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("BEGIN")


@contextmanager
def _history_writable(table: str) -> Iterator[None]:
    """support_events is append-only by trigger; its bodies are rewritten here once, with
    the trigger off inside this transaction only."""
    if table != "support_events":
        yield
        return
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS support_events_no_update")
        yield
        op.execute(
            "CREATE TRIGGER support_events_no_update BEFORE UPDATE ON support_events "
            "BEGIN SELECT RAISE(ABORT, 'support_events is append-only'); END"
        )
    else:
        op.execute("ALTER TABLE support_events DISABLE TRIGGER support_events_no_update_delete")
        yield
        op.execute("ALTER TABLE support_events ENABLE TRIGGER support_events_no_update_delete")


def _retype(table: str, to_text: bool) -> None:
    columns = ENCRYPTED[table]
    if table in ("referral_events", "support_events"):
        return  # already text
    kept = {}
    if _sqlite() and not to_text and table == "referrals":
        # SQLite's rebuild would CAST the ISO text to DATE, a numeric affinity that keeps
        # only the year: the dates are put back as text after the rebuild.
        kept = dict(
            op.get_bind()
            .execute(
                sa.text("SELECT id, date_of_birth FROM referrals WHERE date_of_birth IS NOT NULL")
            )
            .all()
        )
    with _foreign_keys_off(table), op.batch_alter_table(table) as batch:
        for name, old in columns.items():
            if isinstance(old, sa.Text):
                continue
            new_type, existing = (sa.Text(), old) if to_text else (old, sa.Text())
            using = None
            if not _sqlite():
                cast = "text" if to_text else {sa.Date: "date", sa.JSON: "json"}.get(type(old))
                if cast is None and not to_text:
                    cast = f"varchar({old.length})"
                using = f"{name}::{cast}"
            batch.alter_column(
                name,
                type_=new_type,
                existing_type=existing,
                existing_nullable=(table, name) not in NOT_NULL,
                postgresql_using=using,
            )
        if table in SEARCHED and to_text:
            batch.add_column(
                sa.Column("search_terms", sa.Text(), nullable=False, server_default="")
            )
        elif table in SEARCHED:
            batch.drop_column("search_terms")
    for row_id, day in kept.items():
        op.get_bind().execute(
            sa.text("UPDATE referrals SET date_of_birth = :day WHERE id = :id"),
            {"day": day, "id": row_id},
        )


def _rewrite(table: str, change: Callable[[str], str], *, index: bool) -> None:
    """Apply ``change`` to every non-null value of the table's encrypted columns, in id
    order, a thousand rows per statement; ``index`` also fills the search terms."""
    names = list(ENCRYPTED[table])
    searched = SEARCHED.get(table) if index else None
    bind = op.get_bind()
    rows_table = sa.table(
        table,
        sa.column("id"),
        *(sa.column(n) for n in names),
        *([sa.column("search_terms")] if searched else []),
    )
    targets = [*names, *(["search_terms"] if searched else [])]
    update = (
        rows_table.update()
        .where(rows_table.c.id == sa.bindparam("row_id"))
        .values({n: sa.bindparam(f"new_{n}") for n in targets})
    )
    ring = _keyring()
    last = 0
    with _history_writable(table):
        while True:
            rows = bind.execute(
                sa.select(rows_table.c.id, *(rows_table.c[n] for n in names))
                .where(rows_table.c.id > last)
                .order_by(rows_table.c.id)
                .limit(1000)
            ).all()
            if not rows:
                break
            params = []
            for row in rows:
                values = {
                    f"new_{n}": None if v is None else change(str(v))
                    for n, v in zip(names, row[1:], strict=True)
                }
                if searched:
                    values["new_search_terms"] = ring.terms(row[1 + names.index(searched)])
                params.append({"row_id": row[0], **values})
            bind.execute(update, params)
            last = rows[-1][0]


def upgrade():
    ring = _keyring()

    def encrypt(value: str) -> str:
        return ring.encrypt_text(value)

    for table in ENCRYPTED:
        _retype(table, to_text=True)
        _rewrite(table, encrypt, index=True)

    with op.batch_alter_table("referrals") as batch:
        batch.create_index("ix_referrals_status_created_at", ["status", "created_at"])
    op.create_index(
        "ix_support_requests_active_due_at",
        "support_requests",
        ["due_at", "id"],
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )


def downgrade():
    ring = _keyring()

    def decrypt(value: str) -> str:
        return ring.decrypt_text(value)

    op.drop_index("ix_support_requests_active_due_at", table_name="support_requests")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_status_created_at")
    for table in ENCRYPTED:
        _rewrite(table, decrypt, index=False)
        _retype(table, to_text=False)
