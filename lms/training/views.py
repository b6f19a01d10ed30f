"""Learner pages: catalogue, course, lesson, quiz, evaluation, certificates, public verification."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from lms.auth import current_user_obj, get_or_404, public
from lms.db import utcnow
from lms.extensions import db
from lms.mail import external_url
from lms.training import certificates as certs
from lms.training import quiz, services
from lms.training.forms import ConfirmForm, VerifyForm, response_from_form
from lms.training.models import (
    AttemptStatus,
    Certificate,
    Course,
    CourseVersionModule,
    Enrollment,
    EnrollmentStatus,
    ModuleVersion,
    QuizAttempt,
)
from lms.training.services import LIKERT, TrainingError
from lms.training.sync import ASSET_PREFIX, courses_root

bp = Blueprint("training", __name__)


def _course_or_404(slug: str) -> Course:
    return _published_or_404(db.session.scalar(select(Course).where(Course.slug == slug)))


def _published_or_404(course: Course | None) -> Course:
    if course is None or course.current_version_id is None:
        abort(404)
    return course


@functools.cache
def _course_row_statement(with_lesson: bool) -> Select[Any]:
    """Built once per process (building a statement costs more than running this one):
    the course by slug, the user's enrolment in it and, ``with_lesson``, the lesson's HTML of
    the module ``module_slug`` in the enrolment's course version (NULL without an enrolment
    or such a module)."""
    columns: list[Any] = [Course, Enrollment]
    if with_lesson:
        columns.append(
            select(ModuleVersion.lesson_html)
            .join(CourseVersionModule, CourseVersionModule.module_version_id == ModuleVersion.id)
            .where(
                CourseVersionModule.course_version_id == Enrollment.course_version_id,
                ModuleVersion.slug == bindparam("module_slug"),
            )
            .scalar_subquery()
        )
    return (
        select(*columns)
        .outerjoin(
            Enrollment,
            (Enrollment.course_id == Course.id) & (Enrollment.user_id == bindparam("user_id")),
        )
        .where(Course.slug == bindparam("slug"))
    )


def _course_row(slug: str, lesson: str | None = None) -> Row[Any]:
    """The course (404 if there is none, or none published), the learner's enrolment in it
    (None if none) and, with ``lesson`` (a module's slug), that lesson's HTML in the
    enrolment's version, in one statement: every course page needs the first two."""
    params: dict[str, Any] = {"slug": slug, "user_id": current_user_obj().id}
    if lesson is not None:
        params["module_slug"] = lesson
    found = db.session.execute(_course_row_statement(lesson is not None), params).first()
    if found is None:
        abort(404)
    _published_or_404(found[0])
    return found


def _course_and_enrollment(slug: str) -> tuple[Course, Enrollment | None]:
    course, enrollment = _course_row(slug)
    return course, enrollment


def _course_and_open_enrollment(slug: str) -> tuple[Course, Enrollment | None]:
    """The course (or 404) and the learner's enrolment if it is open (None otherwise)."""
    course, enrollment = _course_and_enrollment(slug)
    return course, (enrollment if enrollment is not None and enrollment.is_open else None)


@bp.route("/courses")
def catalogue() -> Any:
    user = current_user_obj()
    courses = services.listed_courses()
    enrollments = {
        e.course_id: e
        for e in db.session.scalars(select(Enrollment).where(Enrollment.user_id == user.id))
    }
    return render_template(
        "training/catalogue.html",
        courses=courses,
        enrollments=enrollments,
        payments=services.payments_configured(),
    )


@bp.route("/courses/<slug>")
def course(slug: str) -> Any:
    course, enrollment = _course_and_enrollment(slug)
    progress = services.course_progress(enrollment) if enrollment and enrollment.is_open else None
    modules = progress.modules if progress else None
    version = course.current_version
    return render_template(
        "training/course.html",
        course=course,
        enrollment=enrollment,
        progress=progress,
        modules=modules,
        syllabus=services.version_modules([version.id])[version.id] if version else [],
        form=ConfirmForm(),
        payments=services.payments_configured(),
    )


@bp.route("/courses/<slug>/enroll", methods=["POST"])
def enroll(slug: str) -> Any:
    course = _course_or_404(slug)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        enrollment = services.enroll(current_user_obj(), course)
        db.session.commit()
    except TrainingError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("training.course", slug=slug))
    except IntegrityError:
        # A double click enrolled in a parallel request: that one stands.
        db.session.rollback()
        return redirect(url_for("training.course", slug=slug))
    if enrollment.status == EnrollmentStatus.PENDING_PAYMENT:
        from lms.payments.services import open_payment

        payment = open_payment(enrollment)
        if payment is not None:
            return redirect(url_for("payments.pay", payment_id=payment.id))
    flash(f"You are enrolled in {course.title}.", "success")
    return redirect(url_for("training.course", slug=slug))


