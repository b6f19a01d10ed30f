"""Key rotation and key status for the encryption at rest (:mod:`lms.crypto`).

``flask --app app encryption rotate`` re-encrypts, under the newest key in
``ENCRYPTION_KEYS``, every encrypted value and every stored document that is under an
older key (or, for documents stored before encryption existed, not encrypted at all), and
recomputes the search terms of the rows it rewrites.

It can be stopped and run again at any time: it works through each table in id order, a
batch per transaction, and skips what the newest key already opens, so a second run picks
up where the first stopped. ``encryption status`` says how many values each key still
holds; an old key can leave ``ENCRYPTION_KEYS`` once it holds nothing.

The encrypted columns are found from the models (every column of an
:class:`~lms.crypto.Encrypted` type), so a new encrypted column is rotated without a change
here. Values are read and written as the raw tokens, bypassing the column types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click
from flask import Flask
from sqlalchemy import Connection, Table, bindparam, column, select, table, text

from lms import audit
from lms.crypto import (
    FILE_HEADER,
    DecryptionError,
    Encrypted,
    Keyring,
    fingerprint,
    keyring,
    new_key,
)
from lms.extensions import db
from lms.storage import StorageError, storage

BATCH = 500
# Append-only by trigger (migration 7f1a2b3c4d5e): rewritten with the trigger off inside
# the rotating transaction only.
APPEND_ONLY = {"support_events"}


@dataclass(frozen=True)
class EncryptedTable:
    name: str
    columns: tuple[str, ...]
    terms: str | None = None  # the search-terms column
    terms_of: str | None = None  # the column whose words it holds


def encrypted_tables() -> list[EncryptedTable]:
    """Every table with encrypted columns, from the models' metadata."""
    found = []
    for t in db.metadata.sorted_tables:
        columns = tuple(c.name for c in t.columns if isinstance(c.type, Encrypted))
        if not columns:
            continue
        terms = next((c for c in t.columns if "terms_of" in c.info), None)
        found.append(
            EncryptedTable(
                t.name,
                columns,
                terms.name if terms is not None else None,
                terms.info["terms_of"] if terms is not None else None,
            )
        )
    return found


