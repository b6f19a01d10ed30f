"""Course and quiz analytics, aggregated in SQL.

Every number here comes from a fixed number of GROUP BY / window-function queries, whatever
the number of learners and attempts (nothing loads every attempt into Python to count it).
The window functions used (``row_number``, ``count() over``, ``ntile``) run on SQLite and
PostgreSQL alike; the only dialect difference is how two timestamps are subtracted.

Each row type has ``cells()``: the strings the screen shows, which the CSV export writes
unchanged ("" where the screen shows a dash).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    String,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from lms.analytics.identity import (
    Definition,
    ModuleQuestions,
    describe_response,
    identity,
)
from lms.extensions import db
from lms.training.models import (
    AttemptAnswer,
    AttemptStatus,
    Course,
    CourseVersion,
    Enrollment,
    EnrollmentStatus,
    EvaluationResponse,
    ModuleProgress,
    ModuleVersion,
    QuizAttempt,
)
from lms.training.services import LIKERT

FULLY_CORRECT = 0.999  # a fraction at least this high counts as fully correct
MIN_FOR_DISCRIMINATION = 20  # fewer answers than this: the index is too noisy to show
LATEST_COMMENTS = 3


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage (half up), "" when ``whole`` is 0."""
    return f"{math.floor(100 * part / whole + 0.5)}%" if whole else ""


