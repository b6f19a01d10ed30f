"""Regrading a corrected question: a dry run that lists what would change, then apply.

After an author fixes a question (a wrong answer marked right, a missing accepted spelling),
``courses sync`` makes a new module version; attempts already finished keep the definition they
were given, frozen. Regrading re-scores every finished attempt that was given an earlier
definition of the question (same identity, see :mod:`lms.analytics.identity`) with the current
one. Saved responses point at answer positions, so only definitions of the same shape can be
regraded: same kind and, where responses are positions, the same number of answers or pairs.

:func:`plan` is the dry run; :func:`apply` recomputes the same plan (under row locks) and carries
it out, so what the admin confirmed is what happens (a fingerprint of the plan guards against
attempts submitted in between). Applying twice changes nothing the second time: a regraded
attempt holds the current definition, so it is no longer "given an earlier definition".
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from lms import audit
from lms.accounts.models import User
from lms.analytics.identity import (
    UNSCORED,
    Definition,
    ModuleQuestions,
    identity,
    module_questions,
)
from lms.extensions import db
from lms.mail import external_url, send_email
from lms.training import services
from lms.training.gift import Question, ResponseError, grade
from lms.training.models import (
    AttemptAnswer,
    AttemptStatus,
    Course,
    Enrollment,
    EnrollmentStatus,
    ModuleProgress,
    ModuleVersion,
    QuizAttempt,
)

SAME = 1e-9
KIND_NAMES = {
    "multichoice": "multiple-choice",
    "multiresponse": "multiple-response",
    "truefalse": "true/false",
    "shortanswer": "short-answer",
    "numerical": "numerical",
    "matching": "matching",
    "essay": "essay",
    "description": "description",
}
POSITIONAL = ("multichoice", "multiresponse", "truefalse", "matching")


class RegradeError(Exception):
    """The regrade cannot be applied; ``message`` is shown to the admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PlanChanged(RegradeError):
    """What apply would do is no longer what the admin confirmed (409 Conflict)."""


def incompatibility(old: Question, new: Question) -> str | None:
    """Why responses saved for ``old`` cannot be scored against ``new`` (None: they can)."""
    if old.kind != new.kind:
        return f"it was a {KIND_NAMES[old.kind]} question and is now a {KIND_NAMES[new.kind]} one"
    if new.kind in POSITIONAL and len(old.answers) != len(new.answers):
        noun = "pairs" if new.kind == "matching" else "answers"
        return f"it had {len(old.answers)} {noun} and now has {len(new.answers)}"
    if new.kind == "matching" and set(old.choices) != set(new.choices):
        return "the choices on the right-hand side changed"
    return None


@dataclass(frozen=True)
class Target:
    """One question of the current version of a module, by its position."""

    mq: ModuleQuestions
    position: int

    @property
    def course(self) -> Course:
        return self.mq.course

    @property
    def module(self) -> ModuleVersion:
        return self.mq.module

    @property
    def current(self) -> Definition:
        return self.mq.current[self.position]

    @property
    def earlier(self) -> list[Definition]:
        return self.mq.earlier.get(self.position, [])

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def identity(self) -> str:
        return identity(self.current.question)


def find_target(course: Course, module_slug: str, number: int) -> Target | None:
    """Question ``number`` (1-based, as on the module page) of the module, or None."""
    mq = module_questions(course, module_slug)
    if mq is None or not 1 <= number <= len(mq.current):
        return None
    return Target(mq, number - 1)


