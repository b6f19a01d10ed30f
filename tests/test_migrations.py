"""Migrations stay honest: one head, and head matches the models exactly.

Runs against a fresh, empty database of the kind under test (SQLite always;
PostgreSQL when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from lms import create_app
from lms.config import PROJECT_ROOT
from lms.db import include_for_dialect
from lms.extensions import db
from tests.conftest import make_config, pg_url

MIGRATIONS = PROJECT_ROOT / "migrations"


def _fresh_database(tmp_path: Path) -> Iterator[str]:
    url = pg_url()
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"{make_url(url).database}_migration_check"  # beside the test database, per run
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_db_app(tmp_path: Path) -> Iterator:
    for url in _fresh_database(tmp_path):
        app = create_app(make_config(DATABASE_URL=url, INSTANCE_PATH=str(tmp_path)))
        yield app
        with app.app_context():
            db.engine.dispose()


def test_single_head() -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"migrations have {len(heads)} heads: {heads}; merge them"


def test_upgrade_from_empty_matches_models(empty_db_app) -> None:
    with empty_db_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_object": include_for_dialect(conn.dialect.name),
                },
            )
            with warnings.catch_warnings():
                # SQLite cannot reflect expression indexes; the only ones the models declare
                # are PostgreSQL's trigram indexes, left out there by include_for_dialect.
                warnings.filterwarnings(
                    "ignore",
                    "autogenerate skipping metadata-specified expression-based index "
                    "'ix_users_[a-z_]+_trgm'; dialect 'sqlite'",
                )
                diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate`:\n{diff}"


def test_downgrade_to_base_and_up_again(empty_db_app) -> None:
    with empty_db_app.app_context():
        upgrade()
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "users" in inspect(db.engine).get_table_names()


def test_two_step_secrets_are_encrypted_and_decrypted_again(empty_db_app) -> None:
    """e9f0a1b2c3d4 encrypts the secrets already stored, the app reads them, and the
    downgrade puts them back as they were."""
    from lms.accounts.models import User
    from lms.crypto import keyring

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    raw = text("SELECT mfa_secret FROM users WHERE email = 'staff@example.org'")
    with empty_db_app.app_context():
        upgrade(revision="d8e9f0a1b2c3")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (email, full_name, password_hash, role, timezone, "
                    "is_active, session_token, created_at, mfa_secret) VALUES ("
                    "'staff@example.org', 'Staff Member', 'x', 'clinician', 'UTC', true, "
                    "'token', CURRENT_TIMESTAMP, :secret)"
                ),
                {"secret": secret},
            )
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(raw).scalar_one()
        assert secret not in stored and keyring().decrypt_text(stored) == secret
        user = db.session.scalar(select(User).where(User.email == "staff@example.org"))
        assert user.mfa_secret == secret
        db.session.remove()
        downgrade(revision="d8e9f0a1b2c3")
        with db.engine.connect() as conn:
            assert conn.execute(raw).scalar_one() == secret
