"""Embedded SQLite: a request that changes things holds the write lock from its first
statement, so a writer committing in between cannot make it fail with "database is
locked" (a card payment did, while Stripe's webhook wrote the same payment). Runs on an
SQLite app of its own, whatever database the rest of the suite uses."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from lms import create_app
from lms.extensions import db
from tests.conftest import make_config


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[tuple[Flask, Path]]:
    path = tmp_path / "lms.sqlite3"
    app = create_app(
        make_config(DATABASE_URL=f"sqlite:///{path}", INSTANCE_PATH=str(tmp_path / "instance"))
    )
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE payments (id INTEGER PRIMARY KEY, status TEXT)"))
        conn.execute(text("INSERT INTO payments (id, status) VALUES (1, 'pending')"))
    yield app, path
    with app.app_context():
        db.engine.dispose()


def _webhook_writes(path: Path) -> None:
    """Another process (the webhook, a job) sets the payment's status and commits."""
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("UPDATE payments SET status = 'failed' WHERE id = 1")
    finally:
        other.close()


def test_a_post_request_keeps_its_write_after_another_writer_tried(sqlite_app) -> None:
    app, path = sqlite_app
    post = app.test_request_context("/payments/1/card", method="POST")
    with post, db.engine.begin() as conn:
        assert conn.scalar(text("SELECT status FROM payments WHERE id = 1")) == "pending"
        # The other writer waits for this request instead of slipping in between.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _webhook_writes(path)
        conn.execute(text("UPDATE payments SET status = 'processing' WHERE id = 1"))
    _webhook_writes(path)  # once the request committed, the other writer goes ahead
    with app.app_context(), db.engine.connect() as conn:
        assert conn.scalar(text("SELECT status FROM payments WHERE id = 1")) == "failed"


def test_a_page_that_only_reads_never_holds_the_write_lock(sqlite_app) -> None:
    app, path = sqlite_app
    with app.test_request_context("/support/1", method="GET"), db.engine.begin() as conn:
        assert conn.scalar(text("SELECT status FROM payments WHERE id = 1")) == "pending"
        _webhook_writes(path)  # not blocked by the reading page
        # (The hazard the writing requests avoid: this read transaction can no longer
        # write, SQLite refuses at once.)
        with pytest.raises(OperationalError, match="locked"):
            conn.execute(text("UPDATE payments SET status = 'processing' WHERE id = 1"))