@dataclass(frozen=True)
class EarlierDefinition:
    definition: Definition
    answers: int  # answers given to it in finished attempts
    problem: str | None  # why it cannot be regraded; None when it can

    @property
    def compatible(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class AttemptChange:
    """One attempt re-scored with the current definition: before and after."""

    attempt_id: int
    user_id: int
    learner: str
    number: int
    old_score: float
    new_score: float
    old_passed: bool
    new_passed: bool
    fractions: tuple[tuple[int, float | None, float], ...]  # (position, old, new) answered

    @property
    def changed(self) -> bool:
        return any(old is None or abs(old - new) > SAME for _, old, new in self.fractions)

    @property
    def newly_passed(self) -> bool:
        return self.new_passed and not self.old_passed

    @property
    def newly_failed(self) -> bool:
        return self.old_passed and not self.new_passed


def score_text(score: float) -> str:
    return f"{score * 100:.1f}%"


@dataclass
class _Work:
    attempt: QuizAttempt
    positions: list[int]  # where the attempt holds an earlier definition
    fractions: dict[int, float] = field(default_factory=dict)  # answered positions: new fraction
    score: float = 0.0


@dataclass
class Plan:
    target: Target
    earlier: list[EarlierDefinition]
    rescored: list[AttemptChange]  # every attempt that gets the current definition
    _work: dict[int, _Work] = field(default_factory=dict, repr=False, compare=False)

    @property
    def changes(self) -> list[AttemptChange]:
        """The attempts whose score changes (listed on the dry run, e-mailed, audited)."""
        return [c for c in self.rescored if c.changed]

    @property
    def unchanged(self) -> int:
        return len(self.rescored) - len(self.changes)

    @property
    def learners(self) -> int:
        return len({c.user_id for c in self.changes})

    @property
    def skipped(self) -> list[EarlierDefinition]:
        """Answered earlier definitions that cannot be regraded (left as they were)."""
        return [e for e in self.earlier if not e.compatible and e.answers]

    @property
    def refusal(self) -> str | None:
        """Why nothing can be regraded, when a definition with answers is incompatible."""
        if self.target.current.question.kind in UNSCORED:
            return "This question is not scored automatically, so there is nothing to regrade."
        if self.skipped and not any(e.compatible and e.answers for e in self.earlier):
            reasons = "; ".join(sorted({e.problem or "" for e in self.skipped}))
            return (
                "This question cannot be regraded: the answers saved for the earlier version "
                f"cannot be scored against the current one ({reasons}). Learners keep the "
                "scores they were given."
            )
        return None

    @property
    def fingerprint(self) -> str:
        """Changes whenever what :func:`apply` would do changes."""
        payload = [
            self.target.current.key,
            [(c.attempt_id, round(c.new_score, 9), c.new_passed) for c in self.rescored],
        ]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _answer_counts(target: Target, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    return {
        key: int(n)
        for key, n in db.session.execute(
            select(AttemptAnswer.question_key, func.count())
            .join(QuizAttempt, QuizAttempt.id == AttemptAnswer.attempt_id)
            .where(
                QuizAttempt.module_version_id.in_(target.mq.version_ids),
                QuizAttempt.status != AttemptStatus.IN_PROGRESS,
                AttemptAnswer.question_key.in_(keys),
            )
            .group_by(AttemptAnswer.question_key)
        )
    }


def _rescore(attempt: QuizAttempt, keys: set[str], current: Question) -> _Work | None:
    """What the attempt's answers score with ``current`` instead of the earlier definitions."""
    rows = {a.position: a for a in attempt.answers}
    work = _Work(attempt, [])
    total, counted = 0.0, 0
    for position, entry in enumerate(attempt.questions):
        question = Question.from_dict(entry["question"])
        if question.key() in keys:
            work.positions.append(position)
            question = current
        if question.kind in UNSCORED:
            continue
        counted += 1
        row = rows.get(position)
        if row is None:
            continue
        fraction = row.fraction or 0.0
        if position in work.positions:
            try:
                fraction = grade(current, row.response).fraction or 0.0
            except ResponseError:
                fraction = 0.0  # as when the attempt was scored
            work.fractions[position] = fraction
        total += fraction
    if not work.positions:
        return None
    work.score = total / counted if counted else 0.0
    return work


def plan(target: Target, *, lock: bool = False) -> Plan:
    """The dry run: every finished attempt given a compatible earlier definition, re-scored."""
    current = target.current.question
    counts = _answer_counts(target, [d.key for d in target.earlier])
    earlier = [
        EarlierDefinition(
            d,
            counts.get(d.key, 0),
            "this question is not scored automatically"
            if current.kind in UNSCORED
            else incompatibility(d.question, current),
        )
        for d in target.earlier
    ]
    result = Plan(target, earlier, [])
    keys = {e.definition.key for e in earlier if e.compatible and e.answers}
    if result.refusal or not keys:
        return result
    answered = select(AttemptAnswer.attempt_id).where(AttemptAnswer.question_key.in_(keys))
    stmt = (
        select(QuizAttempt, User.full_name)
        .join(User, User.id == QuizAttempt.user_id)
        .where(
            QuizAttempt.module_version_id.in_(target.mq.version_ids),
            QuizAttempt.status != AttemptStatus.IN_PROGRESS,
            QuizAttempt.id.in_(answered),
        )
        .options(selectinload(QuizAttempt.answers))
        .order_by(User.full_name, User.id, QuizAttempt.number, QuizAttempt.id)
    )
    if lock:
        # Two admins applying at once: the second waits, then finds the attempts regraded.
        stmt = stmt.with_for_update(of=QuizAttempt).execution_options(populate_existing=True)
    for attempt, name in db.session.execute(stmt):
        work = _rescore(attempt, keys, current)
        if work is None:
            continue
        rows = {a.position: a for a in attempt.answers}
        new_score = work.score
        result._work[attempt.id] = work
        result.rescored.append(
            AttemptChange(
                attempt_id=attempt.id,
                user_id=attempt.user_id,
                learner=name,
                number=attempt.number,
                old_score=attempt.score or 0.0,
                new_score=new_score,
                old_passed=bool(attempt.passed),
                new_passed=new_score * 100 >= attempt.pass_mark - SAME,
                fractions=tuple(
                    (p, rows[p].fraction, new) for p, new in sorted(work.fractions.items())
                ),
            )
        )
    return result


def apply(target: Target, admin: User, *, fingerprint: str | None = None) -> Plan:
    """Carry out the dry run in the caller's transaction (the view commits once).

    Raises RegradeError when the question cannot be regraded or, given the ``fingerprint``
    the admin confirmed, when the list changed since. Returns the plan that was applied
    (``rescored`` is empty when there was nothing left to do).
    """
    result = plan(target, lock=True)
    if result.refusal:
        raise RegradeError(result.refusal)
    if fingerprint is not None and fingerprint != result.fingerprint:
        raise PlanChanged(
            "The list of attempts changed since you looked at it (someone submitted a quiz or "
            "regraded it already). Check the new list below and confirm again."
        )
    if not result.rescored:
        return result
    current = target.current
    for work in result._work.values():
        attempt = work.attempt
        questions = list(attempt.questions)
        for position in work.positions:
            questions[position] = {**questions[position], "question": current.data}
        attempt.questions = questions
        for row in attempt.answers:
            if row.position in work.positions:
                row.question_key = current.key
                if row.position in work.fractions:
                    row.fraction = work.fractions[row.position]
    for change in result.rescored:
        attempt = result._work[change.attempt_id].attempt
        attempt.score = change.new_score
        attempt.passed = change.new_passed
    db.session.flush()
    _recompute_best_scores(result)
    for change in result.changes:
        audit.record(
            "quiz.regraded",
            result._work[change.attempt_id].attempt,
            actor=admin,
            course=target.course.slug,
            module=target.module.slug,
            question=target.identity,
            number=change.number,
            user_id=change.user_id,
            old_score=round(change.old_score * 100, 1),
            new_score=round(change.new_score * 100, 1),
            old_passed=change.old_passed,
            new_passed=change.new_passed,
        )
    for change in result.changes:
        if change.newly_passed:
            _credit_pass(result, change)
    audit.record(
        "quiz.regrade_applied",
        target.module,
        actor=admin,
        course=target.course.slug,
        module=target.module.slug,
        question=target.identity,
        question_key=current.key,
        earlier_keys=sorted({e.definition.key for e in result.earlier if e.compatible}),
        attempts_rescored=len(result.rescored),
        attempts_changed=len(result.changes),
        learners=result.learners,
        newly_passed=sum(1 for c in result.changes if c.newly_passed),
        newly_failed=sum(1 for c in result.changes if c.newly_failed),
    )
    _notify(result)
    db.session.flush()
    return result


def _recompute_best_scores(result: Plan) -> None:
    """ModuleProgress.best_score = the best finished attempt, for every pair touched."""
    pairs = {(w.attempt.user_id, w.attempt.module_version_id) for w in result._work.values()}
    users = sorted({u for u, _ in pairs})
    modules = sorted({m for _, m in pairs})
    best = {
        (user_id, module_id): score
        for user_id, module_id, score in db.session.execute(
            select(QuizAttempt.user_id, QuizAttempt.module_version_id, func.max(QuizAttempt.score))
            .where(
                QuizAttempt.user_id.in_(users),
                QuizAttempt.module_version_id.in_(modules),
                QuizAttempt.status != AttemptStatus.IN_PROGRESS,
            )
            .group_by(QuizAttempt.user_id, QuizAttempt.module_version_id)
        )
    }
    for progress in db.session.scalars(
        select(ModuleProgress).where(
            ModuleProgress.user_id.in_(users), ModuleProgress.module_version_id.in_(modules)
        )
    ):
        pair = (progress.user_id, progress.module_version_id)
        if pair in pairs and pair in best:
            progress.best_score = best[pair]


def _module_keys(module: ModuleVersion) -> list[str]:
    return [Question.from_dict(data).key() for data in module.questions]


def _same_after_fix(old: ModuleVersion, new: ModuleVersion, replaced: dict[str, str]) -> bool:
    """The two module versions differ only by the regraded question's definition."""
    return (
        old.title == new.title
        and old.lesson_markdown == new.lesson_markdown
        and old.quiz_settings == new.quiz_settings
        and [replaced.get(k, k) for k in _module_keys(old)] == _module_keys(new)
    )


def _credit_pass(result: Plan, change: AttemptChange) -> None:
    """A failed attempt now passes: the module completes through the usual progress path.

    The fix made a new module version, and learners still working were moved to it. When
    that version differs from the attempt's only by this question, the pass counts there too
    (lesson included: its text is the same), so the course can complete and the certificate
    be issued as usual.
    """
    attempt = result._work[change.attempt_id].attempt
    enrollment = db.session.get(Enrollment, attempt.enrollment_id)
    module = db.session.get(ModuleVersion, attempt.module_version_id)
    if enrollment is None or module is None:
        return
    progress = db.session.scalar(
        select(ModuleProgress).where(
            ModuleProgress.user_id == attempt.user_id,
            ModuleProgress.module_version_id == module.id,
        )
    )
    if progress is None or progress.quiz_passed_at is None:
        services.record_quiz_result(enrollment, module, change.new_score, True)
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return
    try:
        state = services.module_state(enrollment, module.slug)
    except LookupError:
        return  # the module is no longer part of the learner's version of the course
    replaced = {e.definition.key: result.target.current.key for e in result.earlier if e.compatible}
    if state.module.id == module.id or state.quiz_passed or not state.unlocked:
        return
    current = db.session.get(ModuleVersion, state.module.id)  # with its lesson and questions
    if current is None or not _same_after_fix(module, current, replaced):
        return
    if not state.lesson_done:
        services.complete_lesson(enrollment, state)
    services.record_quiz_result(enrollment, state.module, change.new_score, True)


def _notify(result: Plan) -> None:
    """One e-mail per learner whose score changed: the module, old and new scores, nothing else."""
    by_user: dict[int, list[AttemptChange]] = defaultdict(list)
    for change in result.changes:
        by_user[change.user_id].append(change)
    if not by_user:
        return
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(by_user)))}
    module = result.target.module
    course = result.target.course
    for user_id, changes in by_user.items():
        user = users[user_id]
        send_email(
            user.email,
            f"Your quiz score for {module.title} was corrected",
            "quiz_regraded",
            reason="A quiz you took on the Partner LMS was regraded after a correction.",
            user=user,
            module_title=module.title,
            course_title=course.title,
            changes=[_mail_line(c) for c in changes],
            link=external_url("training.course", slug=course.slug),
        )


def _mail_line(change: AttemptChange) -> dict[str, Any]:
    return {
        "number": change.number,
        "old": score_text(change.old_score),
        "new": score_text(change.new_score),
        "old_passed": change.old_passed,
        "new_passed": change.new_passed,
    }
