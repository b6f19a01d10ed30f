"""two-step verification secrets encrypted at rest

``users.mfa_secret`` is the seed every authenticator code is made from: whoever reads it
from the database (a backup, a replica, a leaked dump) can make a staff member's codes.
It becomes a Fernet token under the app's newest key (``ENCRYPTION_KEYS``, or the
development key in ``instance/``), like the health information, and ``flask encryption
rotate`` re-encrypts it with the other encrypted columns. A token is longer than the
32-character secret: the column becomes text.

Revision ID: e9f0a1b2c3d4
Revises: d8e9f0a1b2c3
Create Date: 2026-11-28 01:10:00
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "e9f0a1b2c3d4"
down_revision = "d8e9f0a1b2c3"
branch_labels = None
depends_on = None

USERS = sa.table("users", sa.column("id"), sa.column("mfa_secret"))


def _keyring():
    from lms.crypto import keyring

    return keyring()


@contextmanager
def _foreign_keys_off() -> Iterator[None]:
    """SQLite changes a column's type by rebuilding the table; every table that points at
    ``users`` would stop it, so foreign keys are off around the rebuild and checked after
    (SQLite's documented procedure; the switch works only between transactions)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
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
            raise RuntimeError(f"foreign keys broken by the rebuild of users: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("BEGIN")


def _retype(to_text: bool) -> None:
    old, new = (sa.String(length=64), sa.Text()) if to_text else (sa.Text(), sa.String(length=64))
    with _foreign_keys_off(), op.batch_alter_table("users") as batch:
        batch.alter_column("mfa_secret", type_=new, existing_type=old, existing_nullable=True)


def _rewrite(change: Callable[[str], str]) -> None:
    """Apply ``change`` to every secret (only staff and some therapists have one)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(USERS.c.id, USERS.c.mfa_secret).where(USERS.c.mfa_secret.is_not(None))
    ).all()
    if rows:
        bind.execute(
            USERS.update()
            .where(USERS.c.id == sa.bindparam("row_id"))
            .values(mfa_secret=sa.bindparam("secret")),
            [{"row_id": row_id, "secret": change(secret)} for row_id, secret in rows],
        )


def upgrade():
    ring = _keyring()
    _retype(to_text=True)
    _rewrite(ring.encrypt_text)


def downgrade():
    ring = _keyring()
    _rewrite(ring.decrypt_text)
    _retype(to_text=False)
