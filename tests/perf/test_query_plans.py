"""The big lists read their tables through indexes: the support queue, the therapist
directory and the audit log.

Each test opens the page, captures every SQL statement it sent (with its parameters, as
sent), and asks the database how it would run each one that reads a big table. On SQLite
``EXPLAIN QUERY PLAN`` must show every access to those tables going through an index; on
PostgreSQL ``EXPLAIN`` runs with sequential scans disabled (``enable_seqscan = off``), so
the planner takes an index whenever one can serve the query and falls back to reading the
whole table only when none can: on a small test database that makes the answer the same
as on the seeded one. (``python -m bench.run`` records the plans at seeded scale.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from lms.accounts.models import Role, User
from lms.extensions import db
from tests.certification.conftest import give_license
from tests.perf.conftest import add_audit_rows, add_requests

BIG_TABLES = ("support_requests", "support_events", "audit_events", "users", "licenses")


@contextmanager
def captured(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app sends meanwhile, with its parameters."""
    engine = app.extensions["lms.db"].engine
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def reads(statement: str, table: str) -> bool:
    return re.search(rf"\b(FROM|JOIN)\s+{table}\b", statement) is not None


def postgresql_plan(statement: str, parameters: Any) -> dict[str, Any]:
    """PostgreSQL's plan of ``statement`` (its top node) with sequential scans disabled: an
    index whenever one can serve the query, as on the seeded database."""
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
    finally:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def full_scans(statement: str, parameters: Any) -> list[str]:
    """The big tables this statement would read whole (an empty list: indexes only)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        plan = postgresql_plan(statement, parameters)
        found: list[str] = []

        def walk(node: dict[str, Any]) -> None:
            if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
                found.append(node["Relation Name"])
            for child in node.get("Plans", []):
                walk(child)

        walk(plan)
        return found
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    found = []
    for row in rows:
        detail = str(row[-1])
        match = re.match(r"(SCAN|SEARCH) (\w+)", detail)
        if match and match.group(2) in BIG_TABLES and "USING" not in detail:
            found.append(f"{match.group(2)} ({detail})")
    return found


def check_page(app: Flask, client: FlaskClient, url: str, tables: tuple[str, ...]) -> list[str]:
    """Open ``url``; assert every statement reading ``tables`` uses indexes; return them."""
    with captured(app) as sent:
        assert client.get(url).status_code == 200
    checked = []
    for statement, parameters in sent:
        if not any(reads(statement, table) for table in tables):
            continue
        scans = full_scans(statement, parameters)
        assert not scans, f"{url}: reads {scans} whole:\n{statement}"
        checked.append(statement)
    return checked


@pytest.fixture
def people(make_user: Callable[..., User], make_certified: Callable[..., User]) -> dict[str, Any]:
    clinician = make_user(Role.CLINICIAN)
    admin = make_user(Role.ADMIN)
    therapist = make_certified(full_name="Sam Smith")
    for i in range(30):
        give_license(make_user(Role.THERAPIST, full_name=f"Smith {i}"), state="CO")
    add_requests(therapist, 40, clinician=clinician)
    add_audit_rows(admin, 60)
    return {"clinician": clinician, "admin": admin, "therapist": therapist}


def test_support_queue_uses_indexes(
    app: Flask, client: FlaskClient, login: Any, people: dict[str, Any]
) -> None:
    login(people["clinician"])
    for url in (
        "/clinical/support",
        "/clinical/support?urgency=urgent",
        "/clinical/support?mine=1",
        "/clinical/support?status=resolved",
        "/clinical/support/live",
    ):
        checked = check_page(app, client, url, ("support_requests",))
        # The page of rows and its count at least: the test cannot pass by checking nothing.
        assert len(checked) >= 2, url


def test_therapist_directory_uses_indexes(
    app: Flask, client: FlaskClient, login: Any, people: dict[str, Any]
) -> None:
    login(people["admin"])
    for url in ("/admin/therapists", "/admin/therapists?state=CO", "/admin/therapists?q=smith"):
        checked = check_page(app, client, url, ("users", "licenses"))
        assert len(checked) >= 2, url


def test_audit_log_uses_indexes(
    app: Flask, client: FlaskClient, login: Any, people: dict[str, Any]
) -> None:
    login(people["admin"])
    actor = f"/admin/audit?actor={people['admin'].email}"
    for url in ("/admin/audit", "/admin/audit?action=auth", actor):
        checked = check_page(app, client, url, ("audit_events",))
        assert len(checked) >= 2, url


def plan_text(statement: str, parameters: Any, *, sorts_off: bool = False) -> str:
    """The database's plan for ``statement``, as text (sequential scans off on PostgreSQL,
    as in :func:`full_scans`; with ``sorts_off``, sorts too, so that the planner takes an
    index that gives the rows in order whenever there is one, as it does at scale)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        switches = ("enable_seqscan", "enable_sort") if sorts_off else ("enable_seqscan",)
        for switch in switches:
            connection.exec_driver_sql(f"SET LOCAL {switch} = off")
        try:
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        finally:
            for switch in switches:
                connection.exec_driver_sql(f"SET LOCAL {switch} = on")
    else:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    ("url", "condition", "index", "whole_order"),
    [
        # The audit viewer's actor filter, newest first (migration a1c2e3f4a5b6).
        (
            "/admin/audit?actor={admin}",
            "audit_events.actor_email =",
            "ix_audit_events_actor_email_created_at",
            False,
        ),
        # The therapist directory's default order: role = therapist, newest first.
        ("/admin/therapists", "users.role =", "ix_users_role_created_at", False),
        # The queue filtered to finished requests, newest first (migration f5e74f5092a1).
        (
            "/clinical/support?status=resolved",
            # (a clause of its own: the counters' FILTER (WHERE …) is another index's)
            "\nWHERE support_requests.status =",
            "ix_support_requests_status_filed_at",
            True,
        ),
    ],
)
def test_filter_and_order_walk_their_index(
    app: Flask,
    client: FlaskClient,
    login: Any,
    people: dict[str, Any],
    url: str,
    condition: str,
    index: str,
    whole_order: bool,
) -> None:
    """The page's rows and its count both come from the index made for the filter and the
    order together (not another index and a sort of every match). With ``whole_order`` the
    index holds the order's tie-breaker (the id) too, and the rows need no sort at all."""
    login(people["admin"])
    with captured(app) as sent:
        assert client.get(url.format(admin=people["admin"].email)).status_code == 200
    filtered = [(statement, parameters) for statement, parameters in sent if condition in statement]
    assert len(filtered) >= 2, [s for s, _ in sent]  # the count and the rows
    for statement, parameters in filtered:
        plan = plan_text(statement, parameters, sorts_off=whole_order)
        assert index in plan, statement
        if whole_order:  # no sort step (SQLite's "USE TEMP B-TREE", PostgreSQL's Sort)
            assert "TEMP B-TREE" not in plan and not re.search(r"\bSort\b", plan), plan


