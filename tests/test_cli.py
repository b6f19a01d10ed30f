"""CLI: seed-demo and create-admin."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.accounts.models import Role, User
from lms.extensions import db
from tests.conftest import log_in


def test_seed_demo_is_idempotent_and_accounts_can_log_in(app, client, db_session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "demo-password-2026" in first.output
    for email in (
        "admin@example.org",
        "clinician@example.org",
        "therapist@example.org",
        "partner@example.org",
    ):
        assert email in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "exists" in second.output
    count = db.session.scalar(
        select(func.count()).select_from(User).where(User.email.like("%@example.org"))
    )
    assert count == 4
    roles = dict(db.session.execute(select(User.email, User.role)).all())
    assert (
        roles["admin@example.org"] == Role.ADMIN
        and roles["clinician@example.org"] == Role.CLINICIAN
    )
    for email in roles:
        assert log_in(client, email, "demo-password-2026").status_code == 302
        client.post("/logout")


def test_create_admin(app, db_session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-admin", "Ops@Example.org", "--name", "Olive Ops", "--password-stdin"],
        input="a long and private admin passphrase\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "ops@example.org"))
    assert user.role == Role.ADMIN and user.email_verified


def test_create_admin_refuses_a_weak_password(app, db_session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-admin", "weak@example.org", "--name", "W", "--password-stdin"],
        input="password1234\n",
    )
    assert result.exit_code != 0
    assert "most commonly used" in result.output
    assert db.session.scalar(select(User).where(User.email == "weak@example.org")) is None
