"""Scheduled jobs of the support queue: the escalation ladder, every minute."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from huey import crontab

from lms.db import utcnow
from lms.extensions import db
from lms.jobs import periodic_job
from lms.support import escalation


def run_escalations(now: datetime | None = None) -> dict[str, int]:
    """One run of the ladder: each request in its own transaction, so one failure
    (logged) cannot hold back the notifications of the others. Safe to repeat."""
    now = now or utcnow()
    counts = {"requests": 0, "sent": 0, "failed": 0}
    ids = escalation.candidates()
    db.session.commit()
    for request_id in ids:
        counts["requests"] += 1
        try:
            counts["sent"] += len(escalation.escalate(request_id, now))
            db.session.commit()
        except Exception:
            db.session.rollback()
            counts["failed"] += 1
            current_app.logger.exception("support escalation failed for request %s", request_id)
    return counts


# Every minute. A run missed while the worker was down is made up by the next one: the
# ladder is worked out from the requests and the ledger, not from the schedule.
escalation_job = periodic_job(crontab(minute="*"))(run_escalations)