def test_a_page_without_an_index_is_caught(app: Flask, people: dict[str, Any]) -> None:
    """The check itself can fail: a filter on a column without an index is a full scan."""
    statement = "SELECT id FROM audit_events WHERE ip_address = " + (
        "%(ip)s" if db.session.connection().dialect.name == "postgresql" else "?"
    )
    parameters: Any = (
        {"ip": "203.0.113.9"} if db.session.connection().dialect.name == "postgresql" else ("x",)
    )
    assert full_scans(statement, parameters) == ["audit_events"] or full_scans(
        statement, parameters
    )[0].startswith("audit_events")


def test_directory_search_counts_through_the_trigram_indexes(
    app: Flask, client: FlaskClient, login: Any, people: dict[str, Any]
) -> None:
    """On PostgreSQL a "contains" search can count its matches from the trigram indexes of
    names and e-mails (migration d8e9f0a1b2c3), not only by reading every therapist."""
    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("PostgreSQL-only index (pg_trgm); checked in the suite's PostgreSQL pass")
    login(people["admin"])
    with captured(app) as sent:
        assert client.get("/admin/therapists?q=smith").status_code == 200
    counts = [(s, p) for s, p in sent if "count(*)" in s and "LIKE" in s]
    assert counts, [s for s, _ in sent]
    # On a few test rows the planner may as well walk the role index; without it (dropped
    # inside this test's transaction, which is rolled back) only the trigram indexes can
    # spare reading the whole table. With thousands of therapists it picks them with the
    # role index in place (the next test; the plans `python -m bench.run` records:
    # "directory search").
    db.session.connection().exec_driver_sql("DROP INDEX ix_users_role_created_at")
    for statement, parameters in counts:
        plan = plan_text(statement, parameters)
        assert "ix_users_full_name_trgm" in plan and "ix_users_email_trgm" in plan, plan


