"""The database: declarative base, session and engine bound to the Flask app.

A deliberately small replacement for Flask-SQLAlchemy: one engine per app,
one request-scoped session, and nothing else to learn. Tests can bind the
session to an outer connection (``Database.bind_to``) for per-test rollback.
"""

from __future__ import annotations

import enum
import functools
import math
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from flask import Flask, current_app, has_request_context, request
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Enum,
    Integer,
    MetaData,
    Select,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, aliased, scoped_session, sessionmaker
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BindParameter, UnaryExpression
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

# Every constraint gets a predictable name, so later migrations can drop it.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest value of an INTEGER column (every id here is one). A larger number names no row,
# and sent to the database it fails the statement itself (PostgreSQL: "integer out of range";
# SQLite's driver past 2**63 - 1), so input is held to it before any statement is made.
LARGEST_ID = 2**31 - 1


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zones; PostgreSQL's ``timestamptz`` has. This type makes
    both behave the same: naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use lms.db.utcnow() or an aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class _AppSession(Session):
    """A session that finds its bind on the current app."""

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Engine | Connection:
        return current_app.extensions["lms.db"].bind


@dataclass
class _State:
    engine: Engine
    bind: Engine | Connection


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin: this
    # makes SAVEPOINTs and transactional DDL work (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


# Requests that change things take SQLite's write lock when their transaction begins. A
# deferred transaction that has read cannot start writing once another connection has
# committed since its read began: SQLite refuses at once ("database is locked"), whatever the
# busy timeout, and the request fails (a card payment did, while Stripe's webhook wrote the
# same payment). BEGIN IMMEDIATE waits its turn (the busy timeout) instead. Pages that only
# read keep deferred transactions, so they never wait for a writer (WAL).
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sqlite_begin(connection: Connection) -> None:
    writes = has_request_context() and request.method not in _READ_METHODS
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def retry_if_locked(session: Any, action: Callable[[], T], attempts: int = 3) -> T:
    """Run ``action`` (which commits); on SQLite, run it again when it lost a race for the
    write lock. A deferred transaction that read before another connection wrote fails at
    once with "database is locked" however long the busy timeout; starting over is the
    documented remedy. PostgreSQL waits on row locks instead and never gets here."""
    for attempt in range(attempts):
        try:
            return action()
        except OperationalError as error:
            session.rollback()
            message = str(error).lower()
            if ("locked" not in message and "busy" not in message) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def postgresql_jit_off(url: str) -> dict[str, str]:
    """Connection arguments that turn PostgreSQL's JIT compiler off for the app's sessions.

    The JIT (on by default since PostgreSQL 12) compiles any query whose estimated cost passes
    ``jit_above_cost``; the compilation takes 0.3–1 s, far longer than the app's short queries
    over thousands of therapists run (docs/PERFORMANCE.md measured the admin dashboard at
    1.3 s with it, 17 ms without). ``-c jit=off`` travels in the connection's start-up
    packet (libpq's ``options``): no extra round trip per connection. Options already in the
    URL are kept, and a URL that sets ``jit`` itself wins.
    """
    existing = make_url(url).query.get("options", "")
    if isinstance(existing, tuple):  # the parameter given more than once
        existing = " ".join(existing)
    if re.search(r"\bjit\s*=|-cjit\s*=", existing):
        return {}
    return {"options": f"{existing} -c jit=off".strip()}


# psycopg prepares a statement on the server when a connection runs it for the sixth time
# (its own default, kept: statements a page runs once in a while are not prepared).
PREPARE_THRESHOLD = 5

# Connections whose open transaction has sent something other than a SELECT.
_written: weakref.WeakSet[Any] = weakref.WeakSet()


