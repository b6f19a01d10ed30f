"""Learner rules: enrolment, module order and progress, the course evaluation, completion."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.orm import defer, joinedload

from lms import audit
from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.training import outline
from lms.training.models import (
    Certificate,
    Course,
    CourseVersion,
    CourseVersionModule,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    EvaluationResponse,
    ModuleProgress,
    ModuleVersion,
)
from lms.training.outline import ModuleOutline

# A module version as the ORM reads it, or its cached outline: what the progress rules need
# of either (id, has_quiz) they both have.
AnyModule = ModuleVersion | ModuleOutline

LIKERT = [
    ("1", "Strongly disagree"),
    ("2", "Disagree"),
    ("3", "Neither agree nor disagree"),
    ("4", "Agree"),
    ("5", "Strongly agree"),
]


class TrainingError(Exception):
    """A rule refused the action; ``message`` is safe to show to the learner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def payments_configured() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def listed_courses() -> list[Course]:
    return list(
        db.session.scalars(
            select(Course)
            .where(Course.is_listed, Course.current_version_id.is_not(None))
            .order_by(Course.title)
        )
    )


@functools.cache
def _enrollments_statement() -> Select[tuple[Enrollment, bool]]:
    """A learner's enrolments with their courses, and whether each evaluation is in. Built
    once per process, like the dashboard's other statements (building one costs more Python
    than running it: docs/PERFORMANCE.md, "The eleventh round")."""
    evaluated = exists().where(EvaluationResponse.enrollment_id == Enrollment.id)
    return (
        select(Enrollment, evaluated)
        .where(Enrollment.user_id == bindparam("user_id"))
        .order_by(Enrollment.enrolled_at)
        .options(joinedload(Enrollment.course))
    )


def learner_progress(
    user: User, certificates: Sequence[Certificate] | None = None, *, open_only: bool = False
) -> list[CourseProgress]:
    """The progress in each of the learner's enrolments (open ones only with ``open_only``),
    oldest first. Whether each course evaluation is in is read with the enrolments."""
    rows = db.session.execute(_enrollments_statement(), {"user_id": user.id}).all()
    return courses_progress(
        [e for e, _done in rows if e.is_open or not open_only],
        certificates,
        evaluated={e.id for e, done in rows if done},
    )


def get_enrollment(user: User, course: Course) -> Enrollment | None:
    return db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )


def enroll(user: User, course: Course, *, comped_by: User | None = None) -> Enrollment:
    """Enrol ``user``: free courses, comped enrolments and servers without payments open at once.

    A paid course with payments on returns a PENDING_PAYMENT enrolment with its Payment.
    """
    if course.current_version_id is None:
        raise TrainingError("This course is not available yet.")
    enrollment = get_enrollment(user, course)
    if enrollment is not None and enrollment.status in (
        EnrollmentStatus.ACTIVE,
        EnrollmentStatus.COMPLETED,
    ):
        raise TrainingError("You are already enrolled in this course.")
    if comped_by is not None:
        source = EnrollmentSource.COMPED
    elif course.is_free:
        source = EnrollmentSource.FREE
    elif not payments_configured():
        source = EnrollmentSource.NO_PAYMENT_CONFIGURED
    else:
        from lms.payments.services import start_payment

        # Paid: the enrolment waits for Stripe's signed confirmation (lms/payments).
        return start_payment(user, course, enrollment)
    now = utcnow()
    if enrollment is None:
        enrollment = Enrollment(user_id=user.id, course_id=course.id)
        db.session.add(enrollment)
    enrollment.course_version_id = course.current_version_id
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.source = source
    enrollment.enrolled_at = now
    enrollment.activated_at = now
    db.session.flush()
    audit.record(
        "enrollment.created",
        enrollment,
        actor=comped_by or user,
        course=course.slug,
        source=source.value,
        user_id=user.id,
    )
    return enrollment


# --- progress ---------------------------------------------------------------------------


# What a module's state reads of its progress (ModuleState.progress is a row of these).
_PROGRESS_COLUMNS = (
    ModuleProgress.user_id,
    ModuleProgress.module_version_id,
    ModuleProgress.lesson_completed_at,
    ModuleProgress.quiz_passed_at,
    ModuleProgress.best_score,
    ModuleProgress.completed_at,
)


