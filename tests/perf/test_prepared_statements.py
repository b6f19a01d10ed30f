"""Server-side prepared statements on PostgreSQL, kept from one request to the next.

psycopg prepares a statement a connection has run five times, and PostgreSQL then stops
planning it on every run (planning was most of the database's time on the key pages,
docs/PERFORMANCE.md). psycopg forgets everything it prepared at each ROLLBACK, and every page
that only reads ended in one: such a transaction now ends with COMMIT (the same for the
database when nothing was written), while anything that wrote is rolled back as before.

PostgreSQL soon plans a prepared statement once for any parameters; such a generic plan
cannot use a partial index whose condition is a parameter, so the SQL writes those values
(the support queue's active requests: 39 ms instead of 1.6 ms once, at the seeded scale).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, text

from lms import create_app
from lms.config import load_config
from lms.db import PREPARE_THRESHOLD, _commit_if_only_read, mark_written
from lms.extensions import db
from lms.support.models import ACTIVE_STATUSES, SupportRequest
from tests.conftest import make_config, pg_url

PG = "postgresql+psycopg://lms@db.internal/lms"
SCRATCH = "lms_test_prepared_scratch"


def test_the_setting_is_on_by_default_and_read_from_the_environment() -> None:
    assert load_config(environ={})["DATABASE_PREPARED_STATEMENTS"] is True
    off = load_config(environ={"DATABASE_PREPARED_STATEMENTS": "off"})
    assert off["DATABASE_PREPARED_STATEMENTS"] is False


@pytest.mark.parametrize(("setting", "threshold"), [(True, PREPARE_THRESHOLD), (False, None)])
def test_the_engine_prepares_statements_unless_turned_off(
    tmp_path: Path, engine_options: dict[str, Any], setting: bool, threshold: int | None
) -> None:
    create_app(
        make_config(
            DATABASE_URL=PG, DATABASE_PREPARED_STATEMENTS=setting, INSTANCE_PATH=str(tmp_path)
        )
    )
    assert engine_options["connect_args"]["prepare_threshold"] == threshold
    # the JIT option is kept beside it
    assert engine_options["connect_args"]["options"] == "-c jit=off"


@pytest.fixture
def pg_app(app: Flask, tmp_path: Path) -> Iterator[Flask | None]:
    """An app with its own engine (and pool) on the suite's PostgreSQL database, migrated by
    the suite's ``app``; not bound to a test's outer transaction: what it commits stays.
    None on SQLite."""
    url = pg_url()
    if not url:
        yield None
        return
    application = create_app(make_config(DATABASE_URL=url, INSTANCE_PATH=str(tmp_path)))
    with application.app_context(), db.engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE IF NOT EXISTS {SCRATCH} (n integer)"))
        connection.execute(text(f"DELETE FROM {SCRATCH}"))
    yield application
    with application.app_context():
        with db.engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {SCRATCH}"))
        db.engine.dispose()


def _prepared(application: Flask) -> list[str]:
    """The statements prepared on the app's (only) pooled connection."""
    with application.app_context():
        rows = db.session.execute(text("SELECT statement FROM pg_prepared_statements"))
        return [r[0] for r in rows]


def _scratch_rows(application: Flask) -> int:
    with application.app_context(), db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {SCRATCH}")).scalar_one())


def test_only_postgresql_ends_reads_with_commit(app: Flask, pg_app: Flask | None) -> None:
    engine = app.extensions["lms.db"].engine
    installed = event.contains(engine, "rollback", _commit_if_only_read)
    assert installed is (engine.dialect.name == "postgresql")
    if pg_app is None:
        # SQLite has no prepared statements on the server; `make test` runs this file on
        # PostgreSQL too (in CI as well), where the tests below run.
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")


def test_a_page_that_only_reads_keeps_its_prepared_statements(pg_app: Flask | None) -> None:
    if pg_app is None:
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    client = pg_app.test_client()
    for _ in range(PREPARE_THRESHOLD + 3):
        # A public page that reads one certificate by its code, and writes nothing.
        response = client.get("/verify/AAAA-BBBB-CCCC-DDDD-EEEE")
        assert response.status_code == 404
        assert b"No certificate has this code" in response.data
    # Ended with ROLLBACK, psycopg would have deallocated it after every page.
    assert any("FROM certificates" in s for s in _prepared(pg_app))


def test_what_a_request_wrote_and_did_not_commit_is_rolled_back(pg_app: Flask | None) -> None:
    if pg_app is None:
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    with pg_app.app_context():
        db.session.execute(text(f"SELECT count(*) FROM {SCRATCH}"))
        db.session.execute(text(f"INSERT INTO {SCRATCH} (n) VALUES (1)"))
        db.session.execute(text(f"SELECT count(*) FROM {SCRATCH}"))
        # no commit: the request ends (the app context's teardown closes the session)
    assert _scratch_rows(pg_app) == 0
    with pg_app.app_context():
        db.session.execute(text(f"INSERT INTO {SCRATCH} (n) VALUES (2)"))
        db.session.rollback()  # an explicit rollback after a write is one too
        db.session.execute(text(f"SELECT count(*) FROM {SCRATCH}"))
    assert _scratch_rows(pg_app) == 0


