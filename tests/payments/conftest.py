"""Payment tests: the app behind a real HTTP server, and localstripe delivering webhooks to it.

The live server needs its own app and database (the suite's ``db_session`` binds
the app to a rolled-back connection that another thread cannot see), so this
uses a migrated SQLite file, also when the suite runs on PostgreSQL. Tests
create their own users, so they do not need to reset the database.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from lms import create_app, jobs
from lms.accounts import mfa
from lms.accounts.models import Role, User
from lms.db import utcnow
from lms.extensions import db
from lms.mail import OUTBOX, OutgoingEmail
from lms.training.models import Course
from tests.conftest import (
    IsolatedClient,
    log_in,
    make_config,
    migrate_to_head,
    password_hash,
)
from tests.payments.localstripe import (
    register_webhook,
    run_localstripe,
    stripe_settings,
    sync_paid_course,
)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_localstripe(tmp_path_factory.mktemp("localstripe")) as base:
        yield base


@dataclass
class PayServer:
    url: str
    app: Flask
    stripe_base: str

    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.app.config["STRIPE_SECRET_KEY"], base_addresses={"api": self.stripe_base}
        )

    def outbox(self) -> list[OutgoingEmail]:
        return self.app.extensions.setdefault(OUTBOX, [])


@pytest.fixture(scope="session")
def pay_server(tmp_path_factory: pytest.TempPathFactory, localstripe: str) -> Iterator[PayServer]:
    folder = tmp_path_factory.mktemp("pay-instance")
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    holder: dict[str, Any] = {}
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(
        make_config(
            DATABASE_URL=f"sqlite:///{folder / 'pay.sqlite3'}",
            INSTANCE_PATH=str(folder),
            BASE_URL=url,
            PROPAGATE_EXCEPTIONS_IN_TESTS=False,
            **stripe_settings(localstripe),
        )
    )
    app.test_client_class = IsolatedClient
    migrate_to_head(app)
    sync_paid_course(app, folder)
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    register_webhook(localstripe, f"{url}/stripe/webhook")
    try:
        yield PayServer(url=url, app=app, stripe_base=localstripe)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["lms.db"].engine.dispose()


@pytest.fixture
def pay_app(pay_server: PayServer) -> Iterator[Flask]:
    jobs.init_app(pay_server.app)  # other tests may have bound the job queue elsewhere
    pay_server.outbox().clear()
    with pay_server.app.app_context():
        yield pay_server.app
        db.session.remove()


_numbers = itertools.count(1)


@pytest.fixture
def new_user(pay_app: Flask) -> Callable[..., User]:
    def make(role: Role = Role.THERAPIST) -> User:
        n = next(_numbers)
        user = User(
            email=f"pay-{role.value}-{n}-{time.monotonic_ns()}@example.org",
            full_name=f"Pay {role.value.title()} {n}",
            password_hash=password_hash(),
            role=role,
            timezone="America/New_York",
            email_verified_at=utcnow(),
            is_active=True,
            # Staff set up two-step verification before any staff page opens.
            mfa_secret=mfa.new_secret() if role != Role.THERAPIST else None,
            mfa_enabled_at=utcnow() if role != Role.THERAPIST else None,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def client_for(pay_app: Flask) -> Callable[[User], FlaskClient]:
    def open_client(user: User) -> FlaskClient:
        client = pay_app.test_client()
        response = log_in(client, user)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return client

    return open_client


@pytest.fixture
def course(pay_app: Flask) -> Course:
    found = db.session.scalar(select(Course).where(Course.slug == "mini-course"))
    assert found is not None
    return found


def wait_for(predicate: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
