"""The query plans of the big lists at seeded scale: the support queue, the therapist
directory and the audit log (the statements the pages run, built by the same functions,
counts as ``lms.db.paginate`` runs them).

``plans()`` returns, for each statement, the scans PostgreSQL chose: which tables were
read through an index and which were read whole; and the same for the plan PostgreSQL makes
once for any parameters (a *generic* plan), as it soon does for a statement the app runs
often, which psycopg prepares on the server (``lms.db.PREPARE_THRESHOLD``).
``tests/perf/test_query_plans.py``
holds the same statements to an index on any database; this is the at-scale view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import visitors

from lms.db import COUNT_LIMIT, count_statement, window_counted
from lms.extensions import db


@dataclass
class Plan:
    name: str
    sql: str
    index_scans: list[str]  # "table via index"
    seq_scans: list[str]  # tables read whole
    total_cost: float
    ms: float | None
    # The generic plan's (made once for any parameters, as for a prepared statement).
    generic_index_scans: list[str] = field(default_factory=list)
    generic_seq_scans: list[str] = field(default_factory=list)
    generic_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def page_statements(now: datetime | None = None) -> dict[str, Select[Any]]:
    """The list pages' statements: one page of rows and the count ``paginate`` runs."""
    from lms.accounts.models import Role, User
    from lms.admin import reports
    from lms.audit import AuditEvent
    from lms.crypto import matches_terms
    from lms.referrals.models import Referral
    from lms.support import services as support

    now = now or datetime.now(UTC)
    clinician = db.session.scalar(select(User).where(User.role == Role.CLINICIAN).limit(1))
    queue = support.queue_query(clinician, support.QueueFilter(), now)  # type: ignore[arg-type]
    resolved = support.queue_query(
        clinician,  # type: ignore[arg-type]
        support.QueueFilter(status=support.Status.RESOLVED.value),
        now,
    )

    # A clinician looking up a therapist's or a patient's earlier requests and referrals.
    searched = support.queue_query(
        clinician,  # type: ignore[arg-type]
        support.QueueFilter(status=support.Status.RESOLVED.value, q="smith"),
        now,
    )
    referrals = (
        select(Referral)
        .where(matches_terms(Referral.search_terms, "smith"))
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    )

    def directory_query(filters: Any) -> Select[Any]:  # with its values bound, to explain
        stmt, params = reports.directory_query(filters, now)
        return stmt.params(**params)

    directory = directory_query(reports.DirectoryFilters())
    by_state = directory_query(reports.DirectoryFilters(state="CO"))
    search = directory_query(reports.DirectoryFilters(q="smith"))
    audit = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    actor = db.session.scalar(
        select(AuditEvent.actor_email).where(AuditEvent.actor_email.is_not(None)).limit(1)
    )
    by_actor = audit.where(AuditEvent.actor_email == actor)

    def first_page_count(stmt: Select[Any], per_page: int) -> Select[Any]:
        # What paginate counts for a first page: up to the limit and one row more.
        return count_statement(stmt, max(COUNT_LIMIT, per_page) + 1)

    return {
        "queue page": queue.limit(25),
        "queue count": first_page_count(queue, 25),
        "queue counters": support_counts_statement(now),
        "queue resolved page": resolved.limit(25),
        "queue resolved count": first_page_count(resolved, 25),
        "queue search": searched.limit(25),
        "queue search count": first_page_count(searched, 25),
        "referral search": referrals.limit(25),
        "referral search count": first_page_count(referrals, 25),
        "directory page": directory.limit(25),
        "directory count": first_page_count(directory, 25),
        "directory by state": by_state.limit(25),
        # A name search is counted with its rows (paginate's count_with_rows).
        "directory search": window_counted(search).params(lms_limit=25, lms_offset=0),
        "audit page": audit.limit(50),
        "audit count": first_page_count(audit, 50),
        "audit by actor page": by_actor.limit(50),
        "audit by actor count": first_page_count(by_actor, 50),
    }


