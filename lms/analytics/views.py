"""Course analytics pages (admins): courses, a course's drop-off and evaluation, a module's
questions, and regrading a corrected question. Every list has a CSV export of exactly the
rows and columns on screen."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from lms import audit
from lms.analytics import queries, regrade
from lms.analytics.chart import dropoff_chart
from lms.analytics.forms import RegradeForm
from lms.analytics.identity import ModuleQuestions, current_modules, module_questions
from lms.auth import admin_required, current_user_obj
from lms.exports import csv_response
from lms.extensions import db
from lms.training.models import Course
from lms.training.services import LIKERT

# Under /admin like the other admin pages; each list's CSV is its page's URL plus ".csv".
bp = Blueprint("analytics", __name__, url_prefix="/admin")


def _course_or_404(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        abort(404)
    return course


def _module_or_404(course: Course, module_slug: str) -> ModuleQuestions:
    mq = module_questions(course, module_slug)
    if mq is None:
        abort(404)
    return mq


def _export(
    report: str, name: str, header: list[str], rows: list[list[str]], **details: Any
) -> Any:
    """The CSV download, recorded in the audit log like every other admin export."""
    audit.record(
        "report.exported", None, object_type="report", report=report, rows=len(rows), **details
    )
    db.session.commit()
    return csv_response(name, header, rows)


# --- courses ----------------------------------------------------------------------------------


# strict_slashes=False: /admin/courses answers too, so the list and /admin/courses.csv pair up.
@bp.route("/courses/", strict_slashes=False)
@admin_required
def index() -> Any:
    """Every course: enrolments, completions, completion rate, median days to complete."""
    summaries = queries.course_summaries(queries.all_courses())
    return render_template(
        "analytics/index.html", summaries=summaries, header=queries.SUMMARY_HEADER
    )


@bp.route("/courses.csv")
@admin_required
def index_csv() -> Any:
    summaries = queries.course_summaries(queries.all_courses())
    return _export("courses", "courses", queries.SUMMARY_HEADER, [s.cells() for s in summaries])


def _course_data(course: Course) -> tuple[queries.CourseSummary, list[queries.Step]]:
    summary = queries.course_summaries([course])[0]
    return summary, queries.dropoff(summary, current_modules(course))


@bp.route("/courses/<slug>")
@admin_required
def course(slug: str) -> Any:
    """One course: the summary, drop-off per module (chart and table), the evaluation."""
    course = _course_or_404(slug)
    summary, steps = _course_data(course)
    return render_template(
        "analytics/course.html",
        course=course,
        summary=summary,
        steps=steps,
        chart=dropoff_chart(steps),
        header=queries.DROPOFF_HEADER,
        evaluation=queries.evaluation_summary(course),
        likert_labels=[label for _, label in LIKERT],
    )


@bp.route("/courses/<slug>.csv")
@admin_required
def course_csv(slug: str) -> Any:
    course = _course_or_404(slug)
    _, steps = _course_data(course)
    return _export(
        "course-dropoff",
        f"{course.slug}-dropoff",
        queries.DROPOFF_HEADER,
        [s.cells() for s in steps],
        course=course.slug,
    )


# --- modules and questions --------------------------------------------------------------------


@bp.route("/courses/<slug>/modules/<module_slug>")
@admin_required
def module(slug: str, module_slug: str) -> Any:
    """Per question of the module's current version: answers, share correct, discrimination,
    the most chosen wrong answer; and which questions can be regraded."""
    course = _course_or_404(slug)
    mq = _module_or_404(course, module_slug)
    return render_template(
        "analytics/module.html",
        course=course,
        mq=mq,
        rows=queries.question_rows(mq),
        header=queries.QUESTIONS_HEADER,
        min_answers=queries.MIN_FOR_DISCRIMINATION,
    )


@bp.route("/courses/<slug>/modules/<module_slug>.csv")
@admin_required
def module_csv(slug: str, module_slug: str) -> Any:
    course = _course_or_404(slug)
    mq = _module_or_404(course, module_slug)
    return _export(
        "module-questions",
        f"{course.slug}-{mq.module.slug}-questions",
        queries.QUESTIONS_HEADER,
        [r.cells() for r in queries.question_rows(mq)],
        course=course.slug,
        module=mq.module.slug,
    )


@bp.route(
    "/courses/<slug>/modules/<module_slug>/questions/<int:index>/regrade", methods=["GET", "POST"]
)
@admin_required
def regrade_question(slug: str, module_slug: str, index: int) -> Any:
    """GET: the dry run (who would change). POST: apply it, once confirmed."""
    course = _course_or_404(slug)
    target = regrade.find_target(course, module_slug, index)
    if target is None:
        abort(404)
    form = RegradeForm()
    error = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                done = regrade.apply(target, current_user_obj(), fingerprint=form.fingerprint.data)
            except regrade.RegradeError as refused:
                db.session.rollback()
                error = refused.message
                status = 409 if isinstance(refused, regrade.PlanChanged) else 422
                course = _course_or_404(slug)
                target = regrade.find_target(course, module_slug, index)
                if target is None:
                    abort(404)
            else:
                db.session.commit()
                flash(_applied_message(done), "success" if done.rescored else "info")
                return redirect(url_for("analytics.module", slug=slug, module_slug=module_slug))
        else:
            status = 422
    dry_run = regrade.plan(target)
    form.fingerprint.data = dry_run.fingerprint
    form.confirm.data = False
    return render_template(
        "analytics/regrade.html",
        course=course,
        target=target,
        plan=dry_run,
        form=form,
        error=error,
        score_text=regrade.score_text,
    ), status


def _applied_message(done: regrade.Plan) -> str:
    question = f"question {done.target.number}"
    if not done.rescored:
        return f"Nothing to regrade for {question}: no attempt holds an earlier version of it."
    changed = len(done.changes)
    learners = done.learners
    return (
        f"Regraded {question}: {len(done.rescored)} "
        f"{'attempt' if len(done.rescored) == 1 else 'attempts'} re-scored, {changed} "
        f"{'score' if changed == 1 else 'scores'} changed, {learners} "
        f"{'learner' if learners == 1 else 'learners'} e-mailed."
    )
