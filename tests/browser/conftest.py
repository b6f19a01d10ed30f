"""Browser tests: the real app behind a real HTTP server, a real SMTP server, headless Chromium.

One app, one live server, one SMTP sink and one Chromium per session; a fresh
browser context per test. Between tests the SQLite file is put back to its
freshly migrated state (the audit log forbids DELETE, so tables cannot be
emptied) and the received mail is cleared.
"""

from __future__ import annotations

import email
import email.policy
import functools
import logging
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from lms import create_app, jobs
from lms.accounts.mfa import current_code, new_secret
from lms.accounts.models import Role, User
from lms.accounts.passwords import hash_password
from lms.config import TestConfig
from lms.db import utcnow
from lms.extensions import db, limiter
from lms.training import outline

PASSWORD = "violet lantern harbour 42"  # noqa: S105 - test credential

# The app the browser talks to (set by the live_server fixture), so that log_in can read
# the staff's authenticator secrets as a person reads their phone.
_LIVE: dict[str, Flask] = {}
TIMEOUT_MS = 10_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

expect.set_options(timeout=TIMEOUT_MS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- SMTP ----------------------------------------------------------------------------


class MailSink:
    """Messages received by the SMTP server, parsed; safe to read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self.port = 0

    # aiosmtpd handler hook
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self._messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def messages_to(self, to: str) -> list[EmailMessage]:
        return [m for m in self.messages if to.lower() in str(m["To"]).lower()]

    def wait_for_mail(
        self, to: str, subject_contains: str = "", timeout: float = 10
    ) -> EmailMessage:
        """The first message to ``to`` whose subject contains ``subject_contains``."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages_to(to):
                if subject_contains.lower() in str(message["Subject"]).lower():
                    return message
            if time.monotonic() > deadline:
                seen = [(str(m["To"]), str(m["Subject"])) for m in self.messages]
                raise AssertionError(
                    f"no e-mail to {to!r} with {subject_contains!r} in the subject "
                    f"within {timeout}s; received: {seen}"
                )
            time.sleep(0.05)


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"no text/plain part in {message['Subject']!r}"
    return str(part.get_content())


def first_link(message: EmailMessage) -> str:
    """The first http(s) link in the message's text/plain part."""
    match = re.search(r"https?://[^\s<>\"']+", text_body(message))
    assert match, f"no link in the e-mail {message['Subject']!r}:\n{text_body(message)}"
    return match.group(0)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[MailSink]:
    sink = MailSink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: MailSink) -> MailSink:
    return smtp_server


# --- the live app --------------------------------------------------------------------


class _Deferred:
    """The WSGI app the server calls; set once the app exists (it needs the server's port).

    Also counts the requests in progress, so the database is never swapped under one, and
    reads each body whole before the server writes it.
    """

    def __init__(self) -> None:
        self.app: Flask | None = None
        self._idle = threading.Condition()
        self._active = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None
        with self._idle:
            self._active += 1
        try:
            # The body is read and the app's iterable closed here, inside the count. The
            # development server only closes it after draining the socket, and skips that
            # when the browser has already dropped the connection (a cached favicon, a
            # page closed mid-request), which leaks the open static file.
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout)


class _ErrorLog(logging.Handler):
    """Collects errors the app logs (unhandled exceptions, failed e-mail delivery)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class LiveServer:
    url: str
    app: Flask
    db_path: Path
    pristine: Path
    errors: _ErrorLog
    server: BaseWSGIServer
    wsgi: _Deferred = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def restore_database(self) -> None:
        """Put the SQLite file back to its freshly migrated state."""
        self.wsgi.wait_idle()
        self.app.extensions["lms.db"].engine.dispose()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.pristine, self.db_path)
        outline.clear(self.app)  # the restored rows' ids now name other content


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, smtp_server: MailSink
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("browser-instance")
    deferred = _Deferred()
    server = make_server("127.0.0.1", 0, deferred, threaded=True)
    try:
        live = _start(server, deferred, folder, smtp_server.port)
    except BaseException:
        server.server_close()
        raise
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        live.thread.join(timeout=10)
        live.app.logger.removeHandler(live.errors)
        live.app.extensions["lms.db"].engine.dispose()


def _start(server: BaseWSGIServer, deferred: _Deferred, folder: Path, smtp_port: int) -> LiveServer:
    """Build the app for this server's address, migrate it, and start serving."""
    url = f"http://127.0.0.1:{server.server_port}"
    db_path = folder / "browser.sqlite3"
    config = type(
        "BrowserConfig",
        (TestConfig,),
        {
            "DATABASE_URL": f"sqlite:///{db_path}",
            "INSTANCE_PATH": str(folder),
            "WTF_CSRF_ENABLED": True,  # real CSRF protection, as in production
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_port,
            "MAIL_TIMEOUT": 10,
            "HUEY_IMMEDIATE": True,  # jobs (e-mail) run inline right after the commit
            "BASE_URL": url,
            "PROPAGATE_EXCEPTIONS_IN_TESTS": False,
        },
    )
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()  # the schema comes from the migrations, as in production
    app.extensions["lms.db"].engine.dispose()  # checkpoints the WAL into the main file
    pristine = folder / "pristine.sqlite3"
    shutil.copyfile(db_path, pristine)

    errors = _ErrorLog()
    app.logger.addHandler(errors)
    deferred.app = app
    _LIVE["app"] = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(
        url=url,
        app=app,
        db_path=db_path,
        pristine=pristine,
        errors=errors,
        server=server,
        wsgi=deferred,
        thread=thread,
    )