@functools.cache
def _progress_statement() -> Select[Any]:
    """The learners' progress in the modules of the course versions: the modules named by
    their versions, not listed one by one (a dashboard's three courses have some sixty: the
    SQL stays short and the same for every learner, so it is prepared once).

    The versions are written into the SQL (a course has a version or two in use: a few
    statements in all): with them as parameters, PostgreSQL costed a plan made once for
    any values dearer than one made for the values, and planned a lesson's statement again
    on every page (docs/PERFORMANCE.md, "The seventeenth round")."""
    versions = bindparam("version_ids", expanding=True).render_literal_execute()
    modules = select(CourseVersionModule.module_version_id).where(
        CourseVersionModule.course_version_id.in_(versions)
    )
    return select(*_PROGRESS_COLUMNS).where(
        ModuleProgress.user_id.in_(bindparam("user_ids", expanding=True)),
        ModuleProgress.module_version_id.in_(modules),
    )


@dataclass
class ModuleState:
    module: ModuleOutline
    position: int
    progress: Any | None  # a row of _PROGRESS_COLUMNS
    unlocked: bool

    @property
    def lesson_done(self) -> bool:
        return bool(self.progress and self.progress.lesson_completed_at)

    @property
    def quiz_passed(self) -> bool:
        return bool(self.progress and self.progress.quiz_passed_at)

    @property
    def complete(self) -> bool:
        return bool(self.progress and self.progress.completed_at)


class _Finishing:
    """The course evaluations and newest certificates of a list of enrolments, read for the
    whole list the first time a page asks for either (one statement each, or none for
    certificates the caller has read): most pages that show progress (a lesson, a quiz)
    never look at them."""

    def __init__(
        self,
        enrollment_ids: set[int],
        certificates: Sequence[Certificate] | None,
        evaluated: set[int] | None,
    ) -> None:
        self._ids = enrollment_ids
        self._evaluated = evaluated
        self._certificates = certificates
        self._newest: dict[int, Certificate] | None = None

    def evaluated(self, enrollment_id: int) -> bool:
        if self._evaluated is None:
            self._evaluated = set(
                db.session.scalars(
                    select(EvaluationResponse.enrollment_id).where(
                        EvaluationResponse.enrollment_id.in_(self._ids)
                    )
                )
            )
        return enrollment_id in self._evaluated

    def certificate(self, enrollment_id: int) -> Certificate | None:
        if self._newest is None:
            certificates = self._certificates
            if certificates is None:
                certificates = db.session.scalars(
                    select(Certificate).where(Certificate.enrollment_id.in_(self._ids))
                ).all()
            self._newest = {}
            for found in sorted(certificates, key=lambda c: (c.issued_at, c.id), reverse=True):
                if found.enrollment_id in self._ids:
                    self._newest.setdefault(found.enrollment_id, found)
        return self._newest.get(enrollment_id)


@dataclass
class CourseProgress:
    enrollment: Enrollment
    modules: list[ModuleState]
    evaluation_required: bool
    _finishing: _Finishing = field(repr=False)

    @property
    def evaluation_done(self) -> bool:
        return self._finishing.evaluated(self.enrollment.id)

    @property
    def certificate(self) -> Certificate | None:
        """The enrolment's newest certificate, if any."""
        return self._finishing.certificate(self.enrollment.id)

    @property
    def completed_modules(self) -> int:
        return sum(1 for m in self.modules if m.complete)

    @property
    def percent(self) -> int:
        steps = len(self.modules) + (1 if self.evaluation_required else 0)
        done = self.completed_modules + (
            1 if self.evaluation_required and self.evaluation_done else 0
        )
        return round(100 * done / steps) if steps else 0

    @property
    def all_modules_complete(self) -> bool:
        return all(m.complete for m in self.modules)

    @property
    def next_module(self) -> ModuleState | None:
        """Where to resume: the module last worked on if unfinished, else the first unfinished."""
        last = self.enrollment.last_module_version_id
        for state in self.modules:
            if state.module.id == last and not state.complete and state.unlocked:
                return state
        return next((m for m in self.modules if not m.complete), None)


# Big columns a progress list never shows: loaded only when a page reads them.
_HEAVY_MODULE_COLUMNS = (
    ModuleVersion.lesson_markdown,
    ModuleVersion.lesson_html,
    ModuleVersion.questions,
)


