"""Several app servers on one PostgreSQL and one Redis, as in a scaled-out deployment.

Two gunicorn instances (different ports, production settings) serve the same database:
a session made on one works on the other, the log-in rate limit is one counter across
both (Redis), and a support request claimed through one cannot be claimed through the
other. Runs once per `make test` (marker ``deploy``), on its own PostgreSQL database and
its own Redis database, whatever TEST_DATABASE_URL says.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, select, text

from lms import create_app
from lms.accounts.mfa import current_code, new_secret
from lms.accounts.models import Role, User
from lms.config import PROJECT_ROOT
from lms.crypto import new_key
from lms.db import utcnow
from lms.extensions import db
from tests.conftest import PASSWORD, make_config, migrate_to_head, password_hash

pytestmark = pytest.mark.deploy

PG_ADMIN = os.environ.get(
    "DEPLOY_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DATABASE = "lms_several_servers"
REDIS_URL = os.environ.get("DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/13")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{DATABASE}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    instance = tmp_path_factory.mktemp("servers")
    url = _database_url()
    encryption_key = new_key()  # the servers and this set-up share it, as in production
    setup = create_app(
        make_config(DATABASE_URL=url, INSTANCE_PATH=str(instance), ENCRYPTION_KEYS=encryption_key)
    )
    migrate_to_head(setup)
    with setup.app_context():
        people = {}
        for key, role in (
            ("therapist", Role.THERAPIST),
            ("ana", Role.CLINICIAN),
            ("ben", Role.CLINICIAN),
        ):
            user = User(
                email=f"{key}@servers.example.org",
                full_name={
                    "therapist": "Theo Therapist",
                    "ana": "Ana Alvarez",
                    "ben": "Ben Brooks",
                }[key],
                password_hash=password_hash(),
                role=role,
                email_verified_at=utcnow(),
                mfa_secret=new_secret() if role == Role.CLINICIAN else None,
                mfa_enabled_at=utcnow() if role == Role.CLINICIAN else None,
            )
            db.session.add(user)
            db.session.flush()
            people[key] = (user.id, user.email, user.mfa_secret)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    env = {
        **os.environ,
        "LMS_ENV": "production",
        "SECRET_KEY": "several-servers-test-secret-0123456789abcdef",
        "ENCRYPTION_KEYS": encryption_key,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "INSTANCE_PATH": str(instance),
        "SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback in this test
        "LOGIN_RATE_LIMIT": "4 per minute",
        "BASE_URL": "http://127.0.0.1",
    }
    env.pop("TEST_DATABASE_URL", None)
    ports = [_free_port(), _free_port()]
    logs = [open(instance / f"gunicorn-{port}.log", "w+b") for port in ports]  # noqa: SIM115
    servers = [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "app:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,  # a file: a full pipe would stall the server
            start_new_session=True,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        for port, server, log in zip(ports, servers, logs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"gunicorn exited: {log.read().decode()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                        break
                except OSError:  # not listening yet, or the workers are still booting
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.3)
        yield {"ports": ports, "people": people, "url": url, "encryption_key": encryption_key}
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server, log in zip(servers, logs, strict=True):
            server.wait(timeout=20)
            log.close()
        store.flushdb()
        store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        admin.dispose()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """One person's cookies, used against either server."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def open(
        self, port: int, path: str, data: dict[str, str] | None = None
    ) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(f"http://127.0.0.1:{port}{path}", data=body, timeout=15) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace"), dict(error.headers)

    def csrf(self, port: int, path: str) -> str:
        _, page, _ = self.open(port, path)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def log_in(
        self, port: int, email: str, secret: str | None = None, password: str = PASSWORD
    ) -> int:
        token = self.csrf(port, "/login")
        status, _, headers = self.open(
            port, "/login", {"csrf_token": token, "email": email, "password": password}
        )
        if status == 302 and headers.get("Location", "").endswith("/login/verify"):
            token = self.csrf(port, "/login/verify")
            status, _, headers = self.open(
                port, "/login/verify", {"csrf_token": token, "code": current_code(secret or "")}
            )
        return status