def _many_therapists(n: int) -> None:
    """``n`` therapists in one statement (one "Smith" in 40), their names moved into the
    trigram indexes proper and fresh statistics taken, so PostgreSQL plans as on a network
    of thousands (PostgreSQL only)."""
    import secrets
    from datetime import timedelta

    from sqlalchemy import insert

    from lms.db import utcnow

    now = utcnow()
    last = ["Smith" if i % 40 == 0 else f"Rivera{i % 97}" for i in range(n)]
    db.session.execute(
        insert(User),
        [
            {
                "email": f"planner{i}@plans.example",
                "full_name": f"Alex {last[i]}",
                "password_hash": "x",
                "role": Role.THERAPIST,
                "session_token": secrets.token_hex(32),
                "created_at": now - timedelta(minutes=i),
            }
            for i in range(n)
        ],
    )
    connection = db.session.connection()
    for index in ("ix_users_full_name_trgm", "ix_users_email_trgm"):  # as VACUUM would
        connection.exec_driver_sql(f"SELECT gin_clean_pending_list('{index}'::regclass)")
    connection.exec_driver_sql("ANALYZE users")


def test_directory_search_is_counted_from_the_trigram_indexes_at_scale(
    app: Flask, client: FlaskClient, login: Any, people: dict[str, Any]
) -> None:
    """With thousands of therapists the search's count reads the matches from the trigram
    indexes, with the order index in place (``lms.db.window_counted``). Put in one SELECT
    with the page's LIMIT, PostgreSQL planned to walk the order index as if it could stop
    early, and read every therapist's name instead (docs/PERFORMANCE.md, "The twelfth
    round")."""
    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("PostgreSQL-only index (pg_trgm); checked in the suite's PostgreSQL pass")
    from sqlalchemy import func
    from sqlalchemy.dialects import postgresql

    from lms.admin import reports
    from lms.db import utcnow

    _many_therapists(3000)
    login(people["admin"])
    with captured(app) as sent:
        assert client.get("/admin/therapists?q=smith").status_code == 200
    counts = [(s, p) for s, p in sent if "count(*) OVER" in s and "LIKE" in s]
    assert len(counts) == 1, [s for s, _ in sent]
    plan = plan_text(*counts[0])
    assert "ix_users_full_name_trgm" in plan and "ix_users_email_trgm" in plan, plan
    assert "ix_users_role_created_at" not in plan, plan
    # The check can fail: the same search as one SELECT walks the order index.
    search, params = reports.directory_query(reports.DirectoryFilters(q="smith"), utcnow())
    one_select = search.params(**params).add_columns(func.count().over()).limit(25).offset(0)
    # As psycopg receives it: the values written into the SQL there (the role), the rest as
    # parameters.
    expanded = one_select.compile(dialect=postgresql.psycopg.dialect()).construct_expanded_state()
    assert "ix_users_role_created_at" in plan_text(expanded.statement, expanded.parameters)


