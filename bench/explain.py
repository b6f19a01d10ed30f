"""The query plans of the big lists at seeded scale: the support queue, the therapist
directory and the audit log (the statements the pages run, built by the same functions,
counts as ``lms.db.paginate`` runs them).

``plans()`` returns, for each statement, the scans PostgreSQL chose: which tables were
read through an index and which were read whole. ``tests/perf/test_query_plans.py``
holds the same statements to an index on any database; this is the at-scale view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql

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

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def page_statements(now: datetime | None = None) -> dict[str, Select[Any]]:
    """The list pages' statements: one page of rows and the count ``paginate`` runs."""
    from lms.accounts.models import Role, User
    from lms.admin import reports
    from lms.audit import AuditEvent
    from lms.support import services as support

    now = now or datetime.now(UTC)
    clinician = db.session.scalar(select(User).where(User.role == Role.CLINICIAN).limit(1))
    queue = support.queue_query(clinician, support.QueueFilter(), now)  # type: ignore[arg-type]

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
    from lms.support.models import ACTIVE_STATUSES, Status, SupportRequest

    return select(
        func.count().filter(SupportRequest.status == Status.OPEN),
        func.count().filter(
            SupportRequest.first_response_at.is_(None), SupportRequest.due_at <= now
        ),
        func.count(),
    ).where(SupportRequest.status.in_(ACTIVE_STATUSES))


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


def explain(stmt: Select[Any], analyze: bool = True) -> tuple[dict[str, Any], str]:
    """PostgreSQL's plan (JSON) of ``stmt`` with its parameters bound."""
    compiled = stmt.compile(
        dialect=postgresql.psycopg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    raw = db.session.connection().exec_driver_sql(
        f"EXPLAIN ({options}) {compiled.string}", compiled.params
    )
    return raw.scalar()[0], compiled.string


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
        out.append(
            Plan(
                name,
                " ".join(sql.split()),
                index_scans,
                seq_scans,
                float(plan["Plan"].get("Total Cost", 0)),
                plan.get("Execution Time"),
            )
        )
    db.session.rollback()
    return out
