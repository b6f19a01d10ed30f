"""Server-side log-in sessions: idle timeout, absolute lifetime, log-out that really ends.

The browser's (signed) session cookie carries ``<user session token>:<session key>``.
The user session token rotates when the password, role or status changes, which ends
every session of that user at once; the key names one :class:`UserSession` row, which
log-out, the idle timeout and the absolute lifetime end one at a time.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, g, request
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from lms.accounts.models import User, UserSession
from lms.db import utcnow
from lms.extensions import db

# Requests that do not count as the person being active (a page polling in the background).
BACKGROUND_HEADER = "X-LMS-Background"
# How often the "last seen" time is written (it is read to decide the idle timeout).
TOUCH_EVERY = timedelta(seconds=60)


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


def expiry_reason(row: UserSession, now: datetime) -> str | None:
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
    # The session and its user in one statement: this runs on every logged-in request.
    found = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.key_hash == _hash(key))
    ).first()
    if found is None:
        return None
    row, user = found
    if user.session_token != token or not user.is_active:
        return None
    reason = expiry_reason(row, now)
    if reason is not None:
        if row.ended_at is None:
            row.ended_at, row.end_reason = now, reason
            db.session.commit()
        g.session_ended = reason
        return None
    g.user_session_id = row.id
    g.session_seen_at = row.last_seen_at
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


def end(session_id: int | None, reason: str = "logout") -> None:
    if session_id is None:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
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