def _days_between(end: Any, start: Any) -> ColumnElement[Any]:
    """``end - start`` in days, as a number, on the session's database."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return func.extract("epoch", end - start) / 86400.0


def _counted_enrollment() -> ColumnElement[bool]:
    return Enrollment.status != EnrollmentStatus.CANCELLED


# --- courses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseSummary:
    course: Course
    enrolled: int
    completed: int
    median_days: float | None

    @property
    def completion_rate(self) -> str:
        return percent(self.completed, self.enrolled)

    @property
    def median_text(self) -> str:
        return f"{self.median_days:.1f}" if self.median_days is not None else ""

    def cells(self) -> list[str]:
        return [
            self.course.title,
            str(self.enrolled),
            str(self.completed),
            self.completion_rate,
            self.median_text,
        ]


SUMMARY_HEADER = ["Course", "Enrolments", "Completed", "Completion rate", "Median days to complete"]


def _median_days(course_ids: list[int]) -> dict[int, float]:
    """Median of completed_at - (activated_at or enrolled_at), per course, in one query."""
    start = func.coalesce(Enrollment.activated_at, Enrollment.enrolled_at)
    days = _days_between(Enrollment.completed_at, start)
    ranked = (
        select(
            Enrollment.course_id.label("course_id"),
            days.label("days"),
            func.row_number()
            .over(partition_by=Enrollment.course_id, order_by=(days, Enrollment.id))
            .label("rn"),
            func.count().over(partition_by=Enrollment.course_id).label("n"),
        )
        .where(
            Enrollment.course_id.in_(course_ids),
            Enrollment.completed_at.is_not(None),
            _counted_enrollment(),
        )
        .subquery()
    )
    # The middle row (odd n) or the two middle rows (even n): n <= 2 rn <= n + 2.
    rows = db.session.execute(
        select(ranked.c.course_id, func.avg(ranked.c.days))
        .where(ranked.c.rn * 2 >= ranked.c.n, ranked.c.rn * 2 <= ranked.c.n + 2)
        .group_by(ranked.c.course_id)
    ).all()
    return {course_id: float(value) for course_id, value in rows if value is not None}


def course_summaries(courses: list[Course]) -> list[CourseSummary]:
    """Enrolments (not cancelled), completions and the median time to complete, per course."""
    if not courses:
        return []
    ids = [c.id for c in courses]
    counts = {
        course_id: (int(enrolled), int(completed or 0))
        for course_id, enrolled, completed in db.session.execute(
            select(
                Enrollment.course_id,
                func.count(),
                func.sum(case((Enrollment.completed_at.is_not(None), 1), else_=0)),
            )
            .where(Enrollment.course_id.in_(ids), _counted_enrollment())
            .group_by(Enrollment.course_id)
        )
    }
    medians = _median_days(ids)
    return [CourseSummary(c, *counts.get(c.id, (0, 0)), medians.get(c.id)) for c in courses]


def all_courses() -> list[Course]:
    return list(db.session.scalars(select(Course).order_by(Course.title, Course.id)))


# --- drop-off per module ----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    label: str
    learners: int
    enrolled: int
    previous: int | None
    module: ModuleVersion | None = None

    @property
    def drop(self) -> int | None:
        return None if self.previous is None else self.previous - self.learners

    @property
    def drop_text(self) -> str:
        if self.previous is None or self.drop is None:
            return ""
        share = percent(self.drop, self.previous)
        return f"{self.drop} ({share})" if share else str(self.drop)

    def cells(self) -> list[str]:
        return [
            self.label,
            str(self.learners),
            percent(self.learners, self.enrolled),
            self.drop_text,
        ]


DROPOFF_HEADER = ["Step", "Learners", "Share of enrolled", "Drop from the step before"]


def dropoff(summary: CourseSummary, modules: list[ModuleVersion]) -> list[Step]:
    """Enrolled learners, then per module the distinct learners who completed it.

    A module counts under its slug whatever version the learner completed; only learners with
    a counted (not cancelled) enrolment in the course are included.
    """
    course = summary.course
    completed = dict(
        db.session.execute(
            select(ModuleVersion.slug, func.count(func.distinct(ModuleProgress.user_id)))
            .join(ModuleVersion, ModuleVersion.id == ModuleProgress.module_version_id)
            .join(
                Enrollment,
                and_(
                    Enrollment.user_id == ModuleProgress.user_id,
                    Enrollment.course_id == course.id,
                ),
            )
            .where(
                ModuleVersion.course_id == course.id,
                ModuleProgress.completed_at.is_not(None),
                _counted_enrollment(),
            )
            .group_by(ModuleVersion.slug)
        ).all()
    )
    steps = [Step("Enrolled", summary.enrolled, summary.enrolled, None)]
    for module in modules:
        steps.append(
            Step(
                module.title,
                int(completed.get(module.slug, 0)),
                summary.enrolled,
                steps[-1].learners,
                module,
            )
        )
    return steps


# --- the course evaluation --------------------------------------------------------------------


@dataclass
class LikertSummary:
    prompt: str
    counts: list[int]  # one per LIKERT value, in order

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def mean(self) -> float | None:
        if not self.total:
            return None
        return sum((i + 1) * n for i, n in enumerate(self.counts)) / self.total

    @property
    def mean_text(self) -> str:
        return f"{self.mean:.2f}" if self.mean is not None else ""


@dataclass
class TextSummary:
    prompt: str
    total: int = 0
    latest: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass
class EvaluationSummary:
    likert: list[LikertSummary]
    text: list[TextSummary]
    responses: int


def _evaluation_items(course: Course) -> list[dict[str, Any]]:
    version = db.session.get(CourseVersion, course.current_version_id)
    return list(((version.evaluation if version else None) or {}).get("items", []))


class json_pairs(FunctionElement[Any]):  # noqa: N801 - used like SQLAlchemy's func.*
    """SQL, in a FROM clause: one row (``key``, ``value``) per member of a JSON object, the
    values as text (PostgreSQL's ``json_each_text``, SQLite's ``json_each``). The object is
    parsed once a row; reading its members one by one (``answers ->> 'item'``) parses it
    again for every member read."""

    inherit_cache = True

    def pairs(self) -> Any:
        return self.table_valued(column("key", String), column("value", String))


@compiles(json_pairs)
def _json_pairs(element: json_pairs, compiler: Any, **kw: Any) -> str:
    return f"json_each_text({compiler.process(element.clauses, **kw)})"


@compiles(json_pairs, "sqlite")
def _json_pairs_sqlite(element: json_pairs, compiler: Any, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


def evaluation_summary(course: Course) -> EvaluationSummary:
    """The current version's evaluation items over every response to the course (any version).

    Items are matched by their id; three queries whatever the number of responses or items.
    Each response's answers are read once a query, as rows of (item, answer) pairs: the
    counts of every Likert item come from one grouping and every text item's latest
    comments from one ranking.
    """
    items = _evaluation_items(course)
    responses = (
        db.session.scalar(
            select(func.count())
            .select_from(EvaluationResponse)
            .join(Enrollment, Enrollment.id == EvaluationResponse.enrollment_id)
            .where(Enrollment.course_id == course.id)
        )
        or 0
    )
    likert_items = [i for i in items if i.get("kind") == "likert"]
    text_items = [i for i in items if i.get("kind") != "likert"]
    values = [v for v, _ in LIKERT]
    likert = {i["id"]: LikertSummary(i["prompt"], [0] * len(values)) for i in likert_items}
    text = {i["id"]: TextSummary(i["prompt"]) for i in text_items}
    pairs = json_pairs(EvaluationResponse.answers).pairs()
    # Answers are stored as strings; a number would come back as one from SQLite's
    # json_each, so the value is read as text on both databases (as `->>` read it).
    item, value = pairs.c.key, cast(pairs.c.value, String)
    answers = (
        select(EvaluationResponse)
        .join(Enrollment, Enrollment.id == EvaluationResponse.enrollment_id)
        .join(pairs, true())
        .where(Enrollment.course_id == course.id, value.is_not(None))
    )
    if likert_items:
        counted = (
            answers.with_only_columns(item, value, func.count())
            .where(item.in_(list(likert)))
            .group_by(item, value)
        )
        for item_id, answer, count in db.session.execute(counted):
            if answer in values:
                likert[item_id].counts[values.index(answer)] = int(count)
    if text_items:
        ranked = (
            answers.with_only_columns(
                item.label("item"),
                value.label("value"),
                EvaluationResponse.submitted_at,
                func.row_number()
                .over(
                    partition_by=item,
                    order_by=(EvaluationResponse.submitted_at.desc(), EvaluationResponse.id.desc()),
                )
                .label("rn"),
                func.count().over(partition_by=item).label("total"),
            )
            .where(item.in_(list(text)), value != "")
            .subquery()
        )
        for item_id, answer, submitted_at, _rn, total in db.session.execute(
            select(ranked).where(ranked.c.rn <= LATEST_COMMENTS).order_by(ranked.c.rn)
        ):
            summary = text[item_id]
            summary.total = int(total)
            summary.latest.append((_aware(submitted_at), answer))
    return EvaluationSummary(list(likert.values()), list(text.values()), int(responses))


def _aware(value: Any) -> datetime:
    """A timestamp read through a union: aware UTC whatever the driver returned."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- questions --------------------------------------------------------------------------------


