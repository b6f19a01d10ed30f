"""Performance fixtures: the key pages' users, and ways to add many rows behind each page.

Every "grow" helper adds rows the page reads (or filters, or counts), so a test can load
the page with a few rows and again with hundreds and compare the SQL statements it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import License, RecordStatus
from lms.support.models import EventKind, Status, SupportEvent, SupportRequest, Urgency
from lms.training.models import (
    AttemptStatus,
    Certificate,
    Course,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    QuizAttempt,
)
from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)
from tests.conftest import QueryCounter
from tests.training.conftest import (  # noqa: F401 - fixtures
    courses_dir,
    mini_course,
    sync_courses,
)

# A larger number of rows than one page shows (the lists show 25 or 50).
MANY = 120

# A support request as the form files it (add a "submission_token" of its own).
FILING = {
    "urgency": "high",
    "category": "medication",
    "subject": "Can the patient keep taking lamotrigine?",
    "description": "Question before the next session.",
    "callback_phone": "303-555-0100",
    "referral_id": "",
}


def statements(
    client: FlaskClient, counter: QueryCounter, url: str, method: str = "GET", **kwargs: Any
) -> tuple[int, Any]:
    """The number of SQL statements one request runs, and its response. A page (GET) is
    opened once before it is measured: the first visit may write what later visits do not
    (where the learner is in the course, alerts marked read)."""
    if method == "GET":
        client.open(url, method=method, **kwargs)
    with counter as q:
        response = client.open(url, method=method, **kwargs)
    return q.count, response


@pytest.fixture
def learner(make_certified: Callable[..., User], mini_course: Course) -> User:  # noqa: F811
    """A certified partner enrolled in the mini course (its first module has a quiz)."""
    user = make_certified()
    enrollment = Enrollment(
        user_id=user.id,
        course_id=mini_course.id,
        course_version_id=mini_course.current_version_id,
        status=EnrollmentStatus.ACTIVE,
        source=EnrollmentSource.FREE,
    )
    db.session.add(enrollment)
    db.session.commit()
    return user


def add_licenses(user: User, n: int) -> None:
    """``n`` more verified licenses (a partner licensed in many states)."""
    day = utcnow().date()
    for i in range(n):
        db.session.add(
            License(
                user_id=user.id,
                license_type=LicenseType.LPC,
                state="CO",
                number=f"LPC-{user.id}-{i}",
                issued_on=day - timedelta(days=900),
                expires_on=day + timedelta(days=200 + i),
                status=RecordStatus.VERIFIED,
            )
        )
    db.session.commit()


def add_finished_attempts(user: User, course: Course, module_slug: str, n: int) -> None:
    """``n`` submitted attempts at one module's quiz (a long history of retakes)."""
    from lms.training.models import ModuleVersion

    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    module = db.session.scalar(
        select(ModuleVersion).where(
            ModuleVersion.course_id == course.id, ModuleVersion.slug == module_slug
        )
    )
    assert enrollment is not None and module is not None
    start = len(
        db.session.scalars(
            select(QuizAttempt.id).where(
                QuizAttempt.user_id == user.id, QuizAttempt.module_version_id == module.id
            )
        ).all()
    )
    for i in range(n):
        db.session.add(
            QuizAttempt(
                user_id=user.id,
                enrollment_id=enrollment.id,
                module_version_id=module.id,
                number=start + i + 1,
                status=AttemptStatus.SUBMITTED,
                questions=[],
                pass_mark=80,
                review="feedback",
                started_at=utcnow() - timedelta(days=30, minutes=i),
                submitted_at=utcnow() - timedelta(days=30),
                score=0.5,
                passed=False,
            )
        )
    db.session.commit()