def end_reads_with_commit(engine: Engine) -> None:
    """End a PostgreSQL transaction that only read with COMMIT where SQLAlchemy would roll it
    back (a page that reads, at the end of its request).

    For the database the two are the same when nothing was written: the snapshot and any
    row locks are let go either way. But psycopg forgets every statement it has prepared
    on the connection at a ROLLBACK (and deallocates them on the server), so pages that
    only read (most pages) would never run a prepared statement. A transaction that sent
    anything else, or whose statement failed, is rolled back as before. (A SELECT that
    changed data through a function would be committed with the read: the app sends none.)
    """
    event.listen(engine, "before_cursor_execute", _note_writes)
    event.listen(engine, "rollback", _commit_if_only_read)
    event.listen(engine, "commit", _forget_writes)


def mark_written(dbapi_connection: Any) -> None:
    """Code that writes through the driver itself (COPY) says so: its transaction is then
    never ended with COMMIT in place of a rollback."""
    _written.add(dbapi_connection)


def _note_writes(_conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        _written.add(cursor.connection)


def _commit_if_only_read(conn: Connection) -> None:
    raw = conn.connection.dbapi_connection
    if raw is None:
        return
    wrote = raw in _written
    _written.discard(raw)
    if wrote or raw.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        return
    try:
        raw.commit()
    except psycopg.Error:
        return  # the rollback that follows ends it (or finds the connection gone)


def _forget_writes(conn: Connection) -> None:
    raw = conn.connection.dbapi_connection
    if raw is not None:
        _written.discard(raw)


class Database:
    """``db.session`` for the current request; ``db.engine`` for the current app."""

    def __init__(self) -> None:
        self.Model = Base
        self.metadata = Base.metadata
        self.sessionmaker = sessionmaker(
            class_=_AppSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        self.session = scoped_session(self.sessionmaker)

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        options: dict[str, Any] = {"echo": app.config.get("SQLALCHEMY_ECHO", False)}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 15}
        else:
            options.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
            # Server-side prepared statements: psycopg prepares a statement at its sixth run
            # on a connection, and PostgreSQL then stops planning it on every run (planning
            # was most of the database's time on the key pages; docs/PERFORMANCE.md). Its
            # plans are soon made once for any parameters, so the SQL writes values where a
            # partial index depends on them (SupportRequest.active_condition). Off: behind a
            # pooler in transaction mode that does not keep them (DATABASE_PREPARED_STATEMENTS).
            prepared = app.config.get("DATABASE_PREPARED_STATEMENTS", True)
            options["connect_args"] = {"prepare_threshold": PREPARE_THRESHOLD if prepared else None}
            if not app.config.get("DATABASE_JIT", False):
                options["connect_args"].update(postgresql_jit_off(url))
        engine = create_engine(url, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        elif engine.dialect.name == "postgresql":
            end_reads_with_commit(engine)
        app.extensions["lms.db"] = _State(engine=engine, bind=engine)

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

    @property
    def engine(self) -> Engine:
        return current_app.extensions["lms.db"].engine

    def bind_to(self, app: Flask, bind: Engine | Connection | None) -> None:
        """Bind the app's sessions to ``bind`` (tests: an outer connection); None restores."""
        state = app.extensions["lms.db"]
        state.bind = bind if bind is not None else state.engine


# Lists count their rows up to this many (then say "more than 10,000"): counting every row
# of a big table (the audit log's million) costs a scan on every page view, and past a few
# thousand the exact number helps nobody page through a list.
COUNT_LIMIT = 10_000


class AtLeast(int):
    """A row or page count known only from below: counting stopped at this number.

    It computes and compares as the number (so paging arithmetic stays right), and shows as
    "more than <number - 1>" wherever a template prints it: "Showing 1–50 of more than
    10,000", "Page 1 of more than 200". Templates need no special case to stay honest.
    """

    def __str__(self) -> str:
        return f"more than {int(self) - 1:,}"

    def __repr__(self) -> str:
        return f"AtLeast({int(self)})"


@dataclass
class Page:
    """One page of a query's results. ``total`` (and so ``pages``) is an :class:`AtLeast`
    when the list holds more rows than were counted."""

    items: Sequence[Any]
    page: int
    per_page: int
    total: int

    @property
    def total_is_exact(self) -> bool:
        return not isinstance(self.total, AtLeast)

    @property
    def pages(self) -> int:
        pages = max(1, math.ceil(self.total / self.per_page))
        return pages if self.total_is_exact else AtLeast(pages)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return int(min(self.total, self.page * self.per_page))


# Past this many rows a count window is no cheaper than counting everything (and would not
# fit a 64-bit LIMIT): a page number that far out is counted exactly, then clamped.
_MAX_COUNT_WINDOW = 2**62


def paginate(
    session: Session,
    stmt: Select[Any],
    page: int,
    per_page: int,
    count_limit: int | None = None,
    total: int | None = None,
    count_with_rows: bool = False,
    params: dict[str, Any] | None = None,
    write_limit: bool = False,
) -> Page:
    """Run ``stmt`` for one page, with a count of its rows up to a limit.

    The count reads at most ``max(count_limit, page * per_page) + 1`` rows (a ``LIMIT``ed
    subquery, which the database stops reading once it has them): enough to know that the
    requested page exists and whether another follows, so paging forward keeps working
    however deep. When there were more rows than that, ``total`` is an :class:`AtLeast`.
    ``count_limit`` defaults to :data:`COUNT_LIMIT` (read at call time). A caller that has
    just counted the same rows passes ``total`` and nothing is counted again.

    ``count_with_rows``: count every matching row in the page's own statement (a window
    count) instead of a statement of its own: for a filter that makes the database look at
    every candidate row anyway (a text search over names), where a separate count would
    read them all a second time. The count is then exact (no limit): use it only on lists
    whose matches are bounded (the therapists). A page past the end, and a DISTINCT
    statement (whose rows the window would count before they are made distinct), are counted
    the usual way. Rows of several columns then also carry the count (``lms_total``).

    ``params``: the values of the statement's parameters (a statement built once, with its
    values as parameters).

    ``write_limit``: write the page's LIMIT and OFFSET into the SQL (:func:`written`), for a
    statement whose rows depend on no value sent with it, which PostgreSQL then plans once
    (with them as parameters, it planned such a statement again on every run). Not for a
    statement filtered by values sent with it (a filter, a search), whose plan should stay
    chosen for them.
    """
    page = max(1, page)
    if (
        count_with_rows
        and total is None
        and not _is_distinct(stmt)
        and page * per_page < _MAX_COUNT_WINDOW
    ):
        cut = {"lms_limit": per_page, "lms_offset": (page - 1) * per_page}
        found = session.execute(window_counted(stmt), {**(params or {}), **cut}).all()
        if found:
            single = len(stmt.column_descriptions) == 1
            items = [row[0] for row in found] if single else found
            return Page(items=items, page=page, per_page=per_page, total=int(found[0][-1]))
        if page == 1:
            return Page(items=[], page=1, per_page=per_page, total=0)
    limit = COUNT_LIMIT if count_limit is None else count_limit
    window = max(limit, page * per_page) + 1
    if total is None:
        if window > _MAX_COUNT_WINDOW:
            total = session.scalar(count_statement(stmt), params) or 0
        else:
            total = session.scalar(count_statement(stmt, window), params) or 0
            if total == window:
                total = AtLeast(window)
    last = max(1, math.ceil(total / per_page))
    page = min(page, last)
    offset = (page - 1) * per_page
    if write_limit:
        shown = stmt.limit(written(per_page))
        shown = shown.offset(written(offset)) if offset else shown
    else:
        shown = stmt.limit(per_page).offset(offset)
    # One entity (or column) per row gives the objects; several columns give the rows.
    if len(stmt.column_descriptions) == 1:
        items: Sequence[Any] = session.scalars(shown, params).all()
    else:
        items = session.execute(shown, params).all()
    return Page(items=items, page=page, per_page=per_page, total=total)


_ORDER_MODIFIERS = (
    operators.asc_op,
    operators.desc_op,
    operators.nulls_first_op,
    operators.nulls_last_op,
)


def _ordered_expression(clause: Any) -> Any:
    """The expression an ORDER BY item sorts by (``x`` of ``x DESC NULLS LAST``)."""
    while isinstance(clause, UnaryExpression) and clause.modifier in _ORDER_MODIFIERS:
        clause = clause.element
    return clause


@functools.lru_cache(maxsize=32)
def window_counted(stmt: Select[Any]) -> Select[Any]:
    """One page of ``stmt``'s rows, each with the number of all its rows (``lms_total``
    last), in one statement; the page's LIMIT and OFFSET are the parameters "lms_limit" and
    "lms_offset".

    The rows are counted in a subquery without the order, and sorted and cut to the page
    outside it. Put together in one SELECT, the LIMIT let PostgreSQL (15) plan as if it
    could stop reading early, which a count over every row never can: a name search walked
    the directory's order index through all 5,000 therapists (4 ms) instead of reading
    the matches from the trigram indexes (0.6 ms; docs/PERFORMANCE.md, "The twelfth
    round"). Each ORDER BY expression is carried out of the subquery as a column of its
    own, so the outer order is the same sort on the same values.

    A statement of one ORM entity gives that entity (read from the subquery); a statement
    of columns gives rows with the same names.

    Kept for a statement built once (the directory's, one per shape of filters): rewriting
    it cost more than running it. A statement is its own key: one built for a single
    request is simply not met again.
    """
    orders = list(stmt._order_by_clauses)
    expressions = [_ordered_expression(clause) for clause in orders]
    inner = (
        stmt.order_by(None)
        .add_columns(
            func.count().over().label("lms_total"),
            *(e.label(f"lms_order_{i}") for i, e in enumerate(expressions)),
        )
        .subquery("lms_counted")
    )

    def outer(clause: Any, i: int) -> Any:
        column = inner.c[f"lms_order_{i}"]
        return visitors.replacement_traverse(
            clause, {}, lambda element: column if element is expressions[i] else None
        )

    descriptions = stmt.column_descriptions
    entity = inspect(descriptions[0]["expr"], raiseerr=False) if len(descriptions) == 1 else None
    if entity is not None and getattr(entity, "is_mapper", False):
        shown: list[Any] = [aliased(entity.class_, inner)]
    else:
        names = list(stmt.selected_columns.keys())
        shown = [column.label(name) for column, name in zip(inner.c, names, strict=False)]
    return (
        select(*shown, inner.c.lms_total)
        .order_by(*(outer(clause, i) for i, clause in enumerate(orders)))
        .limit(bindparam("lms_limit", type_=Integer))
        .offset(bindparam("lms_offset", type_=Integer))
    )


def page_of(items: Sequence[Any], page: int, per_page: int) -> Page:
    """One page of a list already loaded and sorted in Python (what SQL cannot sort, such as
    encrypted names), with the same ``Page`` the query pages use."""
    last = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), last)
    start = (page - 1) * per_page
    shown = items[start : start + per_page]
    return Page(items=shown, page=page, per_page=per_page, total=len(items))


