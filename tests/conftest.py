"""Shared fixtures: one app per session, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is
set. The schema is built by the Alembic migrations, never by create_all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, select, text

from lms import create_app, jobs
from lms.accounts.mfa import current_code, new_secret
from lms.accounts.models import Role, User
from lms.accounts.passwords import hash_password
from lms.config import TestConfig, normalise_database_url
from lms.db import utcnow
from lms.extensions import db, limiter
from lms.mail import OutgoingEmail, outbox
from lms.training import outline

PASSWORD = "correct horse battery staple"  # noqa: S105 - test credential


def pg_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    return normalise_database_url(url) if url else None


def reset_postgres_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_config(**overrides: Any) -> type:
    return type("SuiteConfig", (TestConfig,), overrides)


def migrate_to_head(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (fresh ``g``, session removed after),
    as in production, even though the test itself holds an app context open."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    url = pg_url()
    if url:
        reset_postgres_schema(url)
    else:
        url = f"sqlite:///{instance / 'test.sqlite3'}"
    application = create_app(
        make_config(
            DATABASE_URL=url, INSTANCE_PATH=str(instance), PROPAGATE_EXCEPTIONS_IN_TESTS=True
        )
    )
    application.test_client_class = IsolatedClient
    migrate_to_head(application)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Any]:
    """Everything a test does is inside one outer transaction, rolled back at the end."""
    engine = app.extensions["lms.db"].engine
    connection = engine.connect()
    transaction = connection.begin()
    db.bind_to(app, connection)
    ctx = app.app_context()
    ctx.push()
    outline.clear()  # course outlines of an earlier test's rolled-back rows
    try:
        yield db.session
    finally:
        db.session.remove()
        ctx.pop()
        transaction.rollback()
        connection.close()
        db.bind_to(app, None)


class QueryCounter:
    """Counts the SQL statements the app runs (the "bounded queries per page" checks)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def decryptions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the app decrypts from now on, in order (what a page reads in clear)."""
    from lms import crypto

    decrypted: list[str] = []
    real = crypto.Keyring.decrypt_text

    def spy(self: Any, token: str) -> str:
        decrypted.append(text := real(self, token))
        return text

    monkeypatch.setattr(crypto.Keyring, "decrypt_text", spy)
    return decrypted


@pytest.fixture
def count_queries(app: Flask, db_session: Any) -> QueryCounter:
    """``with count_queries as q: client.get(...)`` then ``q.count``."""
    return QueryCounter(app.extensions["lms.db"].engine)


@pytest.fixture
def client(app: Flask, db_session: Any) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def mail(app: Flask, db_session: Any) -> list[OutgoingEmail]:
    """The messages delivered during this test (memory backend)."""
    box = outbox()
    box.clear()
    return box


@pytest.fixture(autouse=True)
def _rebind_process_globals(request: pytest.FixtureRequest) -> Iterator[None]:
    """The job queue and the rate limiter are per-process; tests that build other
    apps (config tests) rebind them, so point them back at the suite's app."""
    if "app" in request.fixturenames:
        application = request.getfixturevalue("app")
        jobs.init_app(application)
        limiter.init_app(application)
        limiter.reset()
    yield


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # scrypt is slow on purpose: hash once per run


@pytest.fixture
def make_user(db_session: Any) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(
        role: Role | str = Role.THERAPIST,
        *,
        email: str | None = None,
        full_name: str | None = None,
        verified: bool = True,
        active: bool = True,
        timezone: str = "America/New_York",
        mfa: bool | None = None,
    ) -> User:
        """A user; staff get two-step verification set up unless ``mfa=False``."""
        n = next(counter)
        role = Role(role)
        with_mfa = role != Role.THERAPIST if mfa is None else mfa
        user = User(
            email=(email or f"{role.value}{n}@example.org").lower(),
            full_name=full_name or f"Test {role.value.title()} {n}",
            password_hash=password_hash(),
            role=role,
            timezone=timezone,
            email_verified_at=utcnow() if verified else None,
            is_active=active,
            mfa_secret=new_secret() if with_mfa else None,
            mfa_enabled_at=utcnow() if with_mfa else None,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


def totp_code(user: User) -> str:
    """A code for ``user``'s authenticator, usable now (the replay guard is reset first)."""
    assert user.mfa_secret, f"{user.email} has no two-step verification"
    user.mfa_last_step = None
    db.session.commit()
    return current_code(user.mfa_secret)


def log_in(client: FlaskClient, user: User | str, password: str = PASSWORD) -> Any:
    """Log in as a person would, including the second step for users who have it."""
    email = user if isinstance(user, str) else user.email
    response = client.post("/login", data={"email": email, "password": password})
    if response.status_code == 302 and response.headers["Location"].startswith("/login/verify"):
        account = db.session.scalar(select(User).where(User.email == email.lower()))
        assert account is not None
        response = client.post("/login/verify", data={"code": totp_code(account)})
    return response


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., Any]:
    def do(user: User, password: str = PASSWORD) -> FlaskClient:
        response = log_in(client, user, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do
