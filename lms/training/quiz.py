"""Quiz attempts: start (draw, shuffle, freeze), save answers as the learner goes, score.

Every rule is enforced here, on the server: module order, attempt limit, cooldown,
time limit (at expiry the attempt is scored with what was saved), and tampered
or repeated submissions (which change nothing).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import defer

from lms import audit
from lms.db import utcnow
from lms.extensions import db
from lms.training import services
from lms.training.gift import Question, ResponseError, grade
from lms.training.models import AttemptAnswer, AttemptStatus, Enrollment, QuizAttempt
from lms.training.services import AnyModule, ModuleState, TrainingError

AUTO_SCORED_EXCLUDED = ("essay", "description")
SHUFFLABLE = ("multichoice", "multiresponse")


@dataclass
class FrozenQuestion:
    position: int
    question: Question
    order: list[int]  # answer indices in the order shown
    options: list[str]  # matching: the right-hand choices in the order shown

    @functools.cached_property
    def key(self) -> str:
        """The question's content hash (:meth:`Question.key`), worked out once."""
        return self.question.key()


# Where an attempt object keeps its parsed questions: (the list they were parsed from, them).
_PARSED = "_lms_frozen_questions"


def frozen_questions(attempt: QuizAttempt) -> list[FrozenQuestion]:
    """The attempt's questions as it was given them, parsed once per loaded attempt.

    A submit reads them to take the form's answers, to check each answer and to score:
    the JSON is parsed the first time only. The list is the attempt's own (a regrade
    assigns a new one), so a changed attempt is parsed afresh.
    """
    parsed = _parsed(attempt)
    if parsed is None:
        questions = attempt.questions
        parsed = [_frozen(i, entry) for i, entry in enumerate(questions)]
        setattr(attempt, _PARSED, (questions, parsed))
    return list(parsed)


def frozen_question(attempt: QuizAttempt, position: int) -> FrozenQuestion:
    """One of the attempt's questions (an answer save needs only the one it answers)."""
    parsed = _parsed(attempt)
    if parsed is not None:
        return parsed[position]
    return _frozen(position, attempt.questions[position])


def _parsed(attempt: QuizAttempt) -> list[FrozenQuestion] | None:
    """The questions parsed earlier from the attempt's current list, if any."""
    kept = getattr(attempt, _PARSED, None)
    return kept[1] if kept is not None and kept[0] is attempt.questions else None


def _frozen(position: int, entry: dict[str, Any]) -> FrozenQuestion:
    return FrozenQuestion(
        position,
        Question.from_dict(entry["question"]),
        entry.get("order", []),
        entry.get("options", []),
    )


def _finished_attempts(user_id: int, module: AnyModule) -> list[QuizAttempt]:
    """The learner's finished attempts (the frozen questions load only if something reads them)."""
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.user_id == user_id,
                QuizAttempt.module_version_id == module.id,
                QuizAttempt.status != AttemptStatus.IN_PROGRESS,
            )
            .order_by(QuizAttempt.number)
            .options(defer(QuizAttempt.questions))
        )
    )


@functools.cache
def _module_attempts_statement() -> Select[tuple[QuizAttempt]]:
    """Built once per process: building a statement costs Python on every request even
    when its SQL is cached (docs/PERFORMANCE.md, "The eleventh round")."""
    return (
        select(QuizAttempt)
        .where(
            QuizAttempt.user_id == bindparam("user_id"),
            QuizAttempt.module_version_id == bindparam("module_id"),
        )
        .order_by(QuizAttempt.number)
        .options(defer(QuizAttempt.questions))
    )


def module_attempts(
    user_id: int, module: AnyModule
) -> tuple[QuizAttempt | None, list[QuizAttempt]]:
    """The open attempt (None if none, or if its time just ran out: it is scored) and the
    finished ones, oldest first, in one statement (the lesson page shows both)."""
    params = {"user_id": user_id, "module_id": module.id}
    rows = list(db.session.scalars(_module_attempts_statement(), params))
    current = next((a for a in rows if a.status == AttemptStatus.IN_PROGRESS), None)
    if current is not None and expire_if_due(current):
        current = None
    return current, [a for a in rows if a.status != AttemptStatus.IN_PROGRESS]


def open_attempt(user_id: int, module: AnyModule) -> QuizAttempt | None:
    attempt = db.session.scalar(
        select(QuizAttempt).where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.module_version_id == module.id,
            QuizAttempt.status == AttemptStatus.IN_PROGRESS,
        )
    )
    if attempt is not None and expire_if_due(attempt):
        return None
    return attempt