def _is_distinct(stmt: Select[Any]) -> bool:
    return bool(getattr(stmt, "_distinct", False) or getattr(stmt, "_distinct_on", ()))


def written(value: Any, type_: Any = None) -> BindParameter[Any]:
    """``value`` written into the statement's SQL when it is run, not sent as a parameter.

    PostgreSQL plans a prepared statement for its parameters' values five times, then keeps
    one plan for any values (a generic plan) only if it costs no more than those: a LIMIT
    or a status sent as a parameter leaves it guessing how many rows match, the generic
    plan comes out dearer, and the statement is planned again on every run. Written into
    the SQL, such a constant is known to every plan (docs/PERFORMANCE.md, "The seventeenth
    round"). Only for values a statement always has the same few of (a page's size, a
    status): each value is a statement of its own to PostgreSQL.
    """
    return literal(value, type_).render_literal_execute()


def count_statement(stmt: Select[Any], limit: int | None = None) -> Select[Any]:
    """``SELECT count(*)`` of the rows ``stmt`` returns, at most ``limit`` of them.

    Its columns are swapped for a constant (unless it is DISTINCT, where they decide the
    rows) and its order dropped: the database reads no more than it must and can answer from
    an index alone (SQLite reads a covering index, PostgreSQL may scan an index only)
    instead of carrying every column of every row to the count.
    """
    counted = stmt.order_by(None)
    if not _is_distinct(stmt):
        counted = counted.with_only_columns(literal_column("1"), maintain_column_froms=True)
    if limit is not None:
        counted = counted.limit(limit)
    return select(func.count()).select_from(counted.subquery())


