"""`flask backup` / `flask restore` of an embedded installation, on a SQLite app of its own."""

from __future__ import annotations

import io
import sqlite3
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms import backup, create_app
from lms.accounts.models import Role, User
from lms.extensions import db
from tests.conftest import make_config, migrate_to_head, password_hash


@pytest.fixture
def sqlite_app(tmp_path: Path):
    app = create_app(
        make_config(
            DATABASE_URL=f"sqlite:///{tmp_path / 'lms.sqlite3'}",
            INSTANCE_PATH=str(tmp_path / "instance"),
            UPLOAD_FOLDER=str(tmp_path / "uploads"),
        )
    )
    migrate_to_head(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def _add_user(app, email: str) -> None:
    with app.app_context():
        db.session.add(
            User(email=email, full_name=email, password_hash=password_hash(), role=Role.THERAPIST)
        )
        db.session.commit()


def _emails(app) -> set[str]:
    with app.app_context():
        emails = set(db.session.scalars(select(User.email)))
        db.engine.dispose()
        return emails


def test_backup_then_restore_brings_back_the_database_and_documents(sqlite_app, tmp_path) -> None:
    _add_user(sqlite_app, "kept@example.org")
    document = tmp_path / "uploads" / "ab" / "abcdef"
    document.parent.mkdir(parents=True)
    document.write_bytes(b"%PDF-1.4 the license scan")
    runner = sqlite_app.test_cli_runner()
    result = runner.invoke(args=["backup", "--to", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [archive] = (tmp_path / "backups").glob("lms-backup-*.tar.gz")

    # Later: a new row, a lost document.
    _add_user(sqlite_app, "added-after@example.org")
    document.unlink()
    refused = runner.invoke(args=["restore", str(archive)], input="n\n")
    assert refused.exit_code != 0 and _emails(sqlite_app) >= {"added-after@example.org"}

    result = runner.invoke(args=["restore", str(archive), "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 documents" in result.output
    assert _emails(sqlite_app) == {"kept@example.org"}
    assert document.read_bytes() == b"%PDF-1.4 the license scan"
    assert (tmp_path / "lms.sqlite3.before-restore").exists()


def test_a_damaged_archive_is_refused_and_nothing_changes(sqlite_app, tmp_path) -> None:
    _add_user(sqlite_app, "current@example.org")
    archive = backup.create(sqlite_app.config, tmp_path / "backups")
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive, "r:gz") as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "database.sqlite3":
                data = data[:-10] + b"x" * 10
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    result = sqlite_app.test_cli_runner().invoke(args=["restore", str(damaged), "--yes"])
    assert result.exit_code != 0 and "checksum mismatch" in result.output
    assert _emails(sqlite_app) == {"current@example.org"}

    not_a_backup = tmp_path / "other.tar.gz"
    not_a_backup.write_bytes(b"not even gzip")
    result = sqlite_app.test_cli_runner().invoke(args=["restore", str(not_a_backup), "--yes"])
    assert result.exit_code != 0 and "cannot read" in result.output


def test_postgresql_installations_are_pointed_to_pg_dump() -> None:
    config = {"DATABASE_URL": "postgresql+psycopg://lms@db/lms"}
    with pytest.raises(backup.BackupError, match="pg_dump"):
        backup.paths(config)


def test_the_backup_is_consistent_while_the_app_writes(sqlite_app, tmp_path) -> None:
    for i in range(50):
        _add_user(sqlite_app, f"user{i}@example.org")
    archive = backup.create(sqlite_app.config, tmp_path / "b")
    files = backup.verify(archive)
    probe = tmp_path / "probe.sqlite3"
    probe.write_bytes(files["database.sqlite3"])
    with sqlite3.connect(probe) as conn:
        assert conn.execute("select count(*) from users").fetchone()[0] == 50
    with sqlite_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 50
        db.engine.dispose()
