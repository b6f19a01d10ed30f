"""Scheduled training jobs."""

from __future__ import annotations

from huey import crontab
from sqlalchemy import select

from lms.db import utcnow
from lms.extensions import db
from lms.jobs import periodic_job
from lms.training.models import AttemptStatus, QuizAttempt
from lms.training.quiz import expire_if_due


def score_expired_attempts() -> int:
    """Score every attempt whose time limit has passed, with the answers saved by then.

    Attempts are also scored when the learner comes back; this makes sure results
    (and progress) are settled even for a learner who never returns.
    """
    due = db.session.scalars(
        select(QuizAttempt).where(
            QuizAttempt.status == AttemptStatus.IN_PROGRESS,
            QuizAttempt.deadline_at.is_not(None),
            QuizAttempt.deadline_at <= utcnow(),
        )
    ).all()
    for attempt in due:
        expire_if_due(attempt)
    db.session.commit()
    return len(due)


score_expired_attempts_job = periodic_job(crontab(minute="*/5"))(score_expired_attempts)
