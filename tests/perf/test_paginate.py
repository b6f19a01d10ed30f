"""Lists count their rows only up to a limit (``lms.db.paginate``).

Counting every row of a big list costs a scan of it on every page view (the audit log's
million rows: 110-166 ms in docs/PERFORMANCE.md). ``paginate`` counts over a ``LIMIT``ed
subquery instead; past the limit the total is "more than N", and paging forward still works.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lms import db as lms_db
from lms.accounts.models import Role
from lms.audit import AuditEvent
from lms.db import AtLeast, count_statement, paginate, utcnow
from lms.extensions import db
from tests.conftest import QueryCounter

ACTION = "test.paginate"
ROWS = 30


def add_rows(n: int) -> None:
    now = utcnow()
    db.session.add_all(
        AuditEvent(created_at=now - timedelta(minutes=i), action=ACTION, details={})
        for i in range(n)
    )
    db.session.commit()


@pytest.fixture
def rows(db_session: Any) -> None:
    add_rows(ROWS)


def _stmt() -> Any:
    return (
        select(AuditEvent)
        .where(AuditEvent.action == ACTION)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )


def test_a_list_within_the_limit_is_counted_exactly(rows: None) -> None:
    page = paginate(db.session, _stmt(), 1, 10, count_limit=50)
    assert page.total == ROWS and type(page.total) is int and page.total_is_exact
    assert page.pages == 3 and type(page.pages) is int
    assert [page.first_index, page.last_index, page.has_next] == [1, 10, True]
    # Exactly at the limit is still exact: the count asks for one row more than it shows.
    assert paginate(db.session, _stmt(), 1, 10, count_limit=ROWS).total_is_exact


def test_counting_stops_past_the_limit(rows: None, count_queries: QueryCounter) -> None:
    with count_queries as q:
        page = paginate(db.session, _stmt(), 1, 5, count_limit=10)
    count = next(s for s in q.statements if "count(" in s.lower())
    assert "LIMIT" in count.upper()  # the database stops reading at the limit
    assert isinstance(page.total, AtLeast) and not page.total_is_exact
    assert page.total == 11  # at least this many rows: the limit and one more
    assert str(page.total) == "more than 10"
    assert page.pages == 3 and str(page.pages) == "more than 2"
    assert [page.page, page.first_index, page.last_index] == [1, 1, 5]
    assert page.has_next and not page.has_prev
    assert [e.created_at for e in page.items] == sorted(
        (e.created_at for e in page.items), reverse=True
    )
    assert len(page.items) == 5


def test_paging_forward_past_the_limit_keeps_working(rows: None) -> None:
    seen: list[int] = []
    number = 1
    while True:
        page = paginate(db.session, _stmt(), number, 5, count_limit=10)
        assert page.page == number
        seen.extend(e.id for e in page.items)
        if not page.has_next:
            break
        # Deeper pages count further: always far enough to know whether another follows.
        assert page.total > number * 5
        number += 1
    assert number == 6 and len(seen) == len(set(seen)) == ROWS
    # The last page knows the exact total again.
    assert page.total == ROWS and page.total_is_exact and page.pages == 6


def test_a_distinct_list_is_counted_by_its_rows(rows: None) -> None:
    """DISTINCT rows are decided by their columns: those are kept in the count."""
    stmt = select(AuditEvent.action).where(AuditEvent.action == ACTION).distinct()
    assert db.session.scalar(count_statement(stmt)) == 1
    assert db.session.scalar(count_statement(_stmt(), 7)) == 7
    assert db.session.scalar(count_statement(_stmt())) == ROWS


def test_a_page_past_the_end_is_clamped_to_the_last(rows: None) -> None:
    for number in (7, 99, 10**30):  # 10**30 rows fit no LIMIT: counted exactly, no overflow
        page = paginate(db.session, _stmt(), number, 5, count_limit=10)
        assert (page.page, page.total, page.pages, page.has_next) == (6, ROWS, 6, False)
        assert len(page.items) == 5


def test_the_audit_log_says_more_than_the_limit(
    client: FlaskClient,
    login: Any,
    make_user: Any,
    db_session: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page shows an honest total through the shared pagination macro, unchanged."""
    monkeypatch.setattr(lms_db, "COUNT_LIMIT", 100)
    add_rows(130)
    login(make_user(Role.ADMIN))
    html = client.get(f"/admin/audit?action={ACTION}").get_data(as_text=True)
    assert "Showing 1–50 of more than 100" in html
    assert "Page 1 of more than 2" in html
    assert 'rel="next"' in html
    # The last page counted far enough to know the exact total.
    html = client.get(f"/admin/audit?action={ACTION}&page=3").get_data(as_text=True)
    assert "Showing 101–130 of 130" in html
    assert "Page 3 of 3" in html
    assert 'rel="next"' not in html