def test_writes_through_the_driver_are_rolled_back_when_marked(pg_app: Flask | None) -> None:
    """``COPY`` (lms/scale.py) goes around SQLAlchemy, which cannot see it: marked, its
    transaction is rolled back; unmarked, it would be taken for a read and committed."""
    if pg_app is None:
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    for marked, expected in ((True, 0), (False, 1)):
        with pg_app.app_context():
            db.session.execute(text("SELECT 1"))
            raw = db.session.connection().connection.dbapi_connection
            if marked:
                mark_written(raw)
            with raw.cursor() as cursor, cursor.copy(f"COPY {SCRATCH} (n) FROM STDIN") as copy:
                copy.write_row([3])
        assert _scratch_rows(pg_app) == expected


def test_a_failed_read_is_rolled_back_and_the_next_page_works(pg_app: Flask | None) -> None:
    if pg_app is None:
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    with pg_app.app_context(), pytest.raises(Exception, match="division by zero"):
        db.session.execute(text("SELECT 1 / 0"))
    response = pg_app.test_client().get("/verify/AAAA-BBBB-CCCC-DDDD-EEEE")
    assert response.status_code == 404


def _generic_plan(connection: Any, name: str, sql: str, *args: str) -> str:
    """The plan PostgreSQL makes once for any parameters (as for a prepared statement)."""
    connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    connection.exec_driver_sql(f"PREPARE {name} AS {sql}")
    try:
        arguments = f"({', '.join(repr(a) for a in args)})" if args else ""
        rows = connection.exec_driver_sql(f"EXPLAIN EXECUTE {name}{arguments}").all()
    finally:
        connection.exec_driver_sql(f"DEALLOCATE {name}")
    return "\n".join(r[0] for r in rows)


def test_the_active_queue_uses_its_index_even_in_a_generic_plan(db_session: Any) -> None:
    """The statuses are written into the SQL, so even a plan made for any parameters can use
    the partial index; sent as parameters, it cannot (the contrast shows the test can fail)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        # Prepared statements and generic plans are PostgreSQL's; `make test` runs the
        # suite on PostgreSQL too (in CI as well), where this test runs.
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    active = (
        select(SupportRequest.id)
        .where(SupportRequest.active_condition())
        .order_by(SupportRequest.due_at, SupportRequest.id)
    )
    sql = str(active.compile(connection, compile_kwargs={"render_postcompile": True}))
    assert "'open'" in sql  # values, not placeholders
    assert "ix_support_requests_active_due_at" in _generic_plan(connection, "lms_active", sql)
    as_parameters = (
        "SELECT id FROM support_requests WHERE status IN ($1, $2, $3) ORDER BY due_at, id"
    )
    statuses = [s.value for s in ACTIVE_STATUSES]
    plan = _generic_plan(connection, "lms_active_params", as_parameters, *statuses)
    assert "ix_support_requests_active_due_at" not in plan


def _prepared_plans(connection: Any, start: str) -> tuple[str, int, int]:
    """The statement prepared on ``connection`` whose SQL starts with ``start``, with how
    many times PostgreSQL planned it once for any values (generic plans) and for its values
    (custom plans)."""
    rows = connection.execute(
        text(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE :like"
        ),
        {"like": f"{start}%"},
    ).all()
    assert len(rows) == 1, rows
    return rows[0][0], int(rows[0][1]), int(rows[0][2])


def test_the_admin_dashboards_rows_are_planned_once(db_session: Any) -> None:
    """The dashboard's boxes of records and of referrals write their limit and statuses into
    the SQL: the referrals' statement has no parameter left and is planned once; the records'
    keeps only the expiry window's two dates. With all of them parameters, PostgreSQL's
    generic plan came out dearer than one made for the values at the seeded scale, and it
    planned both statements again on every page (docs/PERFORMANCE.md, "The seventeenth
    round"); at the test's few rows it may not, so the SQL itself is held too."""
    from datetime import date

    from lms.admin import reports
    from lms.db import utcnow

    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    runs = PREPARE_THRESHOLD + 8
    for _ in range(runs):
        reports.dashboard_boxes(utcnow(), date.today())
    referrals, generic, custom = _prepared_plans(connection, "SELECT referrals.id")
    assert "$" not in referrals and "LIMIT 8" in referrals and "'new'" in referrals
    assert custom == 0 and generic == runs - PREPARE_THRESHOLD
    records, generic, custom = _prepared_plans(connection, "SELECT records.box")
    # $1 and $2: today and the end of the window, each used by both kinds of record.
    assert set(re.findall(r"\$\d+", records)) == {"$1", "$2"}, records
    assert records.count("LIMIT 8") == 4 and "'pending'" in records and "'verified'" in records
    assert custom <= 5 and generic + custom == runs - PREPARE_THRESHOLD