def _many_finished_requests(therapist: User, n: int) -> None:
    """``n`` resolved requests in one statement (one subject in 100 with the word
    "findable"), their terms moved into the trigram index proper and fresh statistics
    taken, so PostgreSQL plans as on years of requests (PostgreSQL only)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from lms.crypto import search_terms
    from lms.db import utcnow
    from lms.support.models import SupportRequest

    now = utcnow()
    subjects = [f"Findable case {i}" if i % 100 == 0 else f"Routine {i}" for i in range(n)]
    rows = []
    for i, subject in enumerate(subjects):
        filed = now - timedelta(hours=i + 1)
        rows.append(
            {
                "therapist_id": therapist.id,
                "category": "medication",
                "urgency": "routine",
                "subject": subject,
                "description": "A question about a patient.",
                "callback_phone": "303-555-0100",
                "search_terms": search_terms(subject),
                "status": "closed",
                "target_minutes": 120,
                "filed_at": filed,
                "due_at": filed + timedelta(hours=2),
                "closed_at": filed + timedelta(minutes=30),
                "updated_at": filed,
            }
        )
    db.session.execute(insert(SupportRequest), rows)
    connection = db.session.connection()
    connection.exec_driver_sql(
        "SELECT gin_clean_pending_list('ix_support_requests_search_terms_trgm'::regclass)"
    )
    connection.exec_driver_sql("ANALYZE support_requests")


def _many_referrals(therapist: User, n: int) -> None:
    """``n`` referrals of ``therapist`` in one statement (one patient in 100 named
    "Findable"), indexed and analysed as above (PostgreSQL only)."""
    from sqlalchemy import insert

    from lms.crypto import search_terms
    from lms.db import utcnow
    from lms.referrals.models import Referral

    now = utcnow()
    names = [f"Pat Findable {i}" if i % 100 == 0 else f"Pat Other {i}" for i in range(n)]
    db.session.execute(
        insert(Referral),
        [
            {
                "therapist_id": therapist.id,
                "patient_name": name,
                "search_terms": search_terms(name),
                "email": "p@example.net",
                "phone": "303-555-0100",
                "state": "CO",
                "consent_confirmed_at": now,
                "status": "eligible",
                "created_at": now,
                "updated_at": now,
            }
            for name in names
        ],
    )
    connection = db.session.connection()
    connection.exec_driver_sql(
        "SELECT gin_clean_pending_list('ix_referrals_search_terms_trgm'::regclass)"
    )
    connection.exec_driver_sql("ANALYZE referrals")


@pytest.mark.parametrize(
    ("url", "table", "index"),
    [
        (
            "/clinical/support?q=findable&status=closed",
            "support_requests",
            "ix_support_requests_search_terms_trgm",
        ),
        ("/clinical/referrals?q=findable", "referrals", "ix_referrals_search_terms_trgm"),
    ],
)
def test_searches_by_words_read_the_trigram_indexes_at_scale(
    app: Flask, client: FlaskClient, login: Any, people: dict[str, Any], url, table, index
) -> None:
    """The clinicians' searches by words of an encrypted text (a request's subject, a
    patient's name) find their rows through the search terms' trigram index (migration
    b3d5f7a9c1e2), page and count alike. The queue's search also matches the therapist's
    name: written ``IN (SELECT …)`` inside the OR, PostgreSQL applied it row by row and read
    every request whatever the index (``lms.db.in_select``; docs/PERFORMANCE.md, "The
    twentieth round")."""
    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("PostgreSQL-only index (pg_trgm); checked in the suite's PostgreSQL pass")
    connection = db.session.connection()
    before = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar()
    if table == "support_requests":
        _many_finished_requests(people["therapist"], 3000)
        # Here every request is closed, and 3,000 of them are few enough for the planner to
        # read them all from the status or the filing-time index and filter; at the seeded
        # scale (53,000) it takes the trigram index (`bench.run`'s plans: "queue search").
        # Without those two (dropped inside this test's transaction, rolled back), only the
        # trigram index with the therapist index can spare reading every request.
        for other in ("ix_support_requests_status_filed_at", "ix_support_requests_filed_at"):
            connection.exec_driver_sql(f"DROP INDEX {other}")
    else:
        _many_referrals(people["therapist"], 3000)
    login(people["clinician"])
    try:
        with captured(app) as sent:
            page = client.get(url)
        assert page.status_code == 200
        assert page.get_data(as_text=True).count("Findable") >= 25  # a full page of matches
        searches = [(st, p) for st, p in sent if reads(st, table) and "search_terms LIKE" in st]
        assert len(searches) == 2, [st for st, _ in sent]  # the page's rows and their count
        for statement, parameters in searches:
            plan = plan_text(statement, parameters)
            assert index in plan, plan
    finally:
        # The rows go with the test's transaction, but ANALYZE wrote the table's size into
        # the catalogue in place: count it again without them, or the later tests' plans
        # would be made for 3,000 rows.
        connection.exec_driver_sql(f"DELETE FROM {table} WHERE id > %(before)s", {"before": before})
        connection.exec_driver_sql(f"ANALYZE {table}")


def test_requirement_flags_read_the_records_of_the_listed_therapists_only(
    app: Flask, people: dict[str, Any]
) -> None:
    """A page of the directory asks for each listed therapist's requirements in one
    statement. Its insurance and agreement conditions name the page's therapists again, so
    PostgreSQL reads those records for them alone; without that it read both tables whole
    into a hash on every page (docs/PERFORMANCE.md, "The twelfth round")."""
    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner choice; checked in the suite's PostgreSQL pass")
    from datetime import date, timedelta

    from sqlalchemy import bindparam, insert, select

    from lms.certification import services as certification
    from lms.certification.models import AgreementAcceptance
    from lms.db import utcnow
    from lms.licensure.models import InsurancePolicy, RecordStatus

    _many_therapists(3000)
    ids = list(db.session.scalars(select(User.id).where(User.email.like("planner%"))))
    db.session.execute(
        insert(InsurancePolicy),
        [
            {
                "user_id": user_id,
                "carrier": "Carrier",
                "policy_number": f"P-{user_id}",
                "per_claim_cents": 100_000_000,
                "aggregate_cents": 300_000_000,
                "expires_on": date.today() + timedelta(days=200),
                "status": RecordStatus.VERIFIED,
            }
            for user_id in ids
        ],
    )
    db.session.execute(
        insert(AgreementAcceptance),
        [
            {"user_id": user_id, "version": 1, "text_sha256": "0" * 64, "full_name_typed": "A"}
            for user_id in ids
        ],
    )
    connection = db.session.connection()
    connection.exec_driver_sql("ANALYZE insurance_policies")
    connection.exec_driver_sql("ANALYZE agreement_acceptances")
    now = utcnow()
    params = {"now": now, "day": now.date(), "user_ids": ids[100:125]}

    def plan_of(statement: Any) -> str:  # sequential scans allowed: the planner's own choice
        with captured(app) as sent:  # the SQL and parameters as the driver receives them
            db.session.execute(statement, params).all()
        rows = connection.exec_driver_sql(f"EXPLAIN {sent[0][0]}", sent[0][1])
        return "\n".join(str(row[0]) for row in rows)

    plan = plan_of(certification._flags_statement(1))
    for table in ("insurance_policies", "agreement_acceptances", "licenses"):
        assert f"Seq Scan on {table}" not in plan, plan
    # The check can fail: the same conditions without the page's ids read both tables whole.
    user_ids = bindparam("user_ids", expanding=True)
    clauses = certification._bound_clauses(1)
    plain = select(User.id, *(c.label(k) for k, c in clauses.items())).where(User.id.in_(user_ids))
    plain_plan = plan_of(plain)
    assert "Seq Scan on insurance_policies" in plain_plan, plain_plan
    rows = {r.id: r for r in db.session.execute(certification._flags_statement(1), params)}
    assert len(rows) == 25 and all(r.insurance and r.agreement for r in rows.values())


def test_generic_plans_of_the_big_lists_read_indexes(app: Flask, people: dict[str, Any]) -> None:
    """psycopg prepares a statement the app runs often, and PostgreSQL soon plans it once for
    any parameters (docs/PERFORMANCE.md, "The thirteenth round"). Those generic plans of the
    queue's, the directory's and the audit log's statements (as ``bench/explain.py`` records
    them at scale) still read the big tables through indexes."""
    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; checked in the suite's PostgreSQL pass")
    from sqlalchemy import func, select

    from bench.explain import generic_explain, page_statements
    from lms.support.models import ACTIVE_STATUSES, SupportRequest

    def scans(plan: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The big tables read whole, and the indexes read."""
        whole: list[str] = []
        indexes: list[str] = []

        def walk(node: dict[str, Any]) -> None:
            if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
                whole.append(node["Relation Name"])
            if node.get("Index Name"):
                indexes.append(node["Index Name"])
            for child in node.get("Plans", []):
                walk(child)

        walk(plan["Plan"])
        return whole, indexes

    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    statements = page_statements()
    assert len(statements) >= 10
    for name, stmt in statements.items():
        whole, indexes = scans(generic_explain(stmt))
        assert whole == [] and indexes, name
    # The plans are generic (made without the values): the counters read the queue's partial
    # index, whose condition is written in their SQL; the same count with the statuses as
    # parameters cannot use it, as a plan made for those values would.
    partial = "ix_support_requests_active_due_at"
    assert partial in scans(generic_explain(statements["queue counters"]))[1]
    as_parameters = select(func.count()).where(SupportRequest.status.in_(ACTIVE_STATUSES))
    assert partial not in scans(generic_explain(as_parameters))[1]
