"""E-mail goes out after the commit through the job queue; backends SMTP, file, memory."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from lms import jobs
from lms.extensions import db
from lms.mail import build_mime, deliver_email, send_email, send_email_to_each


def _payload(**overrides) -> dict:
    base = {
        "to": "someone@example.org",
        "subject": "Hello",
        "text": "plain body",
        "html": "<p>html body</p>",
        "sender": "Partner LMS <no-reply@partner-lms.local>",
        "message_id": "<x@partner-lms.local>",
    }
    return {**base, **overrides}


def test_mail_is_sent_only_after_commit(app, db_session, mail) -> None:
    with app.test_request_context("/"):
        send_email(
            "a@example.org",
            "Subject A",
            "password_changed",
            reason="test",
            user=_FakeUser(),
            link="http://x/",
        )
        assert mail == []  # nothing leaves before the commit
        db.session.commit()
    assert [m.to for m in mail] == ["a@example.org"]
    assert "test" in mail[0].text and "test" in mail[0].html  # the reason footer, in both parts


def test_mail_is_dropped_when_the_transaction_rolls_back(app, db_session, mail) -> None:
    with app.test_request_context("/"):
        send_email(
            "b@example.org",
            "Subject B",
            "password_changed",
            reason="test",
            user=_FakeUser(),
            link="http://x/",
        )
        db.session.rollback()
        db.session.commit()
    assert mail == []


class _FakeUser:
    full_name = "Casey Example"


def test_mime_has_plain_text_and_html_parts() -> None:
    from lms.mail import OutgoingEmail

    mime = build_mime(OutgoingEmail(**_payload()))
    types = [part.get_content_type() for part in mime.walk()]
    assert types == ["multipart/alternative", "text/plain", "text/html"]


def test_file_backend_writes_eml_files(app, db_session, tmp_path: Path) -> None:
    old = app.config["MAIL_BACKEND"], app.config["MAIL_FOLDER"]
    app.config.update(MAIL_BACKEND="file", MAIL_FOLDER=str(tmp_path / "mail"))
    try:
        deliver_email.call_local(_payload(subject="Filed"))
    finally:
        app.config["MAIL_BACKEND"], app.config["MAIL_FOLDER"] = old
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Filed"


class _Collect:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_backend_delivers_to_a_real_smtp_server(app, db_session) -> None:
    handler = _Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    old = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        deliver_email.call_local(_payload(subject="Over SMTP"))
    finally:
        app.config.update(old)
        controller.stop()
    assert [m["Subject"] for m in handler.messages] == ["Over SMTP"]
    assert (
        handler.messages[0].get_body(preferencelist=("html",)).get_content().strip()
        == "<p>html body</p>"
    )


def test_smtp_failure_raises_so_the_queue_retries(app, db_session) -> None:
    old = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT")}
    app.config.update(
        MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_TIMEOUT=2
    )
    try:
        with pytest.raises(OSError):
            deliver_email.call_local(_payload())
    finally:
        app.config.update(old)
    assert deliver_email.retries == 5 and deliver_email.retry_delay == 60


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_queued_job_is_stored_and_run_by_a_worker(
    app, db_session, tmp_path: Path, backend: str
) -> None:
    """Enqueue into real storage (SQLite file or Redis), then run it as the worker does."""
    from huey.storage import RedisStorage, SqliteStorage

    redis = "redis://127.0.0.1:6379/15" if backend == "redis" else None
    with _real_queue(app, tmp_path, redis):
        expected = RedisStorage if backend == "redis" else SqliteStorage
        assert isinstance(jobs.huey.storage, expected)
        deliver_email(_payload(subject=f"Queued via {backend}"))
        assert not list((tmp_path / "mail").glob("*.eml"))  # not run yet: it waits in storage
        assert jobs.huey.pending_count() == 1
        task = jobs.huey.dequeue()
        jobs.huey.execute(task)
        files = list((tmp_path / "mail").glob("*.eml"))
        assert len(files) == 1 and f"Queued via {backend}" in files[0].read_text()


@contextmanager
def _real_queue(app, tmp_path: Path, redis_url: str | None = None) -> Iterator[None]:
    """Jobs go to real storage (a SQLite file, or Redis) and wait for a worker; mail is
    written as files under ``tmp_path / "mail"``. The queue starts and ends empty."""
    settings = {
        "HUEY_IMMEDIATE": False,
        "HUEY_SQLITE_PATH": str(tmp_path / "jobs.db"),
        "REDIS_URL": redis_url,
        "MAIL_BACKEND": "file",
        "MAIL_FOLDER": str(tmp_path / "mail"),
    }
    old = {k: app.config.get(k) for k in settings}
    app.config.update(settings)
    try:
        jobs.init_app(app)
        jobs.huey.flush()
        yield
    finally:
        jobs.huey.flush()
        app.config.update(old)
        jobs.init_app(app)


def _written_mail(tmp_path: Path) -> list[email.message.EmailMessage]:
    """The messages the file backend wrote under ``tmp_path / "mail"``."""
    return [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        for f in (tmp_path / "mail").glob("*.eml")
    ]


def test_one_message_to_many_is_one_job_then_one_delivery_each(
    app, db_session, tmp_path: Path
) -> None:
    """send_email_to_each queues one job; the worker turns it into a delivery job per
    recipient, each its own message (one address, its own Message-ID)."""
    recipients = ["one@example.org", "two@example.org", "three@example.org"]
    with _real_queue(app, tmp_path):
        with app.test_request_context("/"):
            send_email_to_each(
                recipients,
                "To each",
                "password_changed",
                reason="test",
                user=_FakeUser(),
                link="http://x/",
            )
            db.session.commit()
        assert jobs.huey.pending_count() == 1  # one job, whatever the number of recipients
        jobs.huey.execute(jobs.huey.dequeue())
        assert jobs.huey.pending_count() == 3
        while jobs.huey.pending_count():
            jobs.huey.execute(jobs.huey.dequeue())
        messages = _written_mail(tmp_path)
        assert sorted(m["To"] for m in messages) == sorted(recipients)
        assert len({m["Message-ID"] for m in messages}) == 3
        assert all(m["Subject"] == "To each" for m in messages)


def test_the_emails_of_one_transaction_are_one_job(app, db_session, tmp_path: Path) -> None:
    """Several messages in one transaction (a filing's, one per time zone) queue one job at
    the commit; it gives every recipient of every message a delivery of their own. A
    transaction that rolls back queues nothing."""
    sent = {"Zone one": ["a@example.org", "b@example.org"], "Zone two": ["c@example.org"]}
    with _real_queue(app, tmp_path):
        with app.test_request_context("/"):
            send_email(
                "lost@example.org",
                "Rolled back",
                "password_changed",
                reason="t",
                user=_FakeUser(),
                link="http://x/",
            )
            db.session.rollback()
            for subject, recipients in sent.items():
                send_email_to_each(
                    recipients,
                    subject,
                    "password_changed",
                    reason="t",
                    user=_FakeUser(),
                    link="http://x/",
                )
            db.session.commit()
        assert jobs.huey.pending_count() == 1
        while jobs.huey.pending_count():
            jobs.huey.execute(jobs.huey.dequeue())
        messages = _written_mail(tmp_path)
        assert sorted((m["Subject"], m["To"]) for m in messages) == [
            ("Zone one", "a@example.org"),
            ("Zone one", "b@example.org"),
            ("Zone two", "c@example.org"),
        ]
        assert len({m["Message-ID"] for m in messages}) == 3


def test_after_commit_actions_run_once(app, db_session) -> None:
    calls: list[int] = []
    jobs.after_commit(db.session(), lambda: calls.append(1))
    db.session.commit()
    db.session.commit()
    assert calls == [1]


def test_dev_mail_page_lists_eml_files_for_admins(
    app, client, make_user, login, tmp_path: Path
) -> None:
    old = app.config["MAIL_BACKEND"], app.config["MAIL_FOLDER"]
    app.config.update(MAIL_BACKEND="file", MAIL_FOLDER=str(tmp_path / "mail"))
    try:
        deliver_email.call_local(_payload(subject="Visible in dev", html="<p>HTML <b>part</b></p>"))
        name = next((tmp_path / "mail").glob("*.eml")).name
        login(make_user("admin"))
        listing = client.get("/admin/mail").get_data(as_text=True)
        assert "Visible in dev" in listing
        detail = client.get(f"/admin/mail/{name}").get_data(as_text=True)
        assert "plain body" in detail
        html = client.get(f"/admin/mail/{name}/html")
        assert "sandbox" in html.headers["Content-Security-Policy"]
        assert client.get("/admin/mail/../../etc/passwd").status_code == 404
        assert client.get("/admin/mail/not-a-mail.eml").status_code == 404
    finally:
        app.config["MAIL_BACKEND"], app.config["MAIL_FOLDER"] = old
    # with another backend the page does not exist
    assert client.get("/admin/mail").status_code == 404


def test_dev_mail_page_is_admin_only(app, client, make_user, login) -> None:
    login(make_user("clinician"))
    assert client.get("/admin/mail").status_code == 403


def test_huey_storage_follows_settings(app, tmp_path: Path) -> None:
    start = time.monotonic()
    assert jobs.huey.immediate is True  # the suite runs jobs inline
    assert time.monotonic() - start < 5


# --- one message to readers in several time zones ----------------------------------------------

ZONES = {
    "America/New_York": ["ny1@example.org", "ny2@example.org"],
    "Asia/Kolkata": ["in@example.org"],
    None: ["escalation@example.org"],  # an escalation contact: no zone of their own (UTC)
}


def _zone_context() -> tuple[dict, dict]:
    from datetime import UTC, datetime

    from lms.support.timing import in_zone

    due = datetime(2026, 11, 29, 23, 45, tzinfo=UTC)
    filed = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    context = {
        "request_id": 42,
        "urgency": "Urgent <now>",  # escaped in the HTML part, whichever way it is rendered
        "category": "Acute dosing",
        "target": "15 min",
        "claimed": False,
        "sequence": 1,
        "link": "http://127.0.0.1:5000/clinical/support/42",
    }
    local = {"due": lambda z: in_zone(due, z), "filed": lambda z: in_zone(filed, z)}
    return context, local


@pytest.mark.parametrize(
    "template",
    ["support_new_request", "support_nobody_on_call", "support_renotify", "support_escalation"],
)
def test_one_rendering_for_many_zones_gives_each_zone_its_own_message(
    app, db_session, mail, template
) -> None:
    """Rendered once with marks, each zone's copy is what rendering it for that zone gives:
    the same subject, text and HTML (the times on the reader's clock), to the same people."""
    from lms.mail import send_email_in_zones

    context, local = _zone_context()

    def subject(v):
        return f"Request #42: respond by {v['due']} & <soon>"

    with app.test_request_context("/"):
        send_email_in_zones(ZONES, subject, template, reason="on call", local=local, **context)
        db.session.commit()
    once = sorted(mail, key=lambda m: m.to)
    mail.clear()
    with app.test_request_context("/"):
        for zone, recipients in ZONES.items():
            values = {key: value(zone) for key, value in local.items()}
            send_email_to_each(
                recipients, subject(values), template, reason="on call", **context, **values
            )
        db.session.commit()
    per_zone = sorted(mail, key=lambda m: m.to)
    assert len(once) == 4
    assert [(m.to, m.subject, m.text, m.html) for m in once] == [
        (m.to, m.subject, m.text, m.html) for m in per_zone
    ]
    kolkata = next(m for m in once if m.to == "in@example.org")
    assert "Nov 30, 2026 5:15 AM IST" in kolkata.text  # the reader's own clock
    assert "\ue000" not in kolkata.text + kolkata.html + kolkata.subject


def test_a_template_that_changes_a_local_value_is_rendered_for_each_zone(
    app, db_session, mail, monkeypatch
) -> None:
    """A filter on a local value (here: upper-casing what the templates write) would cut a
    mark: each zone is then rendered on its own, and its time is still right."""
    from lms import mail as mail_module

    real = mail_module.render_template

    def shouting(name, **context):
        return real(name, **context).replace("\ue000due\ue000", "\ue000DUE\ue000")

    monkeypatch.setattr(mail_module, "render_template", shouting)
    context, local = _zone_context()
    with app.test_request_context("/"):
        mail_module.send_email_in_zones(
            ZONES, lambda v: "Due", "support_new_request", reason="r", local=local, **context
        )
        db.session.commit()
    kolkata = next(m for m in mail if m.to == "in@example.org")
    assert "Nov 30, 2026 5:15 AM IST" in kolkata.text
    assert "\ue000" not in kolkata.text + kolkata.html
