"""Bounded queries: every key page runs a fixed number of SQL statements, whatever the data.

Each test loads the page with a few rows behind it, adds many more (more than a page
shows), loads it again, and asserts the same number of statements both times (no N+1)
and no more than the page's bound. The bounds are what the pages run today: a change that
adds a statement must raise the bound here, on purpose. docs/PERFORMANCE.md lists what
each page's statements are and which could still go.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from bench.built import statements_built
from lms.accounts.models import Role, User
from lms.db import utcnow
from lms.extensions import db
from lms.support import notifications
from lms.support import services as support
from lms.training.demo import ideal_response
from lms.training.forms import field_name
from lms.training.gift import Question
from lms.training.models import Course, QuizAttempt
from tests.conftest import QueryCounter
from tests.perf.conftest import (
    FILING,
    MANY,
    add_audit_rows,
    add_certificates,
    add_finished_attempts,
    add_licenses,
    add_messages,
    add_requests,
    own_statements,
    statements,
)

# The most statements each page may run (session and user loading included).
BOUNDS = {
    "dashboard": 6,  # 5 for a therapist whose training is done (no course read)
    "lesson": 4,
    "answer_save": 3,
    "quiz_submit": 9,
    "verify": 1,
    "queue": 6,
    "queue_live": 4,
    "queue_live_unchanged": 2,
    "support_index": 4,
    "support_detail": 3,
    "support_new_form": 2,
    "support_file": 8,
    "staff_review": 5,
    "admin_dashboard": 7,  # 5 while the funnel is kept (ADMIN_FUNNEL_CACHE_SECONDS)
    "admin_search": 4,
    "audit_log": 3,
    "webhook": 4,
}


# SQLite cannot hand back the ids of a multi-row INSERT in the rows' order, so SQLAlchemy
# inserts rows of one table one at a time there: a filing's two events and two audit rows.
SQLITE_EXTRA = {"support_file": 2}


def check(name: str, few: int, many: int) -> None:
    assert few == many, f"{name}: {few} statements with few rows, {many} with {MANY}+"
    bound = BOUNDS[name]
    if db.session.get_bind().dialect.name == "sqlite":
        bound += SQLITE_EXTRA.get(name, 0)
    assert many <= bound, f"{name}: {many} statements, bound {bound}"


@pytest.fixture
def staff(make_user: Callable[..., User]) -> dict[str, User]:
    return {"clinician": make_user(Role.CLINICIAN), "admin": make_user(Role.ADMIN)}


# --- therapists ---------------------------------------------------------------------------------


def test_dashboard(
    client: FlaskClient, login: Any, learner: User, count_queries: QueryCounter, mini_course: Course
) -> None:
    login(learner)
    few, page = statements(client, count_queries, "/dashboard")
    assert page.status_code == 200
    add_licenses(learner, MANY)
    add_finished_attempts(learner, mini_course, "01-basics", MANY)
    many, page = statements(client, count_queries, "/dashboard")
    assert page.status_code == 200
    check("dashboard", few, many)


def _open_attempt(client: FlaskClient, slug: str = "01-basics") -> QuizAttempt:
    base = f"/courses/mini-course/modules/{slug}"
    assert client.post(f"{base}/complete").status_code == 302
    started = client.post(f"{base}/quiz")
    assert started.status_code == 302, started.get_data(as_text=True)[:300]
    attempt_id = int(started.headers["Location"].rstrip("/").split("/")[-1])
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert attempt is not None
    return attempt


def _answer_form(attempt: QuizAttempt) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for position, entry in enumerate(attempt.questions):
        question = Question.from_dict(entry["question"])
        if question.kind in ("essay", "description"):
            continue
        response = ideal_response(question)
        name = field_name(position)
        if question.kind == "multiresponse":
            form[name] = [str(v) for v in response]
        elif question.kind == "matching":
            form.update({f"{name}-m{k}": v for k, v in response.items()})
        elif question.kind == "truefalse":
            form[name] = "true" if response else "false"
        else:
            form[name] = str(response)
    return form


def test_lesson(
    client: FlaskClient, login: Any, learner: User, count_queries: QueryCounter, mini_course: Course
) -> None:
    login(learner)
    url = "/courses/mini-course/modules/01-basics"
    few, page = statements(client, count_queries, url)
    assert page.status_code == 200
    add_finished_attempts(learner, mini_course, "01-basics", MANY)
    many, page = statements(client, count_queries, url)
    assert page.status_code == 200
    check("lesson", few, many)


def test_quiz_answer_save_and_submit(
    client: FlaskClient, login: Any, learner: User, count_queries: QueryCounter, mini_course: Course
) -> None:
    login(learner)
    add_finished_attempts(learner, mini_course, "01-basics", 1)
    attempt = _open_attempt(client)
    form = _answer_form(attempt)
    first = next(iter(form))
    position = int(first[1:].split("-")[0])
    save_url = f"/attempts/{attempt.id}/answers/{position}"
    few, saved = statements(client, count_queries, save_url, "POST", data={first: form[first]})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    # The same learner's long history, and other learners' attempts, change nothing.
    add_finished_attempts(learner, mini_course, "01-basics", MANY)
    many, saved = statements(client, count_queries, save_url, "POST", data={first: form[first]})
    assert saved.status_code == 200
    check("answer_save", few, many)

    count, submitted = statements(
        client, count_queries, f"/attempts/{attempt.id}/submit", "POST", data=form
    )
    assert submitted.status_code == 302
    assert submitted.headers["Location"].endswith(f"/attempts/{attempt.id}/result")
    assert count <= BOUNDS["quiz_submit"], count


def test_quiz_submit_does_not_grow_with_history(
    client: FlaskClient, login: Any, learner: User, count_queries: QueryCounter, mini_course: Course
) -> None:
    login(learner)
    attempt = _open_attempt(client)
    form = _answer_form(attempt)
    few, submitted = statements(
        client, count_queries, f"/attempts/{attempt.id}/submit", "POST", data=form
    )
    assert submitted.status_code == 302
    # A second learner, once the quiz has a long history of attempts (the first learner's).
    add_finished_attempts(learner, mini_course, "01-basics", MANY)
    other, attempt, many, submitted = _second_learner_submits(
        client, login, learner, mini_course, count_queries
    )
    assert submitted.status_code == 302
    check("quiz_submit", few, many)


def test_a_failed_submit_does_not_ask_whether_the_course_is_complete(
    client: FlaskClient, login: Any, learner: User, count_queries: QueryCounter, mini_course: Course
) -> None:
    """A course completes only when one of its modules does: an attempt that fails (nothing
    answered) completes no module, so the course's modules are not looked at; one that
    passes is, and the module's progress comes with the locked attempt (no read of its own)."""
    from lms.training.models import AttemptStatus, ModuleProgress, QuizAttempt

    login(learner)
    attempt = _open_attempt(client)
    _count, failed = statements(
        client, count_queries, f"/attempts/{attempt.id}/submit", "POST", data={}
    )
    assert failed.status_code == 302
    db.session.expire_all()
    scored = db.session.get(QuizAttempt, attempt.id)
    assert scored is not None and scored.status == AttemptStatus.SUBMITTED and not scored.passed
    assert not [s for s in count_queries.statements if "course_version_modules" in s]
    # Another learner passes (a failed attempt may have to wait before the next).
    other, attempt, _count, passed = _second_learner_submits(
        client, login, learner, mini_course, count_queries
    )
    assert passed.status_code == 302
    db.session.expire_all()
    scored = db.session.get(QuizAttempt, attempt.id)
    assert scored is not None and scored.passed
    assert [s for s in count_queries.statements if "course_version_modules" in s]
    assert not [
        s for s in count_queries.statements if s.lstrip().startswith("SELECT module_progress")
    ]
    progress = db.session.scalar(
        select(ModuleProgress).where(
            ModuleProgress.user_id == other.id,
            ModuleProgress.module_version_id == attempt.module_version_id,
        )
    )
    assert progress is not None and progress.quiz_passed_at is not None