@bp.route("/courses/<slug>/modules/<module_slug>")
def lesson(slug: str, module_slug: str) -> Any:
    course, enrollment, lesson_html = _course_row(slug, lesson=module_slug)
    if enrollment is None or not enrollment.is_open:
        flash("Enrol in the course to open its modules.", "info")
        return redirect(url_for("training.course", slug=slug))
    progress = services.course_progress(enrollment)
    state = next((m for m in progress.modules if m.module.slug == module_slug), None)
    if state is None:
        abort(404)
    if not state.unlocked:
        flash("Finish the earlier modules first; modules open in order.", "info")
        return redirect(url_for("training.course", slug=slug))
    services.touch_module(enrollment, state.module)
    attempt, attempts, eligibility = None, [], None
    if state.module.has_quiz:
        attempt, attempts = quiz.module_attempts(enrollment.user_id, state.module)
        eligibility = quiz.eligibility(enrollment, state, finished=attempts)
    db.session.commit()  # where the learner is, and an attempt past its time limit, scored
    following = (
        progress.modules[state.position + 1] if state.position + 1 < len(progress.modules) else None
    )
    return render_template(
        "training/lesson.html",
        course=course,
        state=state,
        lesson_html=lesson_html or "",
        progress=progress,
        attempt=attempt,
        eligibility=eligibility,
        attempts=attempts,
        following=following,
        form=ConfirmForm(),
    )


@bp.route("/courses/<slug>/modules/<module_slug>/complete", methods=["POST"])
def complete_lesson(slug: str, module_slug: str) -> Any:
    course, enrollment = _course_and_open_enrollment(slug)
    if enrollment is None or not ConfirmForm().validate_on_submit():
        abort(404 if enrollment is None else 400)
    try:
        state = services.module_state(enrollment, module_slug)
        services.complete_lesson(enrollment, state)
    except LookupError:
        abort(404)
    except TrainingError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("training.course", slug=slug))
    db.session.commit()
    state = services.module_state(enrollment, module_slug)
    if state.module.has_quiz and not state.quiz_passed:
        flash("Lesson marked complete. The quiz is open.", "success")
        return redirect(url_for("training.lesson", slug=slug, module_slug=module_slug) + "#quiz")
    return _after_module(course, enrollment)


def _after_module(course: Course, enrollment: Enrollment) -> Any:
    progress = services.course_progress(enrollment)
    if progress.certificate is not None:
        flash("Course complete. Your certificate is ready.", "success")
        return redirect(url_for("training.certificates"))
    if (
        progress.all_modules_complete
        and progress.evaluation_required
        and not progress.evaluation_done
    ):
        flash("Every module is complete. One last step: the course evaluation.", "success")
        return redirect(url_for("training.evaluation", slug=course.slug))
    upcoming = progress.next_module
    flash("Module complete.", "success")
    if upcoming is not None:
        return redirect(
            url_for("training.lesson", slug=course.slug, module_slug=upcoming.module.slug)
        )
    return redirect(url_for("training.course", slug=course.slug))


# --- quiz attempts ------------------------------------------------------------------------


@functools.cache
def _locked_attempt_statement() -> Select[tuple[QuizAttempt]]:
    return (
        select(QuizAttempt)
        .where(QuizAttempt.id == bindparam("attempt_id"))
        .options(
            joinedload(QuizAttempt.enrollment, innerjoin=True),
            joinedload(QuizAttempt.progress),
        )
        .with_for_update(of=QuizAttempt)
        .execution_options(populate_existing=True)
    )


