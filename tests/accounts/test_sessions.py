"""Server-side sessions: idle timeout, absolute lifetime, log-out that really ends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import select

from lms.accounts.models import UserSession
from lms.extensions import db
from tests.conftest import PASSWORD, log_in


def _reload(obj):
    """The row as the database has it now (the requests ran in their own sessions)."""
    return db.session.get(type(obj), obj.id, populate_existing=True)


def _rows(user) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
        )
    )


def _copy_cookie(app, source, name="lms_session"):
    twin = app.test_client()
    cookie = source.get_cookie(name)
    twin.set_cookie(name, cookie.value)
    return twin


def test_log_in_starts_a_fresh_session_and_records_it(client, make_user) -> None:
    user = make_user()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"  # session fixation attempt
    log_in(client, user)
    with client.session_transaction() as session:
        assert "planted" not in session
        token, _, key = session["_user_id"].partition(":")
    assert token == user.session_token and key
    [row] = _rows(user)
    assert row.ended_at is None and row.user_agent


def test_log_out_ends_the_session_on_the_server(app, client, make_user) -> None:
    user = make_user()
    log_in(client, user)
    stolen = _copy_cookie(app, client)  # the same cookie, kept elsewhere
    assert stolen.get("/dashboard").status_code == 200
    client.post("/logout")
    assert stolen.get("/dashboard").headers["Location"].startswith("/login")
    [row] = _rows(user)
    assert row.end_reason == "logout"


def test_idle_sessions_end_with_a_message(client, make_user) -> None:
    user = make_user()
    log_in(client, user)
    [row] = _rows(user)
    row.last_seen_at = row.last_seen_at - timedelta(minutes=31)
    db.session.commit()
    response = client.get("/dashboard")
    assert response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "logged out after a period without activity" in page
    row = _reload(row)
    assert row.end_reason == "idle"


def test_activity_keeps_a_session_open_but_background_polls_do_not(client, make_user) -> None:
    user = make_user()
    log_in(client, user)
    [row] = _rows(user)
    row.last_seen_at = row.last_seen_at - timedelta(minutes=20)
    db.session.commit()
    client.get("/dashboard", headers={"X-LMS-Background": "1"})
    row = _reload(row)
    first = row.last_seen_at
    assert client.post("/session/keepalive").get_json() == {"idle_seconds": 1800}
    row = _reload(row)
    assert row.last_seen_at > first + timedelta(minutes=19)


def test_sessions_end_at_their_absolute_lifetime(client, make_user) -> None:
    user = make_user()
    log_in(client, user)
    [row] = _rows(user)
    row.created_at = row.created_at - timedelta(hours=12, minutes=1)
    db.session.commit()
    response = client.get("/dashboard")
    assert response.headers["Location"].startswith("/login")
    row = _reload(row)
    assert row.end_reason == "lifetime"


def test_a_password_change_ends_the_other_sessions_only(app, client, make_user) -> None:
    user = make_user()
    log_in(client, user)
    phone = app.test_client()
    log_in(phone, user)
    response = client.post(
        "/account/password",
        data={
            "pw-current_password": PASSWORD,
            "pw-password": "a brand new passphrase 2026",
            "pw-confirm": "a brand new passphrase 2026",
        },
    )
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    assert phone.get("/dashboard").headers["Location"].startswith("/login")
    reasons = [r.end_reason for r in _rows(user)]
    assert reasons.count("password changed") == 2 and reasons.count(None) == 1


def test_log_out_other_sessions_from_the_account_page(app, client, make_user) -> None:
    user = make_user()
    log_in(client, user)
    laptop = app.test_client()
    log_in(laptop, user)
    page = client.get("/account").get_data(as_text=True)
    assert "This device" in page and "Log out other sessions" in page
    client.post("/account/sessions/end-others")
    assert client.get("/dashboard").status_code == 200
    assert laptop.get("/dashboard").headers["Location"].startswith("/login")


def test_deactivation_ends_every_session(app, client, make_user, login) -> None:
    therapist = make_user()
    their = app.test_client()
    log_in(their, therapist)
    admin = make_user("admin")
    login(admin)
    client.post(f"/admin/users/{therapist.id}/active", data={"active": "0", "reason": "test"})
    assert their.get("/dashboard").headers["Location"].startswith("/login")
    assert all(r.end_reason == "deactivated" for r in _rows(therapist))


def _session_cookies(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("lms_session=")]


def test_the_cookie_is_written_when_the_session_changes_not_on_every_page(
    app, client, make_user
) -> None:
    user = make_user()
    response = log_in(client, user)
    [written] = _session_cookies(response)
    # It lives as long as the longest session the server allows.
    expires = parsedate_to_datetime(written.split("Expires=")[1].split(";")[0])
    lifetime = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    assert abs(expires - (datetime.now(UTC) + lifetime)) < timedelta(minutes=2)
    client.get("/dashboard")  # shows (and so removes) the welcome message: written
    page = client.get("/dashboard")
    assert page.status_code == 200 and _session_cookies(page) == []
    # The cookie in the browser still opens the session: nothing was lost by not rewriting it.
    assert client.get("/account").status_code == 200
    # A change to the session (a flash message here) is written.
    assert _session_cookies(client.post("/logout"))


def test_the_session_cookie_outlives_the_longest_session() -> None:
    from lms.config import load_config

    settings = load_config(environ={"SESSION_MAX_HOURS": "30"})
    assert settings["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=30)
    assert load_config(environ={})["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)