@pytest.mark.usefixtures("fresh_limits")
def test_a_session_made_on_one_server_works_on_the_other(deployment) -> None:
    a, b = deployment["ports"]
    _, email, _ = deployment["people"]["therapist"]
    person = Browser()
    assert person.log_in(a, email) == 302
    status, page, _ = person.open(b, "/dashboard")
    assert status == 200 and "Welcome, Theo" in page
    token = person.csrf(b, "/dashboard")
    assert person.open(b, "/logout", {"csrf_token": token})[0] == 302
    # Logged out through B: the session is over on A too (it lives in the database).
    assert person.open(a, "/dashboard")[0] == 302


@pytest.fixture
def fresh_limits() -> Iterator[None]:
    """Rate-limit counters start and end empty (this Redis database is the test's own)."""
    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    yield
    store.flushdb()
    store.close()


@pytest.mark.usefixtures("fresh_limits")
def test_the_log_in_rate_limit_is_shared_by_both_servers(deployment) -> None:
    a, b = deployment["ports"]
    _, email, _ = deployment["people"]["therapist"]
    attacker = Browser()
    codes = [attacker.log_in(port, email, password="wrong password!!") for port in (a, b, a, b)]
    assert codes == [401, 401, 401, 401]
    assert attacker.log_in(a, email, password="wrong password!!") == 429
    assert attacker.log_in(b, email) == 429  # the other server knows: one counter in Redis


@pytest.mark.usefixtures("fresh_limits")
def test_a_request_claimed_through_one_server_cannot_be_claimed_through_the_other(
    deployment, tmp_path
) -> None:
    a, b = deployment["ports"]
    app = create_app(
        make_config(
            DATABASE_URL=deployment["url"],
            INSTANCE_PATH=str(tmp_path),
            ENCRYPTION_KEYS=deployment["encryption_key"],  # the servers' key
        )
    )
    with app.app_context():
        from lms.support import services
        from lms.support.models import SupportRequest

        therapist = db.session.get(User, deployment["people"]["therapist"][0])
        request = services.file_request(
            therapist,
            {
                "category": "medication",
                "urgency": "urgent",
                "subject": "Dose timing question",
                "description": "Patient asks about timing.",
                "callback_phone": "303-555-0101",
            },
        )
        db.session.commit()
        request_id = request.id
        db.session.remove()
        db.engine.dispose()

    ana, ben = Browser(), Browser()
    _, ana_email, ana_secret = deployment["people"]["ana"]
    _, ben_email, ben_secret = deployment["people"]["ben"]
    assert ana.log_in(a, ana_email, ana_secret) == 302
    assert ben.log_in(b, ben_email, ben_secret) == 302
    path = f"/clinical/support/{request_id}"
    tokens = {"ana": ana.csrf(a, path), "ben": ben.csrf(b, path)}
    results: dict[str, tuple[int, str, dict]] = {}
    start = threading.Barrier(2)

    def claim(name: str, person: Browser, port: int) -> None:
        start.wait()
        results[name] = person.open(port, f"{path}/claim", {"csrf_token": tokens[name]})

    threads = [
        threading.Thread(target=claim, args=("ana", ana, a)),
        threading.Thread(target=claim, args=("ben", ben, b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    statuses = sorted(results[name][0] for name in ("ana", "ben"))
    assert statuses == [302, 409], statuses
    loser = "ana" if results["ana"][0] == 409 else "ben"
    winner_name = "Ben Brooks" if loser == "ana" else "Ana Alvarez"
    assert f"{winner_name} claimed this request first" in results[loser][1]

    with app.app_context():
        row = db.session.scalar(select(SupportRequest).where(SupportRequest.id == request_id))
        owner = db.session.get(User, row.claimed_by_id)
        assert owner.full_name == winner_name
        db.session.remove()
        db.engine.dispose()