def _attempt_or_404(attempt_id: int, *, lock: bool = False) -> QuizAttempt:
    """The current user's attempt; ``lock`` serialises submissions on PostgreSQL."""
    user = current_user_obj()
    if lock:
        # The attempt locked, its enrolment and the module's progress read with it (scoring
        # needs and updates them: no second and third query).
        attempt = db.session.scalar(_locked_attempt_statement(), {"attempt_id": attempt_id})
        if attempt is None or attempt.user_id != user.id:
            abort(404)
        return attempt
    return get_or_404(QuizAttempt, attempt_id, allowed=lambda a: a.user_id == user.id)


def _attempt_context(attempt: QuizAttempt) -> tuple[Enrollment, Any]:
    enrollment = db.session.get(Enrollment, attempt.enrollment_id)
    if enrollment is None:
        abort(404)
    return enrollment, enrollment.course


@bp.route("/courses/<slug>/modules/<module_slug>/quiz", methods=["POST"])
def start_quiz(slug: str, module_slug: str) -> Any:
    course, enrollment = _course_and_open_enrollment(slug)
    if enrollment is None or not ConfirmForm().validate_on_submit():
        abort(404 if enrollment is None else 400)
    try:
        state = services.module_state(enrollment, module_slug)
        attempt = quiz.start_attempt(enrollment, state)
        db.session.commit()
    except LookupError:
        abort(404)
    except TrainingError as error:
        db.session.commit()  # keeps an attempt scored on time-out, if any
        flash(error.message, "error")
        return redirect(url_for("training.lesson", slug=slug, module_slug=module_slug) + "#quiz")
    except IntegrityError:
        # A double click started the same attempt in a parallel request: resume that one.
        db.session.rollback()
        return redirect(url_for("training.lesson", slug=slug, module_slug=module_slug) + "#quiz")
    return redirect(url_for("training.attempt", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>")
def attempt(attempt_id: int) -> Any:
    attempt = _attempt_or_404(attempt_id)
    quiz.expire_if_due(attempt)
    db.session.commit()
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return redirect(url_for("training.attempt_result", attempt_id=attempt.id))
    enrollment, course = _attempt_context(attempt)
    saved = {a.position: a.response for a in attempt.answers}
    return render_template(
        "training/attempt.html",
        attempt=attempt,
        course=course,
        questions=quiz.frozen_questions(attempt),
        saved=saved,
        form=ConfirmForm(),
        now=utcnow(),
    )


@bp.route("/attempts/<int:attempt_id>/answers/<int:position>", methods=["POST"])
def save_answer(attempt_id: int, position: int) -> Any:
    """Autosave of one answer (htmx or fetch); errors come back as 4xx with a message."""
    attempt = _attempt_or_404(attempt_id)
    if not 0 <= position < len(attempt.questions):
        return _save_error("That question is not part of this attempt.", 400)
    question = quiz.frozen_question(attempt, position).question
    answered, response = response_from_form(question, position, request.form)
    if not answered:
        return _save_error("Choose or type an answer first.", 400)
    try:
        quiz.save_answer(attempt, position, response)
        db.session.commit()
    except TrainingError as error:
        db.session.commit()  # a time-out scoring must be kept
        return _save_error(
            error.message, 409 if attempt.status != AttemptStatus.IN_PROGRESS else 400
        )
    except IntegrityError:
        # Two saves of the same question raced to create its row: the other one won; update it.
        db.session.rollback()
        attempt = _attempt_or_404(attempt_id)
        try:
            quiz.save_answer(attempt, position, response)
        except TrainingError as error:
            db.session.commit()
            return _save_error(
                error.message, 409 if attempt.status != AttemptStatus.IN_PROGRESS else 400
            )
        db.session.commit()
    if request.headers.get("HX-Request"):
        return render_template("training/_saved.html", position=position, ok=True, message="Saved")
    return {"status": "saved", "position": position}


def _save_error(message: str, status: int) -> Any:
    if request.headers.get("HX-Request"):
        return render_template("training/_saved.html", ok=False, message=message), 200
    return {"error": message}, status


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
def submit_attempt(attempt_id: int) -> Any:
    attempt = _attempt_or_404(attempt_id, lock=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        flash("This attempt was already submitted; nothing changed.", "error")
        return redirect(url_for("training.attempt_result", attempt_id=attempt.id))
    # Whatever the page still holds is saved first (a learner without JavaScript).
    problems = []
    for frozen in quiz.frozen_questions(attempt):
        answered, response = response_from_form(frozen.question, frozen.position, request.form)
        if answered:
            try:
                quiz.save_answer(attempt, frozen.position, response)
            except TrainingError as error:
                problems.append(f"Question {frozen.position + 1}: {error.message}")
                if attempt.status != AttemptStatus.IN_PROGRESS:
                    break
    if problems and attempt.status == AttemptStatus.IN_PROGRESS:
        db.session.commit()  # keep the valid answers
        for problem in problems:
            flash(problem, "error")
        return redirect(url_for("training.attempt", attempt_id=attempt.id))
    if attempt.status == AttemptStatus.IN_PROGRESS:
        quiz.submit(attempt)
    db.session.commit()
    return redirect(url_for("training.attempt_result", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>/result")
def attempt_result(attempt_id: int) -> Any:
    attempt = _attempt_or_404(attempt_id)
    quiz.expire_if_due(attempt)
    db.session.commit()
    if attempt.status == AttemptStatus.IN_PROGRESS:
        return redirect(url_for("training.attempt", attempt_id=attempt.id))
    enrollment, course = _attempt_context(attempt)
    state = services.module_state(enrollment, _module_slug(attempt))
    eligibility = quiz.eligibility(enrollment, state)
    progress = services.course_progress(enrollment)
    return render_template(
        "training/result.html",
        attempt=attempt,
        course=course,
        state=state,
        eligibility=eligibility,
        items=quiz.review_items(attempt),
        progress=progress,
        form=ConfirmForm(),
    )


def _module_slug(attempt: QuizAttempt) -> str:
    module = services.light_module(attempt.module_version_id)
    return module.slug if module else ""


# --- evaluation ----------------------------------------------------------------------------


@bp.route("/courses/<slug>/evaluation", methods=["GET", "POST"])
def evaluation(slug: str) -> Any:
    course, enrollment = _course_and_open_enrollment(slug)
    if enrollment is None:
        return redirect(url_for("training.course", slug=slug))
    progress = services.course_progress(enrollment)
    form = ConfirmForm()
    error = None
    answers = {}
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        answers = {key: request.form.get(key, "") for key in request.form if key != "csrf_token"}
        try:
            services.submit_evaluation(enrollment, answers)
        except TrainingError as exc:
            db.session.rollback()
            error = exc.message
            status = 422
        else:
            db.session.commit()
            return _after_module(course, enrollment)
    return render_template(
        "training/evaluation.html",
        course=course,
        progress=progress,
        evaluation=enrollment.course_version.evaluation or {},
        likert=LIKERT,
        form=form,
        error=error,
        answers=answers,
    ), status


# --- certificates ------------------------------------------------------------------------


@bp.route("/certificates")
def certificates() -> Any:
    user = current_user_obj()
    rows = db.session.scalars(
        select(Certificate)
        .where(Certificate.user_id == user.id)
        .order_by(Certificate.issued_at.desc())
    ).all()
    return render_template("training/certificates.html", certificates=rows, now=utcnow())


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int) -> Any:
    user = current_user_obj()
    certificate = get_or_404(
        Certificate,
        certificate_id,
        allowed=lambda c: c.user_id == user.id or user.role.value == "admin",
    )
    pdf = certs.render_pdf(certificate, external_url("training.verify_code", code=certificate.code))
    filename = f"certificate-{certificate.code}.pdf"
    return (
        pdf,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@bp.route("/verify")
@public
def verify() -> Any:
    form = VerifyForm(request.args)
    if request.args and form.validate():
        return redirect(url_for("training.verify_code", code=certs.normalise_code(form.code.data)))
    return render_template("training/verify.html", form=form), 422 if form.errors else 200


@bp.route("/verify/<code>")
@public
def verify_code(code: str) -> Any:
    certificate = certs.find_by_code(code)
    if certificate is None:
        form = VerifyForm(code=code)
        return render_template("training/verify.html", form=form, not_found=True), 404
    return render_template(
        "training/verify_result.html", certificate=certificate, status=certificate.status(utcnow())
    )


# --- lesson images ---------------------------------------------------------------------------


@bp.route(f"{ASSET_PREFIX}/<slug>/<path:filename>")
def asset(slug: str, filename: str) -> Any:
    _course_or_404(slug)
    folder = Path(courses_root()) / slug
    if not filename.startswith("images/"):
        abort(404)
    response = send_from_directory(folder, filename, max_age=3600)
    if filename.endswith(".svg"):
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'"
        )
    return response