def test_counting_with_the_rows_is_one_statement_and_the_same_page(
    rows: None, count_queries: QueryCounter
) -> None:
    with count_queries as q:
        page = paginate(db.session, _stmt(), 2, 10, count_with_rows=True)
    assert q.count == 1
    assert "over" in q.statements[0].lower()
    separate = paginate(db.session, _stmt(), 2, 10)
    assert [e.id for e in page.items] == [e.id for e in separate.items]
    assert page.total == separate.total == ROWS and page.total_is_exact
    assert [page.first_index, page.last_index, page.has_next] == [11, 20, True]


def test_counting_with_the_rows_past_the_end_or_with_no_match(
    rows: None, count_queries: QueryCounter
) -> None:
    for number in (9, 10**30):  # past the end: clamped (10**30 fits no OFFSET: not tried)
        page = paginate(db.session, _stmt(), number, 10, count_with_rows=True)
        assert page.page == 3 and page.total == ROWS and len(page.items) == ROWS - 20
    distinct = select(AuditEvent.action).where(AuditEvent.action == ACTION).distinct()
    assert paginate(db.session, distinct, 1, 10, count_with_rows=True).total == 1
    with count_queries as q:
        empty = paginate(db.session, _stmt().where(AuditEvent.id < 0), 1, 10, count_with_rows=True)
    assert q.count == 1 and empty.total == 0 and empty.items == [] and empty.pages == 1


def test_counting_with_the_rows_of_several_columns(rows: None, count_queries: QueryCounter) -> None:
    """Rows of columns (the directory's) come back as rows, with the exact count."""
    columns = select(AuditEvent.id, AuditEvent.action).where(AuditEvent.action == ACTION)
    columns = columns.order_by(AuditEvent.id)
    with count_queries as q:
        page = paginate(db.session, columns, 2, 10, count_with_rows=True)
    assert q.count == 1
    separate = paginate(db.session, columns, 2, 10)
    assert [(r.id, r.action) for r in page.items] == [(r.id, r.action) for r in separate.items]
    assert page.total == separate.total == ROWS and page.total_is_exact


@pytest.mark.parametrize("sort", ["name", "-name", "-joined", "joined", "-last_login"])
def test_counting_with_the_rows_keeps_each_order_of_the_directory(
    sort: str, make_user: Any
) -> None:
    """The count is taken in a subquery and the order applied outside it
    (``lms.db.window_counted``): every sort of the directory gives the same rows, page by
    page, as the separate count, with its descending orders, a sort by an expression
    (lower(name)), ties (broken by id) and therapists who never logged in (NULL)."""
    from lms.admin import reports

    now = utcnow()
    names = ["ann Smith", "Bo Smith", "cy Smith", "Di Smith", "Ed Smith", "fay Smith", "Gus"]
    for i in range(23):
        user = make_user(Role.THERAPIST, full_name=f"{names[i % 7]} {i % 3}")
        user.created_at = now - timedelta(days=i % 5)  # ties on the joining date
        user.last_login_at = None if i % 4 == 0 else now - timedelta(hours=i % 6)
    db.session.commit()
    stmt, params = reports.directory_query(reports.DirectoryFilters(q="smith", sort=sort), now)
    seen = []
    for number in (1, 2, 3):
        counted = paginate(db.session, stmt, number, 7, count_with_rows=True, params=params)
        separate = paginate(db.session, stmt, number, 7, params=params)
        assert counted.total == separate.total == 20
        # (the counted rows also carry the count, last)
        assert [tuple(r)[:-1] for r in counted.items] == [tuple(r) for r in separate.items]
        assert counted.items[0].full_name == separate.items[0].full_name  # rows keep names
        seen += [r.id for r in counted.items]
    assert len(set(seen)) == 20


def _page_sql(statements: list[str]) -> str:
    (sql,) = [s for s in statements if "count(" not in s.lower()]
    return " ".join(sql.split())


def test_a_written_limit_gives_the_same_pages(rows: None, count_queries: QueryCounter) -> None:
    """``write_limit`` writes the page's LIMIT and OFFSET into the SQL (a statement PostgreSQL
    can plan once); the pages are the same as with them sent as parameters."""
    for number in (1, 2, 3):
        with count_queries as q:
            written = paginate(db.session, _stmt(), number, 12, write_limit=True)
        sql = _page_sql(q.statements)
        assert "LIMIT 12" in sql
        assert number == 1 or f"OFFSET {(number - 1) * 12}" in sql
        with count_queries as q:
            sent = paginate(db.session, _stmt(), number, 12)
        sql = _page_sql(q.statements)
        assert "LIMIT 12" not in sql and "OFFSET 12" not in sql and "OFFSET 24" not in sql
        assert [e.id for e in written.items] == [e.id for e in sent.items]
        assert (written.total, written.page) == (sent.total, sent.page)
    assert len(written.items) == ROWS - 24
