"""Backup and restore of an embedded (SQLite) installation: the database and the uploads.

``flask --app app backup`` writes one ``.tar.gz`` holding a consistent copy of the database
(SQLite's online backup API, safe while the app runs), the uploaded documents of local
storage, and a manifest with the SHA-256 of every file. ``flask --app app restore ARCHIVE``
checks every checksum and the database's integrity first, and only then replaces the
database and the uploads (the app and the worker must be stopped).

PostgreSQL installations back up with ``pg_dump``/point-in-time recovery instead (see
docs/OPERATIONS.md); these commands refuse to run there rather than pretend.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import make_url

FORMAT = "partner-lms-backup/1"


class BackupError(Exception):
    """Refused; ``str(error)`` says why, for the operator."""


@dataclass
class Paths:
    database: Path
    uploads: Path | None


def paths(config: Any) -> Paths:
    url = make_url(config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "backup and restore handle the embedded SQLite database only; on PostgreSQL use "
            "pg_dump or point-in-time recovery (docs/OPERATIONS.md)"
        )
    uploads = None
    if config.get("STORAGE_BACKEND", "local") == "local" and config.get("UPLOAD_FOLDER"):
        uploads = Path(config["UPLOAD_FOLDER"])
    return Paths(Path(url.database), uploads)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(archive: tarfile.TarFile, name: str, data: bytes, manifest: dict[str, str]) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))
    manifest[name] = _sha256(data)


def create(config: Any, target_dir: Path) -> Path:
    """Write a backup archive into ``target_dir``; returns its path."""
    where = paths(config)
    if not where.database.exists():
        raise BackupError(f"no database at {where.database}")
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = target_dir / f"lms-backup-{stamp}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "database.sqlite3"
        source = sqlite3.connect(where.database)
        dest = sqlite3.connect(copy)
        try:
            source.backup(dest)  # a consistent snapshot even while the app writes
        finally:
            dest.close()
            source.close()
        manifest: dict[str, str] = {}
        with tarfile.open(target, "w:gz") as archive:
            _add(archive, "database.sqlite3", copy.read_bytes(), manifest)
            if where.uploads is not None and where.uploads.is_dir():
                for path in sorted(p for p in where.uploads.rglob("*") if p.is_file()):
                    relative = path.relative_to(where.uploads).as_posix()
                    _add(archive, f"uploads/{relative}", path.read_bytes(), manifest)
            body = json.dumps(
                {"format": FORMAT, "created_at": stamp, "files": manifest}, indent=2
            ).encode()
            _add(archive, "manifest.json", body, {})
    return target


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def verify(archive_path: Path) -> dict[str, bytes]:
    """Read the archive and check it whole: format, every checksum, the database's integrity."""
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            files: dict[str, bytes] = {}
            for member in archive.getmembers():
                if not member.isfile() or not _safe_member(member.name):
                    raise BackupError(f"unexpected entry in the archive: {member.name!r}")
                handle = archive.extractfile(member)
                assert handle is not None
                files[member.name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"cannot read {archive_path}: {error}") from error
    try:
        manifest = json.loads(files.pop("manifest.json"))
    except (KeyError, ValueError) as error:
        raise BackupError("the archive has no valid manifest.json") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"not a Partner LMS backup (format {manifest.get('format')!r})")
    expected = manifest.get("files", {})
    if set(expected) != set(files):
        raise BackupError("the archive's files do not match its manifest")
    for name, data in files.items():
        if _sha256(data) != expected[name]:
            raise BackupError(f"checksum mismatch for {name}: the archive is damaged")
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "check.sqlite3"
        probe.write_bytes(files["database.sqlite3"])
        conn = sqlite3.connect(probe)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise BackupError(f"the database in the archive is not readable: {error}") from error
        finally:
            conn.close()
        if result != "ok":
            raise BackupError(f"the database in the archive failed its integrity check: {result}")
    return files


def restore(config: Any, archive_path: Path) -> dict[str, int]:
    """Replace the database and the uploads with the archive's, after checking it whole.

    The current database is kept beside it as ``<name>.before-restore`` until the next restore.
    """
    where = paths(config)
    files = verify(archive_path)
    if where.database.exists():
        shutil.copyfile(
            where.database, where.database.with_name(where.database.name + ".before-restore")
        )
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{where.database}{suffix}").unlink(missing_ok=True)
    staged = where.database.with_name(where.database.name + ".restoring")
    staged.write_bytes(files.pop("database.sqlite3"))
    staged.replace(where.database)  # atomic on one file system
    restored = 0
    if where.uploads is not None:
        if where.uploads.exists():
            shutil.rmtree(where.uploads)
        for name, data in files.items():
            if not name.startswith("uploads/"):
                continue
            path = where.uploads / name.removeprefix("uploads/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            restored += 1
    return {"documents": restored}