@dataclass
class QuestionRow:
    number: int
    definition: Definition
    answered: int = 0
    correct: int = 0
    top: int = 0
    top_correct: int = 0
    bottom: int = 0
    bottom_correct: int = 0
    earlier_answers: int = 0
    wrong: str = ""
    identity: str = ""

    @property
    def share_correct(self) -> str:
        return percent(self.correct, self.answered)

    @property
    def discrimination(self) -> float | None:
        if self.answered < MIN_FOR_DISCRIMINATION or not self.top or not self.bottom:
            return None
        return self.top_correct / self.top - self.bottom_correct / self.bottom

    @property
    def discrimination_text(self) -> str:
        value = self.discrimination
        return "" if value is None else f"{value:.2f}"

    def cells(self) -> list[str]:
        scored = self.definition.scored
        return [
            str(self.number),
            self.definition.label,
            str(self.answered) if scored else "",
            self.share_correct if scored else "",
            self.discrimination_text if scored else "",
            self.wrong if scored else "",
        ]


QUESTIONS_HEADER = [
    "#",
    "Question",
    "Answered",
    "Fully correct",
    "Discrimination (top − bottom quarter)",
    "Most chosen wrong answer",
]


def _finished() -> ColumnElement[bool]:
    return QuizAttempt.status != AttemptStatus.IN_PROGRESS


