"""No server-side prepared statements on PostgreSQL.

psycopg prepares a query on the server after its fifth run; PostgreSQL then soon switches to
one generic plan for any parameters, which cannot use a partial index whose condition is a
parameter in the query (the support queue's active-requests index: 39 ms instead of 1.6 ms
at the seeded scale, docs/PERFORMANCE.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from lms import create_app
from lms.extensions import db
from lms.support.models import ACTIVE_STATUSES, SupportRequest
from tests.conftest import make_config


def test_the_engine_turns_preparing_off(tmp_path: Path, engine_options: dict[str, Any]) -> None:
    url = "postgresql+psycopg://lms@db.internal/lms"
    create_app(make_config(DATABASE_URL=url, INSTANCE_PATH=str(tmp_path)))
    assert engine_options["connect_args"]["prepare_threshold"] is None
    # the JIT option is kept beside it
    assert engine_options["connect_args"]["options"] == "-c jit=off"


def test_a_query_run_many_times_is_never_prepared(db_session: Any) -> None:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        # Prepared statements and generic plans are PostgreSQL's; `make test` runs the
        # suite on PostgreSQL too (in CI as well), where this test runs.
        pytest.skip("PostgreSQL-only behaviour; checked in the suite's PostgreSQL pass")
    queue_count = select(SupportRequest.id).where(SupportRequest.status.in_(ACTIVE_STATUSES))
    for _ in range(12):  # psycopg's default would prepare it after the fifth
        connection.execute(queue_count).all()
    prepared = connection.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    assert prepared == 0


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