def light_module(module_version_id: int) -> ModuleVersion | None:
    """A module version without its lesson and questions (the session's copy if it has
    one): what scoring and progress read, without a lesson's HTML and a quiz's JSON."""
    return db.session.get(
        ModuleVersion,
        module_version_id,
        options=[defer(column) for column in _HEAVY_MODULE_COLUMNS],
    )


def attempted_module(enrollment: Enrollment | None, module_version_id: int) -> AnyModule | None:
    """The module version an attempt was made in: from the enrolment's course outline
    (no statement) while the learner is still on that version, else from the database."""
    if enrollment is not None:
        found = outline.outlines([enrollment.course_version_id]).get(enrollment.course_version_id)
        for module in found.modules if found else ():
            if module.id == module_version_id:
                return module
    return light_module(module_version_id)


def version_modules(version_ids: Iterable[int]) -> dict[int, list[ModuleOutline]]:
    """The modules of each course version, in order (``lms.training.outline``: read once
    per process)."""
    found = outline.outlines(version_ids)
    return {version_id: list(found[version_id].modules) for version_id in found}


def course_progress(enrollment: Enrollment) -> CourseProgress:
    return courses_progress([enrollment])[0]


def courses_progress(
    enrollments: Sequence[Enrollment],
    certificates: Sequence[Certificate] | None = None,
    evaluated: set[int] | None = None,
) -> list[CourseProgress]:
    """Progress in each enrolment, in one statement whatever the number of enrolments and
    modules (the dashboard shows every course of a learner; outlines are kept per process),
    and one more each for the evaluations and the certificates, when a page first asks for
    them. ``certificates``: every certificate of these enrolments' learners, and
    ``evaluated``: the ids of those with their evaluation in, when the caller has read them."""
    if not enrollments:
        return []
    # By id, not the relationship: a sync in this session may have just moved the learner.
    versions = outline.outlines({e.course_version_id for e in enrollments})
    # As rows of the four dates and the score, no ORM object per completed module (a
    # learner's dashboard reads dozens): nothing here changes progress, _progress_row does.
    rows = {
        (p.user_id, p.module_version_id): p
        for p in db.session.execute(
            _progress_statement(),
            {
                "user_ids": sorted({e.user_id for e in enrollments}),
                "version_ids": sorted(versions),
            },
        )
    }
    finishing = _Finishing({e.id for e in enrollments}, certificates, evaluated)
    out = []
    for enrollment in enrollments:
        version = versions[enrollment.course_version_id]
        states = []
        unlocked = True
        for position, module in enumerate(version.modules):
            progress = rows.get((enrollment.user_id, module.id))
            states.append(ModuleState(module, position, progress, unlocked))
            unlocked = unlocked and bool(progress and progress.completed_at)
        out.append(CourseProgress(enrollment, states, version.evaluation_required, finishing))
    return out


def module_state(enrollment: Enrollment, slug: str) -> ModuleState:
    for state in course_progress(enrollment).modules:
        if state.module.slug == slug:
            return state
    raise LookupError(slug)


def require_open(enrollment: Enrollment | None) -> Enrollment:
    if enrollment is None or not enrollment.is_open:
        raise TrainingError("Enrol in the course first.")
    return enrollment


def _progress_row(user_id: int, module: AnyModule) -> ModuleProgress:
    row = db.session.scalar(
        select(ModuleProgress).where(
            ModuleProgress.user_id == user_id, ModuleProgress.module_version_id == module.id
        )
    )
    if row is None:
        row = ModuleProgress(user_id=user_id, module_version_id=module.id)
        db.session.add(row)
    return row


def touch_module(enrollment: Enrollment, module: AnyModule) -> None:
    """Remember where the learner is, so the course page can resume there."""
    enrollment.last_module_version_id = module.id


def complete_lesson(enrollment: Enrollment, state: ModuleState) -> ModuleProgress:
    require_open(enrollment)
    if not state.unlocked:
        raise TrainingError("Finish the earlier modules first.")
    row = _progress_row(enrollment.user_id, state.module)
    if row.lesson_completed_at is None:
        row.lesson_completed_at = utcnow()
    _update_completion(row, state.module)
    touch_module(enrollment, state.module)
    db.session.flush()
    maybe_complete_course(enrollment)
    return row