def question_rows(mq: ModuleQuestions) -> list[QuestionRow]:
    """Per current question: answers (finished attempts), share fully correct, discrimination
    index (ntile(4) of attempts by score, among attempts answering the question) and the most
    chosen wrong answer. Answers to earlier definitions of the same question count too."""
    rows = [QuestionRow(i + 1, d, identity=identity(d.question)) for i, d in enumerate(mq.current)]
    scored = {i for i, d in enumerate(mq.current) if d.scored}
    mapping = {k: p for k, p in mq.key_positions().items() if p in scored}
    if not mapping:
        return rows
    position = case(mapping, value=AttemptAnswer.question_key)
    current_keys = [mq.current[p].key for p in scored]
    base = (
        select(AttemptAnswer)
        .join(QuizAttempt, QuizAttempt.id == AttemptAnswer.attempt_id)
        .where(
            QuizAttempt.module_version_id.in_(mq.version_ids),
            _finished(),
            AttemptAnswer.question_key.in_(list(mapping)),
        )
    )
    correct = case((AttemptAnswer.fraction >= FULLY_CORRECT, 1), else_=0)
    ranked = base.with_only_columns(
        position.label("position"),
        correct.label("correct"),
        case((AttemptAnswer.question_key.in_(current_keys), 0), else_=1).label("earlier"),
        func.ntile(4)
        .over(partition_by=position, order_by=(QuizAttempt.score, QuizAttempt.id))
        .label("quarter"),
    ).subquery()

    def when(condition: ColumnElement[bool], value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    stats = db.session.execute(
        select(
            ranked.c.position,
            func.count(),
            func.coalesce(func.sum(ranked.c.correct), 0),
            when(ranked.c.quarter == 4),
            when(ranked.c.quarter == 4, ranked.c.correct),
            when(ranked.c.quarter == 1),
            when(ranked.c.quarter == 1, ranked.c.correct),
            func.coalesce(func.sum(ranked.c.earlier), 0),
        ).group_by(ranked.c.position)
    ).all()
    for pos, answered, right, top, top_right, bottom, bottom_right, earlier in stats:
        row = rows[int(pos)]
        row.answered, row.correct = int(answered), int(right)
        row.top, row.top_correct = int(top), int(top_right)
        row.bottom, row.bottom_correct = int(bottom), int(bottom_right)
        row.earlier_answers = int(earlier)
    for pos, text in _most_chosen_wrong(base, position):
        row = rows[int(pos)]
        try:
            response = json.loads(text)
        except ValueError:
            response = text
        row.wrong = describe_response(row.definition.question, response)
    return rows


def _most_chosen_wrong(base: Any, position: Any) -> list[tuple[int, str]]:
    """Per question, the wrong (not fully correct) response given most often.

    Responses are compared as their JSON text, case-insensitively (typed answers); ties go to
    the alphabetically first, so the answer is stable.
    """
    text = cast(AttemptAnswer.response, Text)
    folded = func.lower(text)
    grouped = (
        base.with_only_columns(
            position.label("position"),
            func.min(text).label("sample"),
            func.row_number()
            .over(partition_by=position, order_by=(func.count().desc(), folded))
            .label("rn"),
        )
        .where(AttemptAnswer.fraction < FULLY_CORRECT)
        .group_by(position, folded)
        .subquery()
    )
    return [
        (int(p), str(s))
        for p, s in db.session.execute(
            select(grouped.c.position, grouped.c.sample).where(grouped.c.rn == 1)
        )
    ]
