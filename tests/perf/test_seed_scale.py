"""``flask seed-scale``: the numbers asked for, data the app accepts, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lms import scale
from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.certification.services import certification_status, certified_clause
from lms.extensions import db
from lms.licensure.models import License
from lms.outcomes.models import Measurement
from lms.referrals.models import Referral
from lms.support.models import SupportEvent, SupportRequest
from lms.training.models import ModuleProgress, QuizAttempt

SCALE = 0.004


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def seeded(app: Flask, db_session: Any) -> dict[str, Any]:
    scale.register(app)
    result = app.test_cli_runner().invoke(args=["seed-scale", "--scale", str(SCALE)])
    assert result.exit_code == 0, result.output
    return {"output": result.output, "plan": scale.plan_counts(SCALE)}


def test_makes_the_numbers_asked_for(seeded: dict[str, Any]) -> None:
    plan = seeded["plan"]
    scale_users = User.email.like(f"%@{scale.SCALE_DOMAIN}")
    assert count(User, scale_users, User.role == Role.THERAPIST) == plan["therapists"]
    assert (
        count(ModuleProgress, ModuleProgress.completed_at.is_not(None))
        == (plan["module_completions"])
    )
    assert count(QuizAttempt) == plan["quiz_attempts"]
    assert count(License) == plan["licenses"]
    assert count(SupportRequest) == plan["support_requests"]
    assert count(SupportEvent) == plan["support_events"]
    assert count(Referral) == plan["referrals"]
    assert count(Measurement) == plan["outcome_measurements"]
    scale_actor = AuditEvent.actor_email.like(f"%@{scale.SCALE_DOMAIN}")
    assert count(AuditEvent, scale_actor) == plan["audit_events"]
    # It says what it made.
    report = seeded["output"].split("Made:")[1].split("Scale users")[0]
    made = dict(line.split() for line in report.strip().splitlines())
    assert made.get("support_requests") == f"{plan['support_requests']:,}", seeded["output"]
    assert made.get("audit_events") == f"{plan['audit_events']:,}"


def test_data_is_realistic_and_consistent(seeded: dict[str, Any]) -> None:
    therapists = list(
        db.session.scalars(
            select(User).where(
                User.email.like(f"%@{scale.SCALE_DOMAIN}"), User.role == Role.THERAPIST
            )
        )
    )
    # Every therapist's time zone is a real one, and some partners are certified by the
    # same rule the app applies on every request (the SQL twin agrees).
    certified = list(db.session.scalars(select(User).where(certified_clause())))
    assert certified, "no certified partner: the partner pages could not be exercised"
    assert len(certified) < len(therapists)  # most are still on their way
    for user in certified[:5]:
        assert certification_status(user).certified, user.email
    # Requests in every state of the queue, urgent ones among them, and closed history.
    statuses = set(db.session.scalars(select(SupportRequest.status).distinct()))
    assert {"resolved", "closed"} <= {s.value for s in statuses}
    # History runs over years, not minutes.
    oldest = db.session.scalar(select(func.min(AuditEvent.created_at)))
    newest = db.session.scalar(select(func.max(AuditEvent.created_at)))
    assert oldest is not None and newest is not None
    assert (newest - oldest).days > 700


def test_refuses_to_add_a_second_copy_then_resets(app: Flask, seeded: dict[str, Any]) -> None:
    runner = app.test_cli_runner()
    again = runner.invoke(args=["seed-scale", "--scale", str(SCALE)])
    assert again.exit_code != 0
    assert "already" in again.output
    before = count(SupportRequest)
    reset = runner.invoke(args=["seed-scale", "--scale", str(SCALE), "--reset", "--yes"])
    assert reset.exit_code == 0, reset.output
    assert count(SupportRequest) == before  # regenerated, not added to
    assert count(User, User.email.like(f"%@{scale.SCALE_DOMAIN}")) == sum(
        seeded["plan"][k] for k in ("therapists", "clinicians", "admins")
    )


def test_refuses_in_production(
    app: Flask, db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scale.register(app)
    monkeypatch.setitem(app.config, "LMS_ENV", "production")
    result = app.test_cli_runner().invoke(args=["seed-scale", "--scale", str(SCALE)])
    assert result.exit_code != 0
    assert "production" in result.output
    assert count(User, User.email.like(f"%@{scale.SCALE_DOMAIN}")) == 0


def test_scale_must_be_sensible() -> None:
    with pytest.raises(scale.ScaleError):
        scale.plan_counts(0)
    assert scale.plan_counts(1.0)["therapists"] == 5000
    assert scale.plan_counts(0.01)["audit_events"] == 10_000