def _second_learner_submits(
    client: FlaskClient, login: Any, first: User, course: Course, counter: QueryCounter
) -> tuple[User, QuizAttempt, int, Any]:
    """Another learner logs in, opens the quiz and submits its right answers: the learner,
    the attempt, the submit's statements and its response."""
    other = _second_learner(first, course)
    assert client.post("/logout").status_code == 302
    login(other)
    attempt = _open_attempt(client)
    count, submitted = statements(
        client, counter, f"/attempts/{attempt.id}/submit", "POST", data=_answer_form(attempt)
    )
    return other, attempt, count, submitted


def _second_learner(first: User, course: Course) -> User:
    """Another learner enrolled in ``course`` (certification does not matter to the quiz)."""
    from lms.training.models import Enrollment, EnrollmentSource, EnrollmentStatus

    user = User(
        email=f"second-{first.id}@example.org",
        full_name="Second Learner",
        password_hash=first.password_hash,
        role=Role.THERAPIST,
        email_verified_at=first.email_verified_at,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(
        Enrollment(
            user_id=user.id,
            course_id=course.id,
            course_version_id=course.current_version_id,
            status=EnrollmentStatus.ACTIVE,
            source=EnrollmentSource.FREE,
        )
    )
    db.session.commit()
    return user


def test_certificate_verification(
    client: FlaskClient, make_user: Callable[..., User], count_queries: QueryCounter
) -> None:
    course = Course(slug="perf-course", title="Perf course")
    db.session.add(course)
    db.session.commit()
    from lms.training.models import CourseVersion

    version = CourseVersion(course_id=course.id, number=1, label="1", content_hash="p" * 64)
    db.session.add(version)
    db.session.flush()
    course.current_version_id = version.id
    db.session.commit()
    first = add_certificates(course, [make_user(Role.THERAPIST)])[0]
    few, page = statements(client, count_queries, f"/verify/{first.code}")
    assert page.status_code == 200
    add_certificates(course, [make_user(Role.THERAPIST) for _ in range(MANY)])
    many, page = statements(client, count_queries, f"/verify/{first.code}")
    assert page.status_code == 200
    check("verify", few, many)
    with statements_built() as found:  # its one statement is built once per process
        assert client.get(f"/verify/{first.code}").status_code == 200
    assert own_statements(found) == []


# --- the support queue --------------------------------------------------------------------------


def test_support_pages_of_a_therapist(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],
    count_queries: QueryCounter,
) -> None:
    therapist = make_certified()
    clinician = staff["clinician"]
    first = add_requests(therapist, 3, clinician=clinician)[0]
    login(therapist)
    few = {
        "support_index": statements(client, count_queries, "/support"),
        "support_detail": statements(client, count_queries, f"/support/{first.id}"),
        "support_new_form": statements(client, count_queries, "/support/new"),
    }
    add_requests(therapist, MANY, clinician=clinician)
    add_messages(first, therapist, clinician, MANY)
    many = {
        "support_index": statements(client, count_queries, "/support"),
        "support_detail": statements(client, count_queries, f"/support/{first.id}"),
        "support_new_form": statements(client, count_queries, "/support/new"),
    }
    for name in few:
        assert few[name][1].status_code == 200 and many[name][1].status_code == 200, name
        check(name, few[name][0], many[name][0])