def record_quiz_result(
    enrollment: Enrollment,
    module: AnyModule,
    score: float,
    passed: bool,
    *,
    row: ModuleProgress | None = None,
) -> None:
    """Keep a scored attempt's result in the learner's progress on ``module``; complete the
    course if this completed its last module. ``row``: that progress when the caller has
    read it already (a quiz submit reads it with the attempt); otherwise it is read here."""
    if row is None:
        with db.session.no_autoflush:  # the attempt's changes are written with the row's
            row = _progress_row(enrollment.user_id, module)
    was_complete = row.completed_at is not None
    row.best_score = max(row.best_score or 0.0, score)
    if passed and row.quiz_passed_at is None:
        row.quiz_passed_at = utcnow()
    _update_completion(row, module)
    db.session.flush()
    if row.completed_at is not None and not was_complete:
        # A course completes only when one of its modules does (or its evaluation comes
        # in): a failed attempt, or a module already complete, has nothing to check.
        maybe_complete_course(enrollment)


def _update_completion(row: ModuleProgress, module: AnyModule) -> None:
    done = row.lesson_completed_at is not None and (
        not module.has_quiz or row.quiz_passed_at is not None
    )
    if done and row.completed_at is None:
        row.completed_at = utcnow()


# --- evaluation and completion ----------------------------------------------------------


def evaluation_items(enrollment: Enrollment) -> list[dict[str, Any]]:
    version = db.session.get(CourseVersion, enrollment.course_version_id)
    return list(((version.evaluation if version else None) or {}).get("items", []))


def submit_evaluation(enrollment: Enrollment, answers: dict[str, str]) -> EvaluationResponse:
    """Store the evaluation; ``answers`` maps item id to the Likert value or the text."""
    require_open(enrollment)
    progress = course_progress(enrollment)
    if not progress.all_modules_complete:
        raise TrainingError("Complete every module before the course evaluation.")
    if progress.evaluation_done:
        raise TrainingError("You have already submitted the evaluation for this course.")
    clean: dict[str, str] = {}
    missing = []
    for item in evaluation_items(enrollment):
        value = (answers.get(item["id"]) or "").strip()
        if item["kind"] == "likert" and value and value not in dict(LIKERT):
            raise TrainingError("Choose one of the offered answers.")
        if item.get("required") and not value:
            missing.append(item["prompt"])
        if value:
            clean[item["id"]] = value[:5000]
    if missing:
        raise TrainingError("Answer every required question: " + "; ".join(missing))
    response = EvaluationResponse(
        enrollment_id=enrollment.id, course_version_id=enrollment.course_version_id, answers=clean
    )
    db.session.add(response)
    db.session.flush()
    audit.record("evaluation.submitted", enrollment, course=enrollment.course.slug)
    maybe_complete_course(enrollment)
    return response


def modules_left(enrollment: Enrollment) -> bool:
    """Has the learner a module of this course version still to complete? One indexed
    question, asked after every lesson and quiz before reading the whole progress (a module
    is complete when its progress row has ``completed_at``, as :class:`ModuleState` says)."""
    params = {"user_id": enrollment.user_id, "version_id": enrollment.course_version_id}
    return bool(db.session.scalar(_modules_left_statement(), params))


@functools.cache
def _modules_left_statement() -> Select[tuple[bool]]:
    done = exists().where(
        ModuleProgress.user_id == bindparam("user_id"),
        ModuleProgress.module_version_id == CourseVersionModule.module_version_id,
        ModuleProgress.completed_at.is_not(None),
    )
    return select(
        exists().where(CourseVersionModule.course_version_id == bindparam("version_id"), ~done)
    )


def maybe_complete_course(enrollment: Enrollment) -> Certificate | None:
    """Complete the enrolment and issue the certificate once everything is done."""
    from lms.training.certificates import issue_certificate

    if enrollment.status != EnrollmentStatus.ACTIVE:
        return None
    if modules_left(enrollment):
        return None  # most lessons and quizzes: no need to read the whole progress
    progress = course_progress(enrollment)
    if not progress.all_modules_complete:
        return None
    if progress.evaluation_required and not progress.evaluation_done:
        return None
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.completed_at = utcnow()
    audit.record("enrollment.completed", enrollment, course=enrollment.course.slug)
    return issue_certificate(enrollment)
