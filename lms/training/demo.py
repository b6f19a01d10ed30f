"""Demo data for training: the applicant is enrolled; the partner has finished the course."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.training import quiz, services
from lms.training.gift import Question
from lms.training.models import Course

DEMO_COURSE = "kap-foundations"


def ideal_response(question: Question) -> Any:
    """A response that earns full marks (used to give the demo partner a real history)."""
    kind = question.kind
    if kind == "multichoice":
        return max(range(len(question.answers)), key=lambda i: question.answers[i].weight)
    if kind == "multiresponse":
        return [i for i, a in enumerate(question.answers) if a.weight > 0]
    if kind == "truefalse":
        return bool(question.correct_answer)
    if kind == "shortanswer":
        best = max(question.answers, key=lambda a: a.weight)
        return best.text.replace("*", "x")
    if kind == "numerical":
        best = max(question.answers, key=lambda a: a.weight)
        return best.value if best.value is not None else best.minimum
    if kind == "matching":
        return {str(i): pair.right for i, pair in enumerate(question.pairs)}
    return "Demo answer."


def _needs_payment(course: Course) -> bool:
    return not course.is_free and services.payments_configured()


def complete_course_for(user: User, course: Course, comped_by: User | None = None) -> None:
    """Work through every module as a learner would, passing each quiz, then the evaluation.
    With payments on, a paid course's enrolment is comped by ``comped_by`` (an admin)."""
    enrollment = services.get_enrollment(user, course)
    if enrollment is None or not enrollment.is_open:
        enrollment = services.enroll(
            user, course, comped_by=comped_by if _needs_payment(course) else None
        )
    for _ in range(len(services.course_progress(enrollment).modules)):
        state = services.course_progress(enrollment).next_module
        if state is None:
            break
        services.complete_lesson(enrollment, state)
        state = services.module_state(enrollment, state.module.slug)
        if state.module.has_quiz and not state.quiz_passed:
            attempt = quiz.start_attempt(enrollment, state)
            for frozen in quiz.frozen_questions(attempt):
                if frozen.question.kind != "description":
                    quiz.save_answer(attempt, frozen.position, ideal_response(frozen.question))
            quiz.submit(attempt)
    answers = {
        item["id"]: ("5" if item["kind"] == "likert" else "Clear and practical.")
        for item in services.evaluation_items(enrollment)
    }
    if answers and not services.course_progress(enrollment).evaluation_done:
        services.submit_evaluation(enrollment, answers)


def seed_training(applicant: User, partner: User, admin: User | None = None) -> list[str]:
    """Enrol the applicant; give the partner a completed course and certificate. Idempotent.

    With payments on (STRIPE_SECRET_KEY) the applicant is left to enrol and pay from the
    course page (the payment flow is then part of the demo), and the partner's enrolment is
    comped by the demo admin."""
    course = db.session.scalar(select(Course).where(Course.slug == DEMO_COURSE))
    if course is None or course.current_version_id is None:
        return [f"course '{DEMO_COURSE}' is not synced: run `flask --app app courses sync` first"]
    lines = []
    if services.get_enrollment(applicant, course) is None:
        if _needs_payment(course):
            lines.append(
                f"payments are on: {applicant.email} enrols in {course.title} and pays "
                "from the course page"
            )
        else:
            services.enroll(applicant, course)
            lines.append(f"{applicant.email} enrolled in {course.title}")
    progress_before = services.get_enrollment(partner, course)
    if progress_before is None or progress_before.completed_at is None:
        complete_course_for(partner, course, comped_by=admin)
        lines.append(f"{partner.email} completed {course.title} and holds its certificate")
    return lines