def test_filing_a_request(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],
    count_queries: QueryCounter,
) -> None:
    therapist = make_certified()
    support.set_on_call(staff["clinician"], True)
    db.session.commit()
    login(therapist)

    def file(n: int) -> tuple[int, Any]:
        return statements(
            client,
            count_queries,
            "/support/new",
            "POST",
            data={**FILING, "submission_token": f"perf-token-{n}"},
        )

    few, filed = file(1)
    assert filed.status_code == 302, filed.get_data(as_text=True)[:500]
    add_requests(therapist, MANY, clinician=staff["clinician"])
    many, filed = file(2)
    assert filed.status_code == 302
    check("support_file", few, many)


def test_clinician_queue_and_request(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],
    count_queries: QueryCounter,
) -> None:
    therapists = [make_certified(), make_certified()]
    clinician = staff["clinician"]
    first = add_requests(therapists[0], 3, clinician=clinician)[0]
    login(clinician)
    urls = {
        "queue": "/clinical/support",
        "queue_live": "/clinical/support/live",
        "staff_review": f"/clinical/support/{first.id}",
    }
    few = {name: statements(client, count_queries, url) for name, url in urls.items()}
    for therapist in therapists:
        add_requests(therapist, MANY, clinician=clinician)
    add_messages(first, therapists[0], clinician, MANY)
    many = {name: statements(client, count_queries, url) for name, url in urls.items()}
    for name in urls:
        assert few[name][1].status_code == 200 and many[name][1].status_code == 200, name
        check(name, few[name][0], many[name][0])