@dataclass
class Eligibility:
    can_start: bool
    reason: str | None = None
    retry_at: datetime | None = None
    attempts_used: int = 0
    attempts_allowed: int = 0


def eligibility(
    enrollment: Enrollment,
    state: ModuleState,
    now: datetime | None = None,
    finished: list[QuizAttempt] | None = None,
) -> Eligibility:
    """Whether a new attempt may start now, and if not, why (shown to the learner).

    ``finished``: the learner's finished attempts at this module, if already read.
    """
    now = now or utcnow()
    settings = state.module.quiz_settings or {}
    if finished is None:
        finished = _finished_attempts(enrollment.user_id, state.module)
    allowed = int(settings.get("max_attempts", 0))
    base = {"attempts_used": len(finished), "attempts_allowed": allowed}
    if not enrollment.is_open:
        return Eligibility(False, "Enrol in the course first.", **base)
    if not state.unlocked:
        return Eligibility(False, "Finish the earlier modules first.", **base)
    if not state.lesson_done:
        return Eligibility(False, "Read the lesson and mark it complete before the quiz.", **base)
    if state.quiz_passed:
        return Eligibility(False, "You have passed this quiz.", **base)
    if allowed and len(finished) >= allowed:
        return Eligibility(
            False,
            f"You have used all {allowed} attempts for this quiz. Contact the operations team "
            "if you need another.",
            **base,
        )
    cooldown = int(settings.get("cooldown_minutes", 0))
    if cooldown and finished:
        last = finished[-1].submitted_at or finished[-1].started_at
        retry_at = last + timedelta(minutes=cooldown)
        if retry_at > now:
            return Eligibility(
                False, "You can try again after a short break.", retry_at=retry_at, **base
            )
    return Eligibility(True, **base)


def start_attempt(
    enrollment: Enrollment, state: ModuleState, rng: random.Random | None = None
) -> QuizAttempt:
    """Resume the open attempt, or start a new one with its questions drawn and frozen."""
    if not state.module.has_quiz:
        raise TrainingError("This module has no quiz.")
    existing = open_attempt(enrollment.user_id, state.module)
    if existing is not None:
        return existing
    check = eligibility(enrollment, state)
    if not check.can_start:
        raise TrainingError(check.reason or "You cannot start this quiz now.")
    rng = rng or random.SystemRandom()
    settings = state.module.quiz_settings or {}
    entries = list(state.module.questions)
    if settings.get("shuffle_questions", True):
        rng.shuffle(entries)
    drawn = int(settings.get("questions_per_attempt", 0))
    if drawn:
        entries = entries[:drawn]
    frozen = []
    for data in entries:
        question = Question.from_dict(data)
        order = list(range(len(question.answers)))
        if question.kind in SHUFFLABLE and settings.get("shuffle_answers", True):
            rng.shuffle(order)
        options: list[str] = []
        if question.kind == "matching":
            options = sorted({pair.right for pair in question.pairs})
            rng.shuffle(options)
        frozen.append({"question": data, "order": order, "options": options})
    number = (
        db.session.scalar(
            select(func.max(QuizAttempt.number)).where(
                QuizAttempt.user_id == enrollment.user_id,
                QuizAttempt.module_version_id == state.module.id,
            )
        )
        or 0
    ) + 1
    now = utcnow()
    limit = int(settings.get("time_limit_minutes", 0))
    attempt = QuizAttempt(
        user_id=enrollment.user_id,
        enrollment_id=enrollment.id,
        module_version_id=state.module.id,
        number=number,
        status=AttemptStatus.IN_PROGRESS,
        questions=frozen,
        pass_mark=int(settings.get("pass_mark", 80)),
        review=str(settings.get("review", "feedback")),
        started_at=now,
        deadline_at=now + timedelta(minutes=limit) if limit else None,
    )
    db.session.add(attempt)
    services.touch_module(enrollment, state.module)
    db.session.flush()
    audit.record("quiz.attempt_started", attempt, module=state.module.slug, number=number)
    return attempt


def _answer_row(attempt: QuizAttempt, position: int) -> AttemptAnswer | None:
    return next((a for a in attempt.answers if a.position == position), None)


