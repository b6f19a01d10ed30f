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


def test_seed_demo_works_with_payments_on(app, db_session, monkeypatch) -> None:
    """With Stripe keys set the demo partner's paid course is comped by the demo admin (no
    call to Stripe), and the applicant is left to enrol and pay from the course page."""
    from lms.certification.services import is_certified
    from lms.training.models import Enrollment, EnrollmentSource
    from lms.training.sync import sync_all

    _, problems = sync_all()
    assert problems == []
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_not_called")
    monkeypatch.setitem(app.config, "STRIPE_PUBLISHABLE_KEY", "pk_test_not_called")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "payments are on: therapist@example.org enrols" in result.output
    users = {u.email: u for u in db.session.scalars(select(User))}
    partner = users["partner@example.org"]
    [enrollment] = db.session.scalars(select(Enrollment).where(Enrollment.user_id == partner.id))
    assert enrollment.source == EnrollmentSource.COMPED and enrollment.completed_at is not None
    assert is_certified(partner)
    applicant = users["therapist@example.org"]
    assert not db.session.scalars(
        select(Enrollment).where(Enrollment.user_id == applicant.id)
    ).all()