def test_an_unchanged_queue_poll(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],
    count_queries: QueryCounter,
) -> None:
    """A poll that finds the queue as its page shows it: the session and the counters."""
    therapist, clinician = make_certified(), staff["clinician"]
    add_requests(therapist, 3, clinician=clinician)
    login(clinician)

    def poll() -> tuple[int, Any]:
        notifications.mark_read(clinician.id, utcnow())
        db.session.commit()
        page = client.get("/clinical/support").get_data(as_text=True)
        found = re.search(r'hx-get="([^"]+)" hx-trigger', page)
        assert found
        return statements(client, count_queries, found.group(1).replace("&amp;", "&"))

    start = utcnow().replace(second=3, microsecond=0) + timedelta(minutes=1)
    with freeze_time(start):
        few, first = poll()
        add_requests(therapist, MANY, clinician=clinician)
        many, second = poll()
    assert first.status_code == 204 and second.status_code == 204
    check("queue_live_unchanged", few, many)


# --- admins -------------------------------------------------------------------------------------


def test_admin_dashboard_and_search(
    client: FlaskClient,
    login: Any,
    make_user: Callable[..., User],
    make_certified: Callable[..., User],
    staff: dict[str, User],
    count_queries: QueryCounter,
) -> None:
    from lms.licensure.models import RecordStatus
    from tests.certification.conftest import give_license

    for i in range(3):
        give_license(make_user(Role.THERAPIST, full_name=f"Smith {i}"), status=RecordStatus.PENDING)
    make_certified(full_name="Smith Certified")
    login(staff["admin"])
    urls = {
        "admin_dashboard": "/admin/",
        "admin_search": "/admin/therapists?q=smith",
        "audit_log": "/admin/audit",
    }
    few = {name: statements(client, count_queries, url) for name, url in urls.items()}
    for i in range(MANY):
        user = make_user(Role.THERAPIST, full_name=f"Smith Many {i}")
        give_license(user, status=RecordStatus.PENDING if i % 2 else RecordStatus.VERIFIED)
    add_requests(make_certified(full_name="Smith Filer"), MANY)
    add_audit_rows(staff["admin"], MANY)
    many = {name: statements(client, count_queries, url) for name, url in urls.items()}
    for name in urls:
        assert few[name][1].status_code == 200 and many[name][1].status_code == 200, name
        check(name, few[name][0], many[name][0])


# --- the Stripe webhook -------------------------------------------------------------------------


def test_webhook(
    app: Flask, client: FlaskClient, count_queries: QueryCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec_perf_test"  # noqa: S105
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_perf")
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", secret)

    def post(n: int) -> tuple[int, Any]:
        payload = json.dumps(
            {
                "id": f"evt_perf_{n}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "data": {"object": {"id": f"pi_perf_{n}", "object": "payment_intent"}},
            }
        ).encode()
        stamp = int(time.time())
        digest = hmac.new(secret.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256)
        return statements(
            client,
            count_queries,
            "/stripe/webhook",
            "POST",
            data=payload,
            headers={
                "Stripe-Signature": f"t={stamp},v1={digest.hexdigest()}",
                "Content-Type": "application/json",
            },
        )

    few, answer = post(0)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "unknown_payment"
    for n in range(1, MANY):
        assert post(n)[1].status_code == 200
    many, answer = post(MANY)
    assert answer.status_code == 200
    check("webhook", few, many)
    with statements_built() as found:  # its look-ups are built once per process
        assert post(MANY + 1)[1].status_code == 200
    assert own_statements(found) == []