def save_answer(attempt: QuizAttempt, position: int, response: Any) -> AttemptAnswer:
    """Validate and store one response; raises TrainingError with a clear message."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise TrainingError("This attempt is already finished; your answers can no longer change.")
    if expire_if_due(attempt):
        raise TrainingError(
            "Time is up: the attempt was scored with the answers saved before the limit."
        )
    if not 0 <= position < len(attempt.questions):
        raise TrainingError("That question is not part of this attempt.")
    frozen = frozen_question(attempt, position)
    question = frozen.question
    if question.kind == "description":
        raise TrainingError("That item takes no answer.")
    try:
        graded = grade(question, response)  # validates shape and choices
    except ResponseError as exc:
        raise TrainingError(f"That answer is not valid: {exc}") from exc
    row = _answer_row(attempt, position)
    if row is not None and row.response == response:
        return row  # the same answer again (the submit form re-sends every saved answer)
    if row is None:
        row = AttemptAnswer(attempt_id=attempt.id, position=position, question_key=frozen.key)
        attempt.answers.append(row)
    row.response = response
    row.saved_at = utcnow()
    # Its score, kept with it (never shown before the attempt is finished; the analytics read
    # finished attempts only): the submit's scoring then finds it already right and writes
    # only what changed, instead of one more UPDATE of every saved answer.
    row.fraction = stored_fraction(question.kind, graded.fraction)
    # Not flushed here: the caller's commit writes it, and a submit that saves every
    # answer the page still holds writes them together (one batch, not one per answer).
    return row


def stored_fraction(kind: str, graded: float | None) -> float | None:
    """An answer's score as stored: None for what is not auto-scored, 0 when grading gave none."""
    return None if kind in AUTO_SCORED_EXCLUDED else (graded or 0.0)


def expire_if_due(attempt: QuizAttempt, now: datetime | None = None) -> bool:
    """Score an attempt whose time limit has passed. True if it was (or is now) timed out."""
    if attempt.status == AttemptStatus.TIMED_OUT:
        return True
    if attempt.status != AttemptStatus.IN_PROGRESS or attempt.deadline_at is None:
        return False
    if (now or utcnow()) < attempt.deadline_at:
        return False
    _score(attempt, AttemptStatus.TIMED_OUT)
    return True


def submit(attempt: QuizAttempt) -> QuizAttempt:
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise TrainingError("This attempt was already submitted.")
    if expire_if_due(attempt):
        return attempt
    _score(attempt, AttemptStatus.SUBMITTED)
    return attempt


def _score(attempt: QuizAttempt, status: AttemptStatus) -> None:
    total = 0.0
    counted = 0
    for frozen in frozen_questions(attempt):
        row = _answer_row(attempt, frozen.position)
        if frozen.question.kind in AUTO_SCORED_EXCLUDED:
            if row is not None:
                row.fraction = None
            continue
        counted += 1
        fraction = 0.0
        if row is not None:
            try:
                fraction = stored_fraction(
                    frozen.question.kind, grade(frozen.question, row.response).fraction
                )
            except ResponseError:
                fraction = 0.0
            row.fraction = fraction  # no UPDATE when the save already wrote the same value
        total += fraction or 0.0
    attempt.score = total / counted if counted else 0.0
    attempt.passed = attempt.score * 100 >= attempt.pass_mark - 1e-9
    attempt.status = status
    attempt.submitted_at = utcnow() if status == AttemptStatus.SUBMITTED else attempt.deadline_at
    # Usually read with the attempt already (a submit reads both together): no query. The
    # changes above are written with the progress below, in one flush.
    enrollment = attempt.enrollment
    module = services.attempted_module(enrollment, attempt.module_version_id)
    audit.record(
        "quiz.attempt_scored",
        attempt,
        module=module.slug if module else None,
        number=attempt.number,
        score=round(attempt.score * 100, 1),
        passed=attempt.passed,
        timed_out=status == AttemptStatus.TIMED_OUT,
    )
    if enrollment is not None and module is not None:
        services.record_quiz_result(
            enrollment, module, attempt.score, bool(attempt.passed), row=attempt.progress
        )


@dataclass
class ReviewItem:
    frozen: FrozenQuestion
    response: Any
    fraction: float | None
    feedback: list[str]


def review_items(attempt: QuizAttempt) -> list[ReviewItem]:
    items = []
    for frozen in frozen_questions(attempt):
        row = _answer_row(attempt, frozen.position)
        response = row.response if row else None
        feedback: list[str] = []
        if row is not None and frozen.question.kind not in AUTO_SCORED_EXCLUDED:
            try:
                feedback = list(grade(frozen.question, response).feedback)
            except ResponseError:
                feedback = []
        items.append(
            ReviewItem(
                frozen,
                response,
                row.fraction
                if row
                else (None if frozen.question.kind in AUTO_SCORED_EXCLUDED else 0.0),
                feedback,
            )
        )
    return items
