"""What the benchmark sends: logged-in sessions and the request list of every scenario.

Users are not logged in through the form (staff would need a two-step code on every
run): a :class:`~lms.accounts.models.UserSession` row is written and the Flask session
cookie is signed with the server's secret key, exactly as ``lms.accounts.views.sign_in``
leaves it (``_user_id`` = ``"<user.session_token>:<key>"``, ``_fresh``, ``_id`` from
Flask-Login's session protection, ``_permanent``), with a CSRF token made by Flask-WTF's
own ``generate_csrf`` inside a request carrying that session.

One-shot requests (a quiz submit, a filed support request, a webhook event) need fresh
material on every run: quiz submits go to seeded learners whose next module has a quiz, each
given an answered attempt there (:func:`open_attempts`), and :func:`restore` puts those learners
back as they were after the run; every filed request carries its own submission token; every
webhook event its own id and signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, session
from flask_login.utils import _create_identifier
from flask_wtf.csrf import generate_csrf
from sqlalchemy import delete, func, select, text, update

from lms.accounts.models import Role, User
from lms.extensions import db
from lms.scale import SCALE_DOMAIN, Writer, iter_scale_users

USER_AGENT = "lms-bench/1"
BENCH_SUBJECT = "[bench] "
# Every request the benchmark files has a submission token starting with this.
BENCH_FILING_PREFIX = "bench-"


@dataclass
class Login:
    user_id: int
    cookie: str  # the Cookie header value
    csrf: str


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def line(self) -> str:
        parts = [self.method, self.path, f"User-Agent: {USER_AGENT}"]
        parts += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body is not None:
            parts.append("BODY=" + self.body)
        return "\t".join(parts)


def live_part_url(page: str) -> str | None:
    """The URL an open page polls (its live part's ``hx-get``, with the page's token)."""
    import html
    import re

    found = re.search(r'hx-get="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


@dataclass
class Scenario:
    name: str
    label: str
    kind: str  # "read" or "write"
    expect: set[int]
    requests: list[Request]
    # Each request may be sent once only (a submit, a filing, a webhook event).
    one_shot: bool = False


def sign_sessions(app: Flask, users: list[tuple[int, str]]) -> list[Login]:
    """Open a server-side session for each (user id, session token) and sign its cookie."""
    now = datetime.now(UTC)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    writer = Writer(db.session.connection())
    out = []
    for user_id, token in users:
        key = secrets.token_urlsafe(32)
        writer.add(
            "user_sessions",
            {
                "id": writer.next_id("user_sessions"),
                "user_id": user_id,
                "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                "created_at": now,
                "last_seen_at": now,
                "ended_at": None,
                "end_reason": None,
                "ip_address": "127.0.0.1",
                "user_agent": USER_AGENT,
            },
        )
        with app.test_request_context(
            "/", headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        ):
            session.clear()
            session["_user_id"] = f"{token}:{key}"
            session["_fresh"] = True
            session["_id"] = _create_identifier()
            session.permanent = True
            # The request shares the caller's app context, whose ``g`` caches the token of
            # the previous session: drop it so this session gets its own.
            g.pop("csrf_token", None)
            csrf = generate_csrf()
            value = serializer.dumps(dict(session))
        out.append(Login(user_id, f"{cookie_name}={value}", csrf))
    writer.finish()
    db.session.commit()
    return out


def _logins(app: Flask, users: list[User], count: int) -> list[Login]:
    chosen = [users[i % len(users)] for i in range(count)]
    return sign_sessions(app, [(u.id, u.session_token) for u in chosen])


def _form(login: Login, **fields: Any) -> tuple[dict[str, str], str]:
    headers = {
        "Cookie": login.cookie,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return headers, urlencode({"csrf_token": login.csrf, **fields}, doseq=True)


# --- picking users --------------------------------------------------------------------------


def certified_therapists(limit: int) -> list[User]:
    """Certified partners who have filed support requests and hold the foundations course."""
    from lms.certification.services import certified_clause
    from lms.support.models import SupportRequest

    has_request = select(SupportRequest.id).where(SupportRequest.therapist_id == User.id).exists()
    return list(
        db.session.scalars(
            select(User)
            .where(User.email.like(f"%@{SCALE_DOMAIN}"), certified_clause(), has_request)
            .order_by(User.id)
            .limit(limit)
        )
    )


def staff(role: Role, limit: int) -> list[User]:
    users = list(iter_scale_users(role))[:limit]
    if not users:
        raise RuntimeError(f"no scale {role.value}s: run seed-scale first")
    return users


# --- learners with a quiz open: seeded therapists, put back as they were after the run -------


@dataclass
class Snapshot:
    """What the quiz scenarios may change for their learners, to put back after the run: the
    benchmark leaves the seeded data as it found it (the audit rows it wrote stay)."""

    users: list[int] = field(default_factory=list)
    progress: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    # Seeded attempts that were open and are submitted by the run: their state and answers.
    attempts: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    answers: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    enrollments: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    last_attempt: int = 0
    last_certificate: int = 0


PROGRESS_COLUMNS = ("lesson_completed_at", "quiz_passed_at", "best_score", "completed_at")
ATTEMPT_COLUMNS = ("status", "submitted_at", "score", "passed")
ANSWER_COLUMNS = (
    "id",
    "attempt_id",
    "position",
    "question_key",
    "response",
    "saved_at",
    "fraction",
)
ENROLLMENT_COLUMNS = ("status", "completed_at", "last_module_version_id")


def open_attempts(
    app: Flask, count: int, snapshot: Snapshot, exclude: set[int] | None = None
) -> list[tuple[Login, int, list[Any]]]:
    """Seeded learners whose next module has a quiz (not the course's last module), each
    given an attempt at it, answered; returns (login, attempt id, questions) for each.

    The learners' rows are recorded in ``snapshot`` first, for :func:`restore`.
    """
    from lms.training.demo import ideal_response
    from lms.training.gift import Question
    from lms.training.models import (
        AttemptStatus,
        Enrollment,
        EnrollmentStatus,
        ModuleProgress,
        QuizAttempt,
    )

    exclude = exclude or set()
    # Everything the run adds comes after these ids (restore removes it).
    snapshot.last_attempt = snapshot.last_attempt or int(
        db.session.scalar(select(func.max(QuizAttempt.id))) or 0
    )
    enrollments = list(
        db.session.scalars(
            select(Enrollment)
            .join(User, User.id == Enrollment.user_id)
            .where(
                Enrollment.status == EnrollmentStatus.ACTIVE,
                User.email.like(f"%@{SCALE_DOMAIN}"),
                User.is_active.is_(True),
            )
            .order_by(Enrollment.id)
        )
    )
    modules = _version_modules({e.course_version_id for e in enrollments})
    completed: dict[int, set[int]] = {}
    for user_id, module_id in db.session.execute(
        select(ModuleProgress.user_id, ModuleProgress.module_version_id).where(
            ModuleProgress.completed_at.is_not(None)
        )
    ):
        completed.setdefault(user_id, set()).add(module_id)
    # Learners with an attempt already open on their module submit that one (put back after).
    open_attempt = {
        (user_id, module_id): attempt_id
        for attempt_id, user_id, module_id in db.session.execute(
            select(QuizAttempt.id, QuizAttempt.user_id, QuizAttempt.module_version_id).where(
                QuizAttempt.status == AttemptStatus.IN_PROGRESS,
                QuizAttempt.id <= snapshot.last_attempt,
            )
        )
    }
    chosen = []
    taken = set(exclude)
    for enrollment in enrollments:
        if len(chosen) >= count:
            break
        if enrollment.user_id in taken:
            continue
        listed = modules[enrollment.course_version_id]
        done = completed.get(enrollment.user_id, set())
        position = next((i for i, m in enumerate(listed) if m.id not in done), None)
        if position is None:
            continue
        module = listed[position]
        if not module.has_quiz or not module.questions:
            continue
        taken.add(enrollment.user_id)
        chosen.append((enrollment, module))
    users = [e.user_id for e, _m in chosen]
    snapshot.users += users
    for row in db.session.execute(
        select(ModuleProgress.id, *(getattr(ModuleProgress, c) for c in PROGRESS_COLUMNS)).where(
            ModuleProgress.user_id.in_(users)
        )
    ):
        snapshot.progress[row[0]] = tuple(row[1:])
    for enrollment, _m in chosen:
        snapshot.enrollments[enrollment.id] = tuple(
            getattr(enrollment, c) for c in ENROLLMENT_COLUMNS
        )
    from lms.training.models import Certificate

    snapshot.last_attempt = snapshot.last_attempt or int(
        db.session.scalar(select(func.max(QuizAttempt.id))) or 0
    )
    snapshot.last_certificate = snapshot.last_certificate or int(
        db.session.scalar(select(func.max(Certificate.id))) or 0
    )
    numbers = dict(
        db.session.execute(
            select(QuizAttempt.user_id, func.max(QuizAttempt.number))
            .where(QuizAttempt.user_id.in_(users))
            .group_by(QuizAttempt.user_id)
        )
        .tuples()
        .all()
    )
    progress_rows = {
        (p.user_id, p.module_version_id): p
        for p in db.session.scalars(select(ModuleProgress).where(ModuleProgress.user_id.in_(users)))
    }
    now = datetime.now(UTC)
    made = []
    for enrollment, module in chosen:
        row = progress_rows.get((enrollment.user_id, module.id))
        if row is None:
            row = ModuleProgress(user_id=enrollment.user_id, module_version_id=module.id)
            db.session.add(row)
        row.lesson_completed_at = row.lesson_completed_at or now - timedelta(hours=1)
        existing_id = open_attempt.get((enrollment.user_id, module.id))
        if existing_id is not None:
            attempt = db.session.get(QuizAttempt, existing_id)
            assert attempt is not None
            snapshot.attempts[attempt.id] = tuple(getattr(attempt, c) for c in ATTEMPT_COLUMNS)
            snapshot.answers[attempt.id] = [
                {c: getattr(a, c) for c in ANSWER_COLUMNS} for a in attempt.answers
            ]
            questions = [Question.from_dict(e["question"]) for e in attempt.questions]
            made.append((enrollment.user_id, attempt, questions))
            continue
        settings = module.quiz_settings or {}
        entries = list(module.questions)
        drawn = int(settings.get("questions_per_attempt", 0) or 0)
        entries = entries[:drawn] if drawn else entries
        attempt = QuizAttempt(
            user_id=enrollment.user_id,
            enrollment_id=enrollment.id,
            module_version_id=module.id,
            number=int(numbers.get(enrollment.user_id) or 0) + 1,
            status=AttemptStatus.IN_PROGRESS,
            questions=[
                {"question": q, "order": list(range(len(q.get("answers", [])))), "options": []}
                for q in entries
            ],
            pass_mark=int(settings.get("pass_mark", 80)),
            review=str(settings.get("review", "feedback")),
            started_at=now - timedelta(minutes=5),
        )
        db.session.add(attempt)
        questions = [Question.from_dict(q) for q in entries]
        made.append((enrollment.user_id, attempt, questions))
    db.session.flush()
    from lms.training.gift import grade
    from lms.training.models import AttemptAnswer
    from lms.training.quiz import AUTO_SCORED_EXCLUDED, stored_fraction

    # The answers as the page's answer saves would have left them (with their score).
    for _user, attempt, questions in made:
        if attempt.id in snapshot.attempts:
            continue
        for position, question in enumerate(questions):
            if question.kind not in AUTO_SCORED_EXCLUDED:
                response = ideal_response(question)
                db.session.add(
                    AttemptAnswer(
                        attempt_id=attempt.id,
                        position=position,
                        question_key=question.key(),
                        response=response,
                        saved_at=now - timedelta(minutes=4),
                        fraction=stored_fraction(question.kind, grade(question, response).fraction),
                    )
                )
    db.session.commit()
    tokens = dict(
        db.session.execute(select(User.id, User.session_token).where(User.id.in_(users)))
        .tuples()
        .all()
    )
    logins = sign_sessions(app, [(user_id, tokens[user_id]) for user_id, _a, _q in made])
    return [(login, a.id, qs) for login, (_u, a, qs) in zip(logins, made, strict=True)]


def _version_modules(ids: set[int]) -> dict[int, list[Any]]:
    from lms.training.models import CourseVersionModule, ModuleVersion

    out: dict[int, list[Any]] = {i: [] for i in ids}
    for version_id, module in db.session.execute(
        select(CourseVersionModule.course_version_id, ModuleVersion)
        .join(ModuleVersion, ModuleVersion.id == CourseVersionModule.module_version_id)
        .where(CourseVersionModule.course_version_id.in_(ids))
        .order_by(CourseVersionModule.course_version_id, CourseVersionModule.position)
    ):
        out[version_id].append(module)
    return out


def restore(snapshot: Snapshot) -> None:
    """Put the quiz learners back as they were: attempts, answers, progress, enrolments and
    certificates the run made are removed or reverted."""
    from lms.training.models import (
        AttemptAnswer,
        Certificate,
        Enrollment,
        ModuleProgress,
        QuizAttempt,
    )

    if not snapshot.users:
        return
    users = snapshot.users
    new_attempts = select(QuizAttempt.id).where(
        QuizAttempt.user_id.in_(users), QuizAttempt.id > snapshot.last_attempt
    )
    db.session.execute(delete(AttemptAnswer).where(AttemptAnswer.attempt_id.in_(new_attempts)))
    db.session.execute(
        delete(QuizAttempt).where(
            QuizAttempt.user_id.in_(users), QuizAttempt.id > snapshot.last_attempt
        )
    )
    db.session.execute(
        delete(Certificate).where(
            Certificate.user_id.in_(users), Certificate.id > snapshot.last_certificate
        )
    )
    if snapshot.attempts:
        ids = list(snapshot.attempts)
        db.session.execute(delete(AttemptAnswer).where(AttemptAnswer.attempt_id.in_(ids)))
        db.session.flush()
        for attempt_id, before in snapshot.attempts.items():
            attempt = db.session.get(QuizAttempt, attempt_id)
            if attempt is not None:
                for column, value in zip(ATTEMPT_COLUMNS, before, strict=True):
                    setattr(attempt, column, value)
        db.session.flush()
        rows = [row for listed in snapshot.answers.values() for row in listed]
        if rows:
            db.session.execute(AttemptAnswer.__table__.insert(), rows)
    for row in db.session.scalars(select(ModuleProgress).where(ModuleProgress.user_id.in_(users))):
        before = snapshot.progress.get(row.id)
        if before is None:
            db.session.delete(row)
            continue
        for column, value in zip(PROGRESS_COLUMNS, before, strict=True):
            if getattr(row, column) != value:
                setattr(row, column, value)
    for enrollment_id, before in snapshot.enrollments.items():
        enrollment = db.session.get(Enrollment, enrollment_id)
        if enrollment is not None:
            for column, value in zip(ENROLLMENT_COLUMNS, before, strict=True):
                if getattr(enrollment, column) != value:
                    setattr(enrollment, column, value)
    db.session.commit()


def answer_fields(position: int, question: Any) -> dict[str, Any]:
    """The form fields the attempt page posts for one question's best answer."""
    from lms.training.demo import ideal_response
    from lms.training.forms import field_name
    from lms.training.quiz import AUTO_SCORED_EXCLUDED

    name = field_name(position)
    response = ideal_response(question)
    kind = question.kind
    if kind in AUTO_SCORED_EXCLUDED:  # not auto-scored: the benchmark leaves them unanswered
        return {}
    if kind == "multiresponse":
        return {name: [str(v) for v in response], f"{name}-present": "1"}
    if kind == "matching":
        return {f"{name}-m{key}": value for key, value in response.items()}
    if kind == "truefalse":
        return {name: "true" if response else "false"}
    return {name: str(response)}


# --- the scenarios ----------------------------------------------------------------------------


def build(app: Flask, users: int, run_id: str, pool: int, snapshot: Snapshot) -> list[Scenario]:
    """Every scenario's requests. ``pool`` is how many one-shot requests to prepare for each
    writing scenario (more than a run can use: a scenario that runs out says so)."""
    from lms.support.models import SupportRequest
    from lms.training.models import Certificate, Course, CourseVersion

    therapists = certified_therapists(users)
    if not therapists:
        raise RuntimeError("no certified scale therapists: run seed-scale first")
    t_logins = _logins(app, therapists, users)
    c_logins = _logins(app, staff(Role.CLINICIAN, users), users)
    a_logins = _logins(app, staff(Role.ADMIN, users), users)
    scenarios: list[Scenario] = []

    def get(login: Login, path: str, **headers: str) -> Request:
        return Request("GET", path, {"Cookie": login.cookie, **headers})

    scenarios.append(
        Scenario(
            "therapist_dashboard",
            "Therapist dashboard",
            "read",
            {200},
            [get(lg, "/dashboard") for lg in t_logins],
        )
    )
    course = db.session.scalar(select(Course).where(Course.slug == "kap-foundations"))
    assert course is not None
    version = db.session.get(CourseVersion, course.current_version_id)
    assert version is not None
    slugs = [m.slug for m in version.modules]
    scenarios.append(
        Scenario(
            "lesson",
            "Lesson page",
            "read",
            {200},
            [
                get(lg, f"/courses/{course.slug}/modules/{slugs[i % len(slugs)]}")
                for i, lg in enumerate(t_logins * len(slugs))
            ],
        )
    )
    # Quiz answer saves (htmx autosave) by learners with an attempt open; quiz submits by
    # other learners, one attempt each.
    savers = open_attempts(app, users * 4, snapshot)
    saves = []
    for login, attempt_id, questions in savers:
        for position, question in enumerate(questions):
            fields = answer_fields(position, question)
            if not fields:
                continue
            headers, body = _form(login, **fields)
            headers.update({"HX-Request": "true", "X-CSRFToken": login.csrf})
            saves.append(
                Request("POST", f"/attempts/{attempt_id}/answers/{position}", headers, body)
            )
    scenarios.append(Scenario("quiz_answer_save", "Quiz answer save", "write", {200}, saves))
    submits = []
    saver_ids = {login.user_id for login, _a, _q in savers}
    for login, attempt_id, questions in open_attempts(app, pool, snapshot, saver_ids):
        fields: dict[str, Any] = {}
        for position, question in enumerate(questions):
            fields.update(answer_fields(position, question))
        headers, body = _form(login, **fields)
        submits.append(Request("POST", f"/attempts/{attempt_id}/submit", headers, body))
    scenarios.append(Scenario("quiz_submit", "Quiz submit", "write", {302}, submits, True))
    codes = list(db.session.scalars(select(Certificate.code).order_by(func.random()).limit(2000)))
    scenarios.append(
        Scenario(
            "certificate_verify",
            "Certificate verification",
            "read",
            {200},
            [Request("GET", f"/verify/{code}") for code in codes],
        )
    )
    scenarios.append(
        Scenario(
            "clinician_queue",
            "Clinician queue",
            "read",
            {200},
            [get(lg, "/clinical/support") for lg in c_logins],
        )
    )
    scenarios.append(
        Scenario(
            "clinician_queue_live",
            "Queue live-update poll",
            "read",
            {200},
            [get(lg, "/clinical/support/live", **{"HX-Request": "true"}) for lg in c_logins],
        )
    )
    own = []
    for login in t_logins:
        ids = db.session.scalars(
            select(SupportRequest.id)
            .where(SupportRequest.therapist_id == login.user_id)
            .order_by(SupportRequest.filed_at.desc())
            .limit(5)
        ).all()
        own += [get(login, f"/support/{rid}") for rid in ids]
    scenarios.append(Scenario("support_request", "Support request page", "read", {200}, own))
    filings = []
    for i in range(pool):
        login = t_logins[i % len(t_logins)]
        headers, body = _form(
            login,
            submission_token=f"{BENCH_FILING_PREFIX}{run_id}-{i}-{secrets.token_hex(6)}",
            urgency=("routine", "high", "urgent")[i % 3],
            category="medication",
            subject=f"{BENCH_SUBJECT}Question about a patient's medication {i}",
            description="Benchmark request: can the patient keep taking lamotrigine?",
            callback_phone="555-0100",
            referral_id="",
        )
        filings.append(Request("POST", "/support/new", headers, body))
    scenarios.append(
        Scenario("support_file", "File a support request", "write", {302}, filings, True)
    )
    scenarios.append(
        Scenario(
            "admin_dashboard",
            "Admin dashboard",
            "read",
            {200},
            [get(lg, "/admin/") for lg in a_logins],
        )
    )
    names = ["smith", "garcia", "lee", "ana", "patel", "nguyen", "kim", "maya", "jordan", "chen"]
    scenarios.append(
        Scenario(
            "admin_search",
            "Admin therapist search",
            "read",
            {200},
            [
                get(lg, f"/admin/therapists?{urlencode({'q': names[i % len(names)]})}")
                for i, lg in enumerate(a_logins * 3)
            ],
        )
    )
    return scenarios


def webhook_scenario(secret: str, pool: int, run_id: str) -> Scenario:
    """Signed ``payment_intent.succeeded`` events for intents the network does not know:
    the signature, the at-most-once ledger and the payment look-up run, and nothing calls
    Stripe (applying a known intent re-reads it from Stripe, which the benchmark cannot)."""
    requests = []
    stamp = int(time.time())
    for i in range(pool):
        payload = json.dumps(
            {
                "id": f"evt_bench_{run_id}_{i}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "data": {
                    "object": {
                        "id": f"pi_bench_{run_id}_{i}",
                        "object": "payment_intent",
                        "metadata": {},
                    }
                },
            },
            separators=(",", ":"),
        )
        digest = hmac.new(
            secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        requests.append(
            Request(
                "POST",
                "/stripe/webhook",
                {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={digest}"},
                payload,
            )
        )
    return Scenario("webhook", "Stripe webhook", "write", {200}, requests, True)


def close_bench_requests() -> int:
    """Bench-filed support requests leave the queue (closed), and the alerts they raised
    are marked read, so later runs see the seeded queue and the seeded alert badges, not
    thousands of benchmark requests (each filing alerts every on-call clinician).

    They are found by their submission token (``bench-…``): the subject is encrypted at
    rest, so it cannot be matched in SQL.
    """
    from lms.support.models import SupportAlert, SupportRequest

    now = datetime.now(UTC)
    filed = select(SupportRequest.id).where(
        SupportRequest.submission_token.like(f"{BENCH_FILING_PREFIX}%")
    )
    db.session.execute(
        update(SupportAlert)
        .where(SupportAlert.request_id.in_(filed), SupportAlert.read_at.is_(None))
        .values(read_at=now)
    )
    result = db.session.execute(
        update(SupportRequest)
        .where(SupportRequest.id.in_(filed), SupportRequest.status != "closed")
        .values(status="closed", closed_at=now)
    )
    db.session.commit()
    return int(result.rowcount or 0)


def end_bench_sessions() -> None:
    """The benchmark's log-ins end with the run."""
    db.session.execute(
        text(
            "UPDATE user_sessions SET ended_at = :now, end_reason = 'benchmark over' "
            "WHERE user_agent = :agent AND ended_at IS NULL"
        ),
        {"now": datetime.now(UTC), "agent": USER_AGENT},
    )
    db.session.commit()