def add_certificates(course: Course, holders: list[User]) -> list[Certificate]:
    from lms.training.certificates import new_code

    rows = []
    for user in holders:
        enrollment = Enrollment(
            user_id=user.id,
            course_id=course.id,
            course_version_id=course.current_version_id,
            status=EnrollmentStatus.COMPLETED,
            source=EnrollmentSource.FREE,
        )
        db.session.add(enrollment)
        db.session.flush()
        row = Certificate(
            code=new_code(),
            user_id=user.id,
            course_id=course.id,
            enrollment_id=enrollment.id,
            course_version_id=course.current_version_id,
            holder_name=user.full_name,
            course_title=course.title,
            ce_hours=Decimal("6"),
            issued_at=utcnow() - timedelta(days=3),
            expires_at=utcnow() + timedelta(days=700),
        )
        db.session.add(row)
        rows.append(row)
    db.session.commit()
    return rows


def add_requests(therapist: User, n: int, *, clinician: User | None = None) -> list[SupportRequest]:
    """``n`` active support requests (half claimed by ``clinician`` when given), each with
    its filing event."""
    now = utcnow()
    rows = []
    for i in range(n):
        claimed = clinician is not None and i % 2 == 0
        row = SupportRequest(
            therapist_id=therapist.id,
            category="medication",
            urgency=(Urgency.URGENT, Urgency.HIGH, Urgency.ROUTINE)[i % 3],
            subject=f"Question {i}",
            description="A question about a patient.",
            callback_phone="303-555-0100",
            status=Status.CLAIMED if claimed else Status.OPEN,
            claimed_by_id=clinician.id if claimed and clinician else None,
            claimed_at=now if claimed else None,
            target_minutes=120,
            filed_at=now - timedelta(minutes=i),
            due_at=now + timedelta(minutes=120 - i),
            updated_at=now,
        )
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    for row in rows:
        db.session.add(
            SupportEvent(
                request_id=row.id,
                actor_id=therapist.id,
                kind=EventKind.FILED,
                to_status=Status.OPEN,
                created_at=row.filed_at,
            )
        )
    db.session.commit()
    return rows


def add_messages(request: SupportRequest, therapist: User, clinician: User, n: int) -> None:
    """``n`` messages back and forth (and internal notes) in one request's history."""
    now = utcnow()
    for i in range(n):
        kind = (EventKind.REPLY, EventKind.THERAPIST_REPLY, EventKind.NOTE)[i % 3]
        db.session.add(
            SupportEvent(
                request_id=request.id,
                actor_id=therapist.id if kind == EventKind.THERAPIST_REPLY else clinician.id,
                kind=kind,
                internal=kind == EventKind.NOTE,
                body=f"Message {i}",
                created_at=now + timedelta(seconds=i),
            )
        )
    db.session.commit()


def add_audit_rows(actor: User, n: int) -> None:
    now = utcnow()
    db.session.add_all(
        AuditEvent(
            created_at=now - timedelta(minutes=i),
            actor_id=actor.id,
            actor_email=actor.email,
            action="auth.login",
            object_type="user",
            object_id=str(actor.id),
            details={},
        )
        for i in range(n)
    )
    db.session.commit()


@pytest.fixture
def engine_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The keyword arguments the next app's ``create_engine`` receives (it is still called:
    creating an engine does not connect)."""
    from lms import db as lms_db

    made: dict[str, Any] = {}
    real = lms_db.create_engine

    def capture(url: str, **options: Any) -> Any:
        made.update(options)
        return real(url, **options)

    monkeypatch.setattr(lms_db, "create_engine", capture)
    return made


# What SQLAlchemy builds itself on a request, and may: the INSERTs and UPDATEs of a flush,
# a primary-key Session.get (``get_or_404``), the lazy load of an attempt's answers.
ORM_OWN = ("Insert ", "Update ", "Select get_or_404", "Select _answer_row")


def own_statements(found: list[str]) -> list[str]:
    """The statements of ``bench.built.statements_built``'s list that the app built itself,
    as ``"<kind> <function>"`` (the tests' savepoints and what SQLAlchemy builds left out)."""
    named = [f"{entry.split(' ')[0]} {entry.rsplit(' ', 1)[-1]}" for entry in found]
    return [
        entry
        for entry in named
        if not entry.split(" ")[0].endswith("SavepointClause") and not entry.startswith(ORM_OWN)
    ]