@pytest.fixture(autouse=True)
def _fresh_state(live_server: LiveServer, smtp_server: MailSink) -> Iterator[None]:
    """Each test starts on the freshly migrated database with an empty mailbox."""
    live_server.restore_database()
    smtp_server.clear()
    jobs.init_app(live_server.app)  # other test modules may have bound the queue elsewhere
    limiter.reset()
    live_server.errors.records.clear()
    yield
    records, live_server.errors.records[:] = list(live_server.errors.records), []
    if records:
        formatter = logging.Formatter()
        details = "\n\n".join(formatter.format(r) for r in records)
        pytest.fail(f"the app logged {len(records)} error(s) during the test:\n{details}")


# --- users ---------------------------------------------------------------------------


@functools.cache
def _password_hash(password: str) -> str:
    return hash_password(password)  # scrypt is slow on purpose: once per password per run


@dataclass(frozen=True)
class UserInfo:
    id: int
    email: str
    full_name: str
    role: str
    password: str


@pytest.fixture
def make_user(live_server: LiveServer) -> Callable[..., UserInfo]:
    """Create a user directly in the database (set-up, not what the test is about)."""

    def make(
        email: str,
        password: str = PASSWORD,
        role: Role | str = Role.THERAPIST,
        *,
        full_name: str | None = None,
        verified: bool = True,
        active: bool = True,
        timezone: str = "America/New_York",
        mfa: bool | None = None,
    ) -> UserInfo:
        """Staff get two-step verification set up (as they must) unless ``mfa=False``."""
        name = full_name or email.split("@", 1)[0].replace(".", " ").title()
        with_mfa = Role(role) != Role.THERAPIST if mfa is None else mfa
        with live_server.app.app_context():
            user = User(
                mfa_secret=new_secret() if with_mfa else None,
                mfa_enabled_at=utcnow() if with_mfa else None,
                email=email.strip().lower(),
                full_name=name,
                password_hash=_password_hash(password),
                role=Role(role),
                timezone=timezone,
                email_verified_at=utcnow() if verified else None,
                is_active=active,
                deactivated_at=None if active else utcnow(),
            )
            db.session.add(user)
            db.session.commit()
            return UserInfo(user.id, user.email, user.full_name, user.role.value, password)

    return make


# --- Playwright ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    instance = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer
) -> Iterator[Callable[[], BrowserContext]]:
    """Open another browser context (another person, or the same person elsewhere)."""
    opened: list[BrowserContext] = []

    def open_context() -> BrowserContext:
        ctx = browser.new_context(
            base_url=live_server.url,
            locale="en-US",
            timezone_id="America/Chicago",
            reduced_motion="reduce",  # no transitions to wait for before clicking
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        opened.append(ctx)
        return ctx

    yield open_context
    for ctx in opened:
        ctx.close()


def _accept_dialog(dialog: Dialog) -> None:
    dialog.accept()


@pytest.fixture
def new_page(new_context: Callable[[], BrowserContext]) -> Callable[..., Page]:
    """A page in a fresh context; confirmation dialogs are accepted unless told otherwise."""

    def open_page(*, accept_dialogs: bool = True) -> Page:
        pg = new_context().new_page()
        if accept_dialogs:
            pg.on("dialog", _accept_dialog)
        return pg

    return open_page


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


# --- steps shared by the tests -------------------------------------------------------


def nav_link(page: Page, name: str) -> Locator:
    """A link in the site's main navigation, by its exact text."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def authenticator_code(email: str) -> str:
    """What the person's authenticator app shows now (each code is accepted once, so the
    replay guard is reset: tests log the same person in more often than 30 s apart)."""
    app = _LIVE["app"]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email.lower()))
        assert user is not None and user.mfa_secret, f"{email} has no two-step verification"
        user.mfa_last_step = None
        db.session.commit()
        return current_code(user.mfa_secret)


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill in and send the log-in form, and the two-step code when asked for one (does not
    check the outcome)."""
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    if re.search(r"/login/verify$", page.url):
        page.get_by_label("Authentication code").fill(authenticator_code(email))
        with page.expect_response(lambda response: response.request.method == "POST"):
            page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()


def log_in_ok(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in and land on the home page: the dashboard, or the operations page for admins."""
    log_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/(dashboard|admin/)$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("Welcome|Operations"))


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