def support_counts_statement(now: datetime) -> Select[Any]:
    """The queue's counters as the page runs them (built once, "now" a parameter), with
    "now" bound."""
    from lms.support import services as support

    def bind_now(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key == "now":
            return bindparam("now", now, type_=element.type)
        return None

    return visitors.replacement_traverse(support._counts_statement(), {}, bind_now)


def _walk(node: dict[str, Any], index_scans: list[str], seq_scans: list[str]) -> None:
    kind = node.get("Node Type", "")
    if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
        table = node.get("Relation Name")
        index = node.get("Index Name")
        index_scans.append(f"{table} via {index}" if table else str(index))
    elif kind == "Seq Scan":
        seq_scans.append(node.get("Relation Name", "?"))
    for child in node.get("Plans", []):
        _walk(child, index_scans, seq_scans)


def _compiled(stmt: Select[Any]) -> tuple[str, dict[str, Any]]:
    """``stmt`` as psycopg receives it (``%(name)s`` placeholders, IN lists expanded, the
    values of ``lms.db.written`` in the SQL itself), and its parameters' values."""
    state = stmt.compile(dialect=postgresql.psycopg.dialect()).construct_expanded_state()
    return state.statement, dict(state.parameters)


def explain(stmt: Select[Any], analyze: bool = True) -> tuple[dict[str, Any], str]:
    """PostgreSQL's plan (JSON) of ``stmt`` with its parameters bound."""
    sql, params = _compiled(stmt)
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    raw = db.session.connection().exec_driver_sql(f"EXPLAIN ({options}) {sql}", params)
    return raw.scalar()[0], sql


def generic_explain(stmt: Select[Any]) -> dict[str, Any]:
    """PostgreSQL's generic plan of ``stmt`` (JSON), run with its parameters: the plan of a
    prepared statement once PostgreSQL stops planning it for each run's values.

    The statement is prepared with ``$n`` placeholders under ``plan_cache_mode =
    force_generic_plan`` (PostgreSQL 15 has no ``EXPLAIN (GENERIC_PLAN)``), and its values
    are written into the ``EXECUTE`` by psycopg's client-side binding (the server cannot
    type parameters of an ``EXPLAIN EXECUTE``).
    """
    compiled_sql, params = _compiled(stmt)
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", number, compiled_sql)
    raw = db.session.connection().connection.dbapi_connection
    assert raw is not None
    with psycopg.ClientCursor(raw) as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE lms_generic AS {sql}")
        try:
            arguments = ", ".join(f"%({name})s" for name in names)
            cursor.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE lms_generic"
                + (f"({arguments})" if names else ""),
                {name: params[name] for name in names},
            )
            row = cursor.fetchone()
        finally:
            cursor.execute("DEALLOCATE lms_generic")
            cursor.execute("SET LOCAL plan_cache_mode = auto")
    assert row is not None
    return row[0][0]  # type: ignore[no-any-return]


def plans() -> list[Plan]:
    """Each statement's plan and time, run twice: the time is the second run's. A list a
    page shows often has its pages in memory; a first run after a long benchmark may read
    them from disk, which made one run's times 30–200 times the usual (the plans were the
    same)."""
    out = []
    for name, stmt in page_statements().items():
        explain(stmt)
        plan, sql = explain(stmt)
        index_scans: list[str] = []
        seq_scans: list[str] = []
        _walk(plan["Plan"], index_scans, seq_scans)
        generic_explain(stmt)
        generic = generic_explain(stmt)
        generic_index_scans: list[str] = []
        generic_seq_scans: list[str] = []
        _walk(generic["Plan"], generic_index_scans, generic_seq_scans)
        out.append(
            Plan(
                name,
                " ".join(sql.split()),
                index_scans,
                seq_scans,
                float(plan["Plan"].get("Total Cost", 0)),
                plan.get("Execution Time"),
                generic_index_scans,
                generic_seq_scans,
                generic.get("Execution Time"),
            )
        )
    db.session.rollback()
    return out
