"""PostgreSQL's JIT compiler is off for the app's connections unless DATABASE_JIT is on.

JIT compilation (0.3-1 s) of the list pages' queries over thousands of therapists cost far
more than the queries run (docs/PERFORMANCE.md). The setting travels in the connection's
start-up options, so it needs no statement of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from lms import create_app
from lms.config import load_config
from lms.db import postgresql_jit_off
from lms.extensions import db
from tests.conftest import make_config, pg_url

PG = "postgresql+psycopg://lms@db.internal/lms"


def test_jit_is_off_by_default_and_can_be_read_from_the_environment() -> None:
    assert load_config(environ={})["DATABASE_JIT"] is False
    assert load_config(environ={"DATABASE_JIT": "on"})["DATABASE_JIT"] is True
    assert load_config(environ={"DATABASE_JIT": "off"})["DATABASE_JIT"] is False


def test_the_connection_options_keep_what_the_url_sets() -> None:
    assert postgresql_jit_off(PG) == {"options": "-c jit=off"}
    assert postgresql_jit_off(PG + "?options=-c%20search_path%3Dlms") == {
        "options": "-c search_path=lms -c jit=off"
    }
    # A URL that sets jit itself (either way) is left alone.
    assert postgresql_jit_off(PG + "?options=-c%20jit%3Don") == {}
    assert postgresql_jit_off(PG + "?options=-cjit%3Doff") == {}
    # A neighbouring setting is not the switch.
    assert postgresql_jit_off(PG + "?options=-c%20jit_above_cost%3D1") == {
        "options": "-c jit_above_cost=1 -c jit=off"
    }


@pytest.mark.parametrize(("setting", "expected"), [(False, "-c jit=off"), (True, None)])
def test_the_engine_gets_the_option_only_when_jit_is_off(
    tmp_path: Path, engine_options: dict[str, Any], setting: bool, expected: str | None
) -> None:
    create_app(make_config(DATABASE_URL=PG, DATABASE_JIT=setting, INSTANCE_PATH=str(tmp_path)))
    assert engine_options.get("connect_args", {}).get("options") == expected


@pytest.fixture
def jit_app(tmp_path: Path) -> Iterator[Flask | None]:
    """An app with DATABASE_JIT on, on the suite's PostgreSQL database (None on SQLite)."""
    url = pg_url()
    if not url:
        yield None
        return
    application = create_app(
        make_config(DATABASE_URL=url, DATABASE_JIT=True, INSTANCE_PATH=str(tmp_path))
    )
    yield application
    with application.app_context():
        db.engine.dispose()


def test_the_suites_connections_run_without_jit(
    app: Flask, db_session: Any, jit_app: Flask | None
) -> None:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        # SQLite has no JIT, and its engine gets no PostgreSQL options.
        assert "options" not in str(app.extensions["lms.db"].engine.url)
        assert jit_app is None
        return
    jit = text("SELECT setting, source FROM pg_settings WHERE name = 'jit'")
    # Set by the connection's start-up options ("client"), not by the server's configuration.
    assert tuple(connection.execute(jit).one()) == ("off", "client")
    assert jit_app is not None
    with jit_app.app_context(), db.engine.connect() as other:
        assert other.execute(jit).one().source != "client"  # the server's own setting
