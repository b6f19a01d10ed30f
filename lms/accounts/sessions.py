"""Server-side log-in sessions: idle timeout, absolute lifetime, log-out that really ends.

The browser's (signed) session cookie carries ``<user session token>:<session key>``.
The user session token rotates when the password, role or status changes, which ends
every session of that user at once; the key names one :class:`UserSession` row, which
log-out, the idle timeout and the absolute lifetime end one at a time.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.exc import OperationalError

from lms.accounts.models import User, UserSession
from lms.db import utcnow
from lms.extensions import db

# Requests that do not count as the person being active (a page polling in the background).
BACKGROUND_HEADER = "X-LMS-Background"
# How often the "last seen" time is written (it is read to decide the idle timeout).
TOUCH_EVERY = timedelta(seconds=60)


# Values other features need on (nearly) every logged-in page, read in the session's own
# statement instead of one more query each: name -> a scalar subquery over ``users`` (the
# navigation's unread-alert badge registers one). Registered when the feature is imported.
_riders: dict[str, Callable[[], Any]] = {}


@dataclass(frozen=True)
class PageRider:
    """A value only some pages need, read with the session on those pages.

    ``applies(endpoint)``: whether this request's page needs it; ``version()``: what the
    expression depends on besides its parameters (the statement is built once per value);
    ``column(version)``: the expression, correlated to ``users``; ``params(now)``: its
    bound values.
    """

    applies: Callable[[str | None], bool]
    version: Callable[[], Hashable]
    column: Callable[[Any], Any]
    params: Callable[[datetime], dict[str, Any]]

    @classmethod
    def on_page(
        cls,
        endpoint: str,
        column: Callable[[], Any],
        params: Callable[[datetime], dict[str, Any]] = lambda _now: {},
    ) -> PageRider:
        """A rider of one page (``endpoint``) whose expression depends only on its
        parameters."""
        return cls(
            applies=lambda current: current == endpoint,
            version=lambda: None,
            column=lambda _version: column(),
            params=params,
        )


_page_riders: dict[str, PageRider] = {}


def load_with_session(name: str, column: Callable[[], Any]) -> None:
    """Read ``column()`` (a scalar subquery correlated to ``users``) with every session."""
    _riders[name] = column
    _load_statement.cache_clear()


def load_with_session_on(name: str, rider: PageRider) -> None:
    """Read ``rider``'s value with the session on the pages it applies to."""
    _page_riders[name] = rider
    _load_statement.cache_clear()


def loaded(name: str, user_id: int | None = None) -> Any | None:
    """The value ``name`` read with this request's session (None: not read, or forgotten;
    or, with ``user_id``, read for somebody else)."""
    if not has_app_context():
        return None
    if user_id is not None and g.get("session_user_id") != user_id:
        return None
    return g.get("session_riders", {}).get(name)


def loaded_at() -> datetime | None:
    """The instant the riders' time-dependent values were read for (the session's load)."""
    return g.get("session_riders_at") if has_app_context() else None


def forget(name: str) -> None:
    """The request changed what ``name`` counts: whoever asks next reads it afresh."""
    if has_app_context():
        g.get("session_riders", {}).pop(name, None)


@functools.cache
def _load_statement(page: tuple[tuple[str, Hashable], ...] = ()) -> Select[Any]:
    """The session by its key hash, its user and the riders: built once (building the
    expression costs more than running it) for each set of page riders (``page``: their
    names and versions), the key hash a parameter."""
    riders = [column().label(name) for name, column in _riders.items()]
    riders += [_page_riders[name].column(version).label(name) for name, version in page]
    # Of the session, only what decides whether it is still open (no ORM object to build).
    return (
        select(
            UserSession.id,
            UserSession.created_at,
            UserSession.last_seen_at,
            UserSession.ended_at,
            UserSession.end_reason,
            User,
            *riders,
        )
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.key_hash == bindparam("key_hash"))
    )


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))


def absolute_limit() -> timedelta:
    return timedelta(hours=float(current_app.config["SESSION_MAX_HOURS"]))


def start(user: User) -> str:
    """Open a session for ``user``; returns the value the cookie carries."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            user_id=user.id,
            key_hash=_hash(key),
            created_at=now,
            last_seen_at=now,
            ip_address=(request.remote_addr or "")[:45] or None,
            user_agent=(request.user_agent.string or "")[:200] or None,
        )
    )
    return f"{user.session_token}:{key}"


def _split(cookie_value: str) -> tuple[str, str] | None:
    token, sep, key = (cookie_value or "").partition(":")
    return (token, key) if sep and token and key else None


def expiry_reason(row: Any, now: datetime) -> str | None:
    """Why ``row`` is over at ``now`` (None while it is open)."""
    if row.ended_at is not None:
        return row.end_reason or "ended"
    if now - row.created_at >= absolute_limit():
        return "lifetime"
    if now - row.last_seen_at >= idle_limit():
        return "idle"
    return None


def load(cookie_value: str, now: datetime | None = None) -> User | None:
    """The user of an open session (Flask-Login's user loader), or None.

    A session found expired is closed and its reason kept in ``g.session_ended`` so the
    log-in page can say why. Activity is written at most once a minute per session.
    """
    parts = _split(cookie_value)
    if parts is None:
        return None
    token, key = parts
    now = now or utcnow()
    # The session, its user and the riders in one statement: this runs on every logged-in
    # request.
    endpoint = request.endpoint if has_request_context() else None
    page = tuple(
        (name, rider.version()) for name, rider in _page_riders.items() if rider.applies(endpoint)
    )
    params = {"key_hash": _hash(key)}
    for name, _version in page:
        params.update(_page_riders[name].params(now))
    found = db.session.execute(_load_statement(page), params).first()
    if found is None:
        return None
    row = found  # the session's columns by name (row.id, row.ended_at…), the user, the riders
    user, riders = found[5], found[6:]
    if user.session_token != token or not user.is_active:
        return None
    reason = expiry_reason(row, now)
    if reason is not None:
        if row.ended_at is None:
            end(row.id, reason, now)
            db.session.commit()
        g.session_ended = reason
        return None
    g.user_session_id = row.id
    g.session_seen_at = row.last_seen_at
    g.session_user_id = user.id
    g.session_riders = dict(zip([*_riders, *(name for name, _v in page)], riders, strict=True))
    g.session_riders_at = now
    if not request.headers.get(BACKGROUND_HEADER) and now - row.last_seen_at >= TOUCH_EVERY:
        try:
            db.session.execute(
                update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
            )
            db.session.commit()
            g.session_seen_at = now
        except OperationalError:
            # SQLite lost a race for the write lock: the activity is noted on the next
            # request (a minute at most); the page itself must not fail for it.
            db.session.rollback()
    return user


def current_id() -> int | None:
    return getattr(g, "user_session_id", None)


def end(session_id: int | None, reason: str = "logout", now: datetime | None = None) -> None:
    if session_id is None:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow(), end_reason=reason)
    )


def end_all(user: User, reason: str, keep: int | None = None) -> int:
    """End every open session of ``user`` (except ``keep``); returns how many ended."""
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    result = db.session.execute(stmt.values(ended_at=utcnow(), end_reason=reason))
    return int(result.rowcount or 0)


def open_sessions(user: User, now: datetime | None = None) -> list[UserSession]:
    """The user's sessions that are still open, newest activity first."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
        .limit(50)
    )
    return [row for row in rows if expiry_reason(row, now) is None]
