"""Therapist self-registration and e-mail verification."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db

FORM = {
    "full_name": "Dana Whitfield",
    "email": "Dana.Whitfield@Example.org",
    "password": "quiet river northern mountain",
    "confirm": "quiet river northern mountain",
    "timezone": "America/Chicago",
}


def _link(message) -> str:
    return re.search(r"http://\S+", message.text).group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _tampered(path: str) -> str:
    """The path with the first character of its signature changed.

    Changing the last characters is not enough: the last base64 character of
    a signature carries unused bits, so some changes there decode to the same
    signature and the link still works.
    """
    head, signature = path.rsplit(".", 1)
    return f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def test_registration_creates_an_unverified_therapist_and_sends_a_link(client, mail) -> None:
    response = client.post("/register", data=FORM)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/check-email")
    user = db.session.scalar(select(User).where(User.email == "dana.whitfield@example.org"))
    assert user is not None
    assert user.role == Role.THERAPIST
    assert user.email_verified_at is None
    assert user.timezone == "America/Chicago"
    assert user.password_hash.startswith("scrypt:")
    assert len(mail) == 1
    assert mail[0].to == "dana.whitfield@example.org"
    assert "/verify-email/" in mail[0].text and "/verify-email/" in mail[0].html
    assert "why" not in mail[0].text.lower() or "created an account" in mail[0].text
    page = client.get("/register/check-email").get_data(as_text=True)
    assert "dana.whitfield@example.org" in page


def test_cannot_register_as_staff_whatever_the_form_says(client, mail) -> None:
    client.post("/register", data={**FORM, "role": "admin"})
    user = db.session.scalar(select(User).where(User.email == "dana.whitfield@example.org"))
    assert user.role == Role.THERAPIST


def test_email_is_unique_case_insensitively(client, make_user, mail) -> None:
    make_user(email="dana.whitfield@example.org")
    response = client.post("/register", data=FORM)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "already exists" in page
    assert "Dana Whitfield" in page  # what the user typed is kept
    assert mail == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password": "short pw", "confirm": "short pw"}, "at least 12 characters"),
        ({"password": "password1234", "confirm": "password1234"}, "most commonly used"),
        ({"confirm": "something else entirely"}, "do not match"),
        ({"email": "not-an-email"}, "valid e-mail address"),
        ({"timezone": "Mars/Olympus_Mons"}, "time zone"),
        ({"full_name": ""}, "Enter your full name"),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(client, mail, changes, message) -> None:
    response = client.post("/register", data={**FORM, **changes})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "dana.whitfield@example.org")) is None
    assert mail == []


def test_a_128_character_password_is_accepted(client, mail) -> None:
    long_password = ("long passphrases are welcome here " * 5)[:128]
    response = client.post(
        "/register", data={**FORM, "password": long_password, "confirm": long_password}
    )
    assert response.status_code == 302


def test_verification_link_verifies_once(client, mail) -> None:
    client.post("/register", data=FORM)
    path = _path(_link(mail[0]))
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    user = db.session.scalar(select(User).where(User.email == "dana.whitfield@example.org"))
    assert user.email_verified_at is not None
    user_id = user.id
    again = client.get(path)
    assert again.status_code == 400
    assert "already confirmed" in again.get_data(as_text=True)
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(user_id))
    ).all()
    assert "account.email_verified" in actions


def test_verification_link_expires(client, mail) -> None:
    client.post("/register", data=FORM)
    path = _path(_link(mail[0]))
    with freeze_time(utcnow() + timedelta(hours=49)):
        response = client.get(path)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.email == "dana.whitfield@example.org"))
    assert user.email_verified_at is None


def test_tampered_verification_link_is_refused(client, mail) -> None:
    client.post("/register", data=FORM)
    path = _path(_link(mail[0]))
    response = client.get(_tampered(path))
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)


def test_resend_verification_does_not_reveal_accounts(client, mail, make_user) -> None:
    make_user(email="unverified@example.org", verified=False)
    known = client.post("/verify-email/resend", data={"email": "unverified@example.org"})
    unknown = client.post("/verify-email/resend", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert len(mail) == 1 and mail[0].to == "unverified@example.org"


def test_logged_in_user_visiting_register_goes_to_dashboard(client, make_user, login) -> None:
    login(make_user())
    assert client.get("/register").headers["Location"].endswith("/dashboard")