@dataclass
class Report:
    """What a rotation (or a status check) found, per table and for the documents."""

    rewritten: Counter[str] = field(default_factory=Counter)
    # (table or "documents", key fingerprint or "not encrypted"/"unreadable"/"missing") -> count
    held: Counter[tuple[str, str]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def total_rewritten(self) -> int:
        return sum(self.rewritten.values())


def _raw_table(spec: EncryptedTable) -> Table:
    """The table's id and encrypted columns, untyped: tokens in, tokens out."""
    names = ["id", *spec.columns, *([spec.terms] if spec.terms else [])]
    return table(spec.name, *(column(n) for n in names))


def _batches(raw: Table, names: tuple[str, ...]) -> Iterator[list]:
    """The rows in id order, a batch at a time (each batch read in the session's current
    transaction, so the caller may commit between batches)."""
    last = 0
    while True:
        rows = db.session.execute(
            select(raw.c.id, *(raw.c[n] for n in names))
            .where(raw.c.id > last)
            .order_by(raw.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


@contextmanager
def _writable(conn: Connection, name: str) -> Iterator[None]:
    """Lift an append-only table's update trigger for this transaction only. PostgreSQL's
    ALTER TABLE locks the table until the commit, so no other write slips through."""
    if name not in APPEND_ONLY:
        yield
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE {name} DISABLE TRIGGER {name}_no_update_delete"))
        yield
        conn.execute(text(f"ALTER TABLE {name} ENABLE TRIGGER {name}_no_update_delete"))
    else:
        conn.execute(text(f"DROP TRIGGER {name}_no_update"))
        yield
        conn.execute(
            text(
                f"CREATE TRIGGER {name}_no_update BEFORE UPDATE ON {name} "
                f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
            )
        )


def rotate(ring: Keyring | None = None, echo: Callable[[str], None] = print) -> Report:
    """Re-encrypt everything not under the newest key; see the module's docstring."""
    ring = ring or keyring()
    report = Report()
    for spec in encrypted_tables():
        _rotate_table(spec, ring, report, echo)
    _rotate_documents(ring, report, echo)
    audit.record(
        "encryption.rotated",
        object_type="encryption",
        key=_name(ring, 0),
        values=sum(n for t, n in report.rewritten.items() if t != "documents"),
        documents=report.rewritten["documents"],
    )
    db.session.commit()
    return report


def _rotate_table(
    spec: EncryptedTable, ring: Keyring, report: Report, echo: Callable[[str], None]
) -> None:
    raw = _raw_table(spec)
    targets = [*spec.columns, *([spec.terms] if spec.terms else [])]
    # Only if the row still holds what was read: a value the app changed meanwhile (a
    # clinician's edit while the batch was being re-encrypted) is kept, not overwritten with
    # the old text; the next run re-encrypts it if it is still under an old key.
    update = (
        raw.update()
        .where(
            raw.c.id == bindparam("row_id"),
            *(raw.c[n].is_not_distinct_from(bindparam(f"old_{n}")) for n in spec.columns),
        )
        .values({n: bindparam(f"new_{n}") for n in targets})
    )
    for rows in _batches(raw, spec.columns):
        changes = []
        for row in rows:
            values = dict(zip(spec.columns, row[1:], strict=True))
            stale = [
                n for n, v in values.items() if v is not None and not ring.is_current(v.encode())
            ]
            if not stale:
                continue
            try:
                for n in stale:
                    values[n] = ring.rotate(values[n].encode()).decode("ascii")
            except DecryptionError:
                report.problems.append(f"{spec.name} #{row[0]}: a value no key can decrypt")
                continue
            params = {
                "row_id": row[0],
                **{f"old_{n}": v for n, v in zip(spec.columns, row[1:], strict=True)},
                **{f"new_{n}": v for n, v in values.items()},
            }
            if spec.terms and spec.terms_of:
                source = values[spec.terms_of]
                params[f"new_{spec.terms}"] = ring.terms(
                    ring.decrypt_text(source) if source is not None else None
                )
            changes.append(params)
        if changes:
            conn = db.session.connection()
            with _writable(conn, spec.name):
                done = sum(conn.execute(update, [c]).rowcount for c in changes)
            report.rewritten[spec.name] += done
            if done < len(changes):
                report.problems.append(
                    f"{spec.name}: {len(changes) - done} rows changed while being re-encrypted "
                    "(kept as the app wrote them); run `encryption rotate` again"
                )
        db.session.commit()  # one batch at a time: a stopped run keeps what it did
    echo(f"{spec.name}: {report.rewritten[spec.name]} rows re-encrypted")


def _rotate_documents(ring: Keyring, report: Report, echo: Callable[[str], None]) -> None:
    from lms.licensure.models import Document

    backend = storage().backend
    last = 0
    while True:
        batch = db.session.execute(
            select(Document.id, Document.storage_key)
            .where(Document.id > last)
            .order_by(Document.id)
            .limit(BATCH)
        ).all()
        if not batch:
            break
        for document_id, key in batch:
            try:
                stored = backend.read(key)
            except StorageError:
                report.problems.append(f"document #{document_id}: the stored file is missing")
                continue
            if ring.file_is_current(stored):
                continue
            try:
                plain = ring.open_file(stored)
            except DecryptionError:
                report.problems.append(f"document #{document_id}: no key can decrypt it")
                continue
            backend.overwrite(key, ring.seal_file(plain), "application/octet-stream")
            report.rewritten["documents"] += 1
        last = batch[-1][0]
    echo(f"documents: {report.rewritten['documents']} files re-encrypted")


def status(ring: Keyring | None = None) -> Report:
    """How many values and documents each key holds (nothing is changed)."""
    ring = ring or keyring()
    report = Report()
    for spec in encrypted_tables():
        raw = _raw_table(spec)
        for rows in _batches(raw, spec.columns):
            for row in rows:
                for value in row[1:]:
                    if value is not None:
                        report.held[spec.name, _holder(ring, value.encode())] += 1
    from lms.licensure.models import Document

    backend = storage().backend
    for (key,) in db.session.execute(select(Document.storage_key)):
        try:
            stored = backend.read(key)
        except StorageError:
            report.held["documents", "missing"] += 1
            continue
        if not stored.startswith(FILE_HEADER):
            report.held["documents", "not encrypted"] += 1
        else:
            report.held["documents", _holder(ring, stored[len(FILE_HEADER) :])] += 1
    return report


def _holder(ring: Keyring, token: bytes) -> str:
    index = ring.key_index(token)
    return "unreadable" if index is None else _name(ring, index)


def _name(ring: Keyring, index: int) -> str:
    label = "newest" if index == 0 else f"older #{index}"
    return f"key {fingerprint(ring.keys[index])} ({label})"


def register(app: Flask) -> None:
    @app.cli.group("encryption")
    def encryption() -> None:
        """Encryption at rest: new keys, key status, key rotation (docs/SECURITY.md)."""

    @encryption.command("new-key")
    def new_key_command() -> None:
        """Print a new random key for ENCRYPTION_KEYS."""
        click.echo(new_key())

    @encryption.command("status")
    def status_command() -> None:
        """How many encrypted values and documents each configured key holds."""
        ring = keyring()
        for index in range(len(ring.keys)):
            click.echo(f"{_name(ring, index)}{'  (encrypts new data)' if index == 0 else ''}")
        report = status(ring)
        for (where, holder), count in sorted(report.held.items()):
            click.echo(f"  {where:<22} {count:>9,}  {holder}")
        stale = sum(n for (_w, h), n in report.held.items() if "newest" not in h)
        if stale:
            click.echo(
                f"{stale:,} values or files are not under the newest key: run "
                "`flask --app app encryption rotate`."
            )
            if any(h in ("unreadable", "missing") for (_w, h) in report.held):
                raise SystemExit(1)
        else:
            click.echo("Everything is under the newest key; older keys can be removed.")

    @encryption.command("rotate")
    def rotate_command() -> None:
        """Re-encrypt everything under the newest key (safe to stop and run again)."""
        ring = keyring()
        click.echo(f"Re-encrypting under {_name(ring, 0)}...")
        report = rotate(ring, echo=click.echo)
        for problem in report.problems:
            click.echo(f"  problem: {problem}", err=True)
        click.echo(f"Done: {report.total_rewritten:,} values and files re-encrypted.")
        if report.problems:
            raise SystemExit(1)