def contains_pattern(text: str) -> str:
    """The LIKE pattern of a case-insensitive "contains" search for ``text`` (compared
    with the lower-cased column)."""
    return f"%{text.strip().lower()}%"


def matches_any(text: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive "contains" search over ``columns`` (the admin search boxes)."""
    return matches_pattern(contains_pattern(text), *columns)


def matches_pattern(pattern: Any, *columns: Any) -> ColumnElement[bool]:
    """Any of ``columns``, lower-cased, is LIKE ``pattern`` (a :func:`contains_pattern`, or
    a bound parameter that will carry one, for a statement built once)."""
    return or_(*(func.lower(column).like(pattern) for column in columns))


class InSelect(ColumnElement[bool]):
    """``column IN (select)``: see :func:`in_select`."""

    __visit_name__ = "in_select"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" after it where booleans are 0/1
    _traverse_internals = [
        ("column", visitors.InternalTraversal.dp_clauseelement),
        ("subquery", visitors.InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], subquery: Select[Any]) -> None:
        self.column = column
        self.subquery = subquery.scalar_subquery()

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.column._from_objects)


@compiles(InSelect)
def _in_select(element: InSelect, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.subquery, **kw)}"


@compiles(InSelect, "postgresql")
def _in_select_postgresql(element: InSelect, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(ARRAY{compiler.process(element.subquery, **kw)})"


def in_select(column: Any, subquery: Select[Any]) -> InSelect:
    """``column IN (subquery)``, for one side of an OR. PostgreSQL applies ``IN (SELECT …)``
    there as a filter, row by row, which reads the whole table whatever the other side
    could have used; written as ``column = ANY(ARRAY(SELECT …))`` the list is worked out
    once, first, and an index on ``column`` serves it (with the other side's index, a
    bitmap OR). SQLite keeps ``IN``, whose index it uses either way."""
    return InSelect(column, subquery)


def string_enum(cls: type[enum.Enum], name: str, length: int = 24) -> Enum:
    """A Python enum stored as its values in a string column with a CHECK constraint
    (portable: no native PostgreSQL enum types to migrate)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=length,
        create_constraint=True,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def include_for_dialect(dialect_name: str) -> Callable[..., bool]:
    """An Alembic ``include_object`` that leaves out what the models create on other
    databases only (``Index(...).ddl_if(dialect="postgresql")``), so comparing the models
    with a SQLite database does not expect PostgreSQL's trigram indexes there."""

    def include_object(obj: Any, _name: str | None, _type: str, *_args: Any) -> bool:
        only = getattr(obj, "_ddl_if", None)  # SQLAlchemy's record of ddl_if()
        if only is None or only.dialect is None:
            return True
        wanted = (only.dialect,) if isinstance(only.dialect, str) else tuple(only.dialect)
        return dialect_name in wanted

    return include_object
