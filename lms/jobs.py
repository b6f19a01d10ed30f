"""Background jobs on Huey: SQLite storage by default, Redis when REDIS_URL is set.

The Huey object exists from import on (tasks register against it) but holds no
real storage until :func:`init_app` configures it from the app's settings.
Jobs run inside an application context of the app that configured the queue.

Work that must only happen if the database change behind it was saved (e-mail,
webhook follow-ups) is queued with :func:`after_commit`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

huey = Huey("lms", storage_class=MemoryStorage, immediate=True)

_PENDING = "lms.after_commit"
A = TypeVar("A", bound=Callable[[], Any])
_apps: list[Flask] = []


def init_app(app: Flask) -> None:
    """Point the queue at the storage the settings ask for."""
    if app.config["HUEY_IMMEDIATE"]:
        huey.storage_class, huey.storage_kwargs = MemoryStorage, {}
        huey._immediate = True
    elif app.config.get("REDIS_URL"):
        huey.storage_class = RedisStorage
        huey.storage_kwargs = {"url": app.config["REDIS_URL"]}
        huey._immediate = False
    else:
        huey.storage_class = SqliteStorage
        huey.storage_kwargs = {"filename": app.config["HUEY_SQLITE_PATH"]}
        huey._immediate = False
    huey.storage = huey.create_storage()
    _apps[:] = [app]


def _job_app() -> Flask:
    if not _apps:
        raise RuntimeError("the job queue was not bound to an app (create_app was not called)")
    return _apps[0]


def job(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a background job; it runs in an app context. Options go to ``huey.task``."""

    def decorate(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            if has_app_context():
                return fn(*args, **kwargs)
            with _job_app().app_context():
                return fn(*args, **kwargs)

        return huey.task(**options)(run)

    return decorate


def periodic_job(schedule: Any, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a scheduled job (``schedule`` is a ``huey.crontab``)."""

    def decorate(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with _job_app().app_context():
                return fn(*args, **kwargs)

        return huey.periodic_task(schedule, **options)(run)

    return decorate


def after_commit(session: Session, action: Callable[[], Any]) -> None:
    """Run ``action`` once ``session`` has committed; drop it if the session rolls back."""
    if not session.in_transaction():
        session.begin()  # so that a rollback before any query still discards the action
    session.info.setdefault(_PENDING, []).append(action)


def pending_action(session: Session, kind: type[A]) -> A:
    """The after-commit action of type ``kind`` this transaction already holds, or a new one
    registered with :func:`after_commit`: work gathered over a transaction (its e-mails)
    that is queued once, at the commit. Dropped with the rest on a rollback."""
    if session.in_transaction():
        for action in session.info.get(_PENDING, []):
            if isinstance(action, kind):
                return action
    action = kind()
    after_commit(session, action)
    return action


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    actions = session.info.pop(_PENDING, [])
    for action in actions:
        try:
            action()
        except Exception:  # a failed enqueue must not undo what was committed
            if has_app_context():
                current_app.logger.exception("after-commit action failed")
            else:  # pragma: no cover
                raise


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_PENDING, None)
