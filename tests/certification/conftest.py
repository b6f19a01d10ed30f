"""Certification fixtures: a therapist who meets every requirement, and ways to break each."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lms.accounts.models import User
from lms.certification import services
from lms.config import PROJECT_ROOT
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import InsurancePolicy, License, RecordStatus
from lms.licensure.services import today
from lms.training.models import (
    Certificate,
    Course,
    CourseVersion,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
)

AGREEMENTS = PROJECT_ROOT / "agreements" / "partner-agreement"


@pytest.fixture
def agreements_dir(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the agreements, used as AGREEMENTS_PATH for the test."""
    target = tmp_path / "agreements"
    shutil.copytree(AGREEMENTS, target)
    old = app.config["AGREEMENTS_PATH"]
    app.config["AGREEMENTS_PATH"] = str(target)
    yield target
    app.config["AGREEMENTS_PATH"] = old


def publish_version(root: Path, version: int, effective: str = "2027-01-01") -> None:
    (root / f"v{version}.md").write_text(
        f"---\nversion: {version}\neffective: {effective}\n"
        "title: Partner Agreement and Business Associate Agreement\n---\n\n"
        f"# Partner Agreement, version {version}\n\nRevised terms.\n",
        encoding="utf-8",
    )


def add_required_course(slug: str, title: str) -> Course:
    """A published course required for certification (one version, no modules)."""
    course = Course(slug=slug, title=title, required_for_certification=True)
    db.session.add(course)
    db.session.flush()
    version = CourseVersion(course_id=course.id, number=1, label="1", content_hash="h" * 64)
    db.session.add(version)
    db.session.flush()
    course.current_version_id = version.id
    db.session.commit()
    return course


@pytest.fixture
def required_course(db_session: Any) -> Course:
    return add_required_course("kap-required", "KAP Required Course")


def give_certificate(user: User, course: Course, **overrides: Any) -> Certificate:
    enrollment = Enrollment(
        user_id=user.id,
        course_id=course.id,
        course_version_id=course.current_version_id,
        status=EnrollmentStatus.COMPLETED,
        source=EnrollmentSource.FREE,
        completed_at=utcnow(),
    )
    db.session.add(enrollment)
    db.session.flush()
    values: dict[str, Any] = {
        "code": f"TEST-{user.id}-{course.id}",
        "user_id": user.id,
        "course_id": course.id,
        "enrollment_id": enrollment.id,
        "course_version_id": course.current_version_id,
        "holder_name": user.full_name,
        "course_title": course.title,
        "ce_hours": Decimal("6"),
        "issued_at": utcnow() - timedelta(days=10),
        "expires_at": utcnow() + timedelta(days=700),
    }
    values.update(overrides)
    certificate = Certificate(**values)
    db.session.add(certificate)
    db.session.commit()
    return certificate


def give_license(user: User, expires_on: date | None = None, **overrides: Any) -> License:
    values: dict[str, Any] = {
        "user_id": user.id,
        "license_type": LicenseType.LMFT,
        "state": "CO",
        "number": f"MFT-{user.id}",
        "issued_on": today() - timedelta(days=1000),
        "expires_on": expires_on or today() + timedelta(days=300),
        "status": RecordStatus.VERIFIED,
    }
    values.update(overrides)
    row = License(**values)
    db.session.add(row)
    db.session.commit()
    return row


def give_insurance(user: User, **overrides: Any) -> InsurancePolicy:
    values: dict[str, Any] = {
        "user_id": user.id,
        "carrier": "Example Mutual",
        "policy_number": f"EM-{user.id}",
        "per_claim_cents": 1_000_000_00,
        "aggregate_cents": 3_000_000_00,
        "expires_on": today() + timedelta(days=200),
        "status": RecordStatus.VERIFIED,
    }
    values.update(overrides)
    row = InsurancePolicy(**values)
    db.session.add(row)
    db.session.commit()
    return row


def accept_current(user: User) -> None:
    from lms.certification import agreements

    services.accept_agreement(user, agreements.current().version, user.full_name, "127.0.0.1")
    db.session.commit()


@pytest.fixture
def make_certified(make_user, required_course, agreements_dir) -> Callable[..., User]:
    """A therapist meeting every requirement except those named in ``skip``."""

    def make(skip: tuple[str, ...] = (), **user_kwargs: Any) -> User:
        user = make_user("therapist", verified="account" not in skip, **user_kwargs)
        if "training" not in skip:
            give_certificate(user, required_course)
        if "license" not in skip:
            give_license(user)
        if "insurance" not in skip:
            give_insurance(user)
        if "agreement" not in skip:
            accept_current(user)
        return user

    return make
