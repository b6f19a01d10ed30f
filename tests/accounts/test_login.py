"""Log-in, log-out, sessions ending, and the rate limit."""

from __future__ import annotations

from sqlalchemy import select

from lms.audit import AuditEvent
from lms.extensions import db
from tests.conftest import PASSWORD, log_in


def _actions(user_id=None) -> list[str]:
    stmt = select(AuditEvent.action).order_by(AuditEvent.id)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.object_id == str(user_id))
    return list(db.session.scalars(stmt))


def test_login_and_logout(client, make_user) -> None:
    user = make_user(full_name="Robin Hale")
    response = log_in(client, user)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert "Robin" in client.get("/dashboard").get_data(as_text=True)
    assert client.post("/logout").status_code == 302
    assert client.get("/dashboard").status_code == 302
    assert _actions(user.id)[-2:] == ["auth.login", "auth.logout"]


def test_email_is_matched_case_insensitively(client, make_user) -> None:
    user = make_user(email="robin@example.org")
    assert log_in(client, "  Robin@Example.ORG ").status_code == 302
    assert db.session.get(type(user), user.id).last_login_at is not None


def test_wrong_password_and_unknown_email_give_the_same_answer(client, make_user) -> None:
    user = make_user()
    wrong = log_in(client, user, "not the right password")
    unknown = log_in(client, "nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or password is not correct."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    failures = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.login_failed").order_by(AuditEvent.id)
    ).all()
    assert [f.details["reason"] for f in failures] == ["wrong password", "unknown e-mail"]
    assert failures[0].object_id == str(user.id)
    assert failures[1].details["email"] == "nobody@example.org"


def test_unverified_account_cannot_log_in_and_can_ask_for_a_new_link(
    client, make_user, mail
) -> None:
    user = make_user(verified=False)
    response = log_in(client, user)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Confirm your e-mail address before logging in" in page
    assert "Send a new confirmation link" in page
    assert client.get("/dashboard").status_code == 302


def test_deactivated_account_cannot_log_in(client, make_user) -> None:
    user = make_user(active=False)
    response = log_in(client, user)
    assert response.status_code == 403
    assert "deactivated" in response.get_data(as_text=True)
    # the wrong password does not reveal the account state
    assert "deactivated" not in log_in(client, user, "wrong password!!").get_data(as_text=True)


def test_deactivation_ends_open_sessions(app, client, make_user, login) -> None:
    from lms.accounts import services

    admin = make_user("admin")
    user = make_user()
    login(user)
    assert client.get("/dashboard").status_code == 200
    services.set_active(admin, db.session.merge(user), False)
    db.session.commit()
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_next_parameter_only_follows_local_paths(client, make_user) -> None:
    user = make_user()
    response = client.post("/login?next=/account", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/account")
    client.post("/logout")
    response = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"].endswith("/dashboard")


def test_session_cookie_flags(client, make_user) -> None:
    response = log_in(client, make_user())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_is_rate_limited(app, client, make_user) -> None:
    user = make_user()
    old = app.config["LOGIN_RATE_LIMIT"]
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [log_in(client, user, "wrong password!!").status_code for _ in range(4)]
        assert codes[:3] == [401, 401, 401]
        assert codes[3] == 429
        blocked = log_in(client, user)
        assert blocked.status_code == 429
        assert "Too many attempts" in blocked.get_data(as_text=True)
    finally:
        app.config["LOGIN_RATE_LIMIT"] = old


def test_logout_needs_post(client, make_user, login) -> None:
    login(make_user())
    assert client.get("/logout").status_code == 405
    assert client.get("/dashboard").status_code == 200
