"""Password reset by e-mailed link, password change, profile."""

from __future__ import annotations

import re
from datetime import timedelta

from freezegun import freeze_time

from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from tests.conftest import PASSWORD, log_in

NEW = "seven blue lanterns drifting"


def _reset_path(message) -> str:
    link = re.search(r"http://\S+", message.text).group(0)
    return "/" + link.split("/", 3)[3]


def test_reset_end_to_end_and_link_is_single_use(client, make_user, mail) -> None:
    user = make_user()
    response = client.post("/password/forgot", data={"email": user.email.upper()})
    assert response.status_code == 200
    assert "Check your e-mail" in response.get_data(as_text=True)
    assert len(mail) == 1 and mail[0].subject == "Reset your password"
    path = _reset_path(mail[0])
    assert client.get(path).status_code == 200
    done = client.post(path, data={"password": NEW, "confirm": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert log_in(client, user, PASSWORD).status_code == 401
    assert log_in(client, user, NEW).status_code == 302
    client.post("/logout")
    again = client.get(path)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    assert mail[-1].subject == "Your password was changed"


def test_unknown_email_gets_the_same_page_and_no_mail(client, make_user, mail) -> None:
    make_user(email="known@example.org")
    known = client.post("/password/forgot", data={"email": "known@example.org"}).get_data(
        as_text=True
    )
    unknown = client.post("/password/forgot", data={"email": "unknown@example.org"}).get_data(
        as_text=True
    )
    assert known.replace("known@example.org", "X") == unknown.replace("unknown@example.org", "X")
    assert [m.to for m in mail] == ["known@example.org"]


def test_reset_link_expires(client, make_user, mail) -> None:
    user = make_user()
    client.post("/password/forgot", data={"email": user.email})
    path = _reset_path(mail[0])
    with freeze_time(utcnow() + timedelta(minutes=61)):
        response = client.get(path)
        assert response.status_code == 400
        assert "expired" in response.get_data(as_text=True)
        assert client.post(path, data={"password": NEW, "confirm": NEW}).status_code == 400
    assert log_in(client, user, PASSWORD).status_code == 302


def test_reset_refuses_a_weak_password_and_keeps_the_old_one(client, make_user, mail) -> None:
    user = make_user()
    client.post("/password/forgot", data={"email": user.email})
    path = _reset_path(mail[0])
    response = client.post(path, data={"password": "password1234", "confirm": "password1234"})
    assert response.status_code == 422
    assert "most commonly used" in response.get_data(as_text=True)
    assert log_in(client, user, PASSWORD).status_code == 302


def test_reset_ends_other_sessions(app, make_user, mail) -> None:
    user = make_user()
    other = app.test_client()
    assert log_in(other, user).status_code == 302
    client = app.test_client()
    client.post("/password/forgot", data={"email": user.email})
    path = _reset_path(mail[0])
    client.post(path, data={"password": NEW, "confirm": NEW})
    assert other.get("/dashboard").status_code == 302


def test_deactivated_account_gets_no_reset_mail(client, make_user, mail) -> None:
    user = make_user(active=False)
    client.post("/password/forgot", data={"email": user.email})
    assert mail == []


def test_change_password_needs_the_current_one(app, client, make_user, login, mail) -> None:
    user = make_user()
    login(user)
    other = app.test_client()
    log_in(other, user)
    bad = client.post(
        "/account/password",
        data={"pw-current_password": "not my password", "pw-password": NEW, "pw-confirm": NEW},
    )
    assert bad.status_code == 422
    assert "current password is not correct" in bad.get_data(as_text=True)
    good = client.post(
        "/account/password",
        data={"pw-current_password": PASSWORD, "pw-password": NEW, "pw-confirm": NEW},
    )
    assert good.status_code == 302
    assert client.get("/account").status_code == 200  # this session stays
    assert other.get("/dashboard").status_code == 302  # the others end
    client.post("/logout")
    assert log_in(client, user, NEW).status_code == 302
    assert mail[-1].subject == "Your password was changed"


def test_profile_updates_name_and_time_zone(client, make_user, login) -> None:
    user = make_user()
    login(user)
    response = client.post(
        "/account",
        data={
            "profile-full_name": "Robin Q. Hale",
            "profile-timezone": "America/Los_Angeles",
            "profile-submit": "1",
        },
    )
    assert response.status_code == 302
    fresh = db.session.get(User, user.id)
    assert fresh.full_name == "Robin Q. Hale"
    assert fresh.timezone == "America/Los_Angeles"


def test_profile_refuses_an_unknown_time_zone(client, make_user, login) -> None:
    user = make_user()
    login(user)
    response = client.post(
        "/account",
        data={"profile-full_name": "X", "profile-timezone": "Nowhere/Land", "profile-submit": "1"},
    )
    assert response.status_code == 422
    assert "Choose a time zone" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).timezone == "America/New_York"
