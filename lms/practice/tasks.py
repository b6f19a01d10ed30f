"""Scheduled job: close match offers that are past their time, and tell the clinicians."""

from __future__ import annotations

from datetime import datetime

from huey import crontab

from lms.db import utcnow
from lms.extensions import db
from lms.jobs import periodic_job
from lms.practice.services import expire_due


def run_offer_expiry(now: datetime | None = None) -> int:
    """One run, committed; safe to repeat (an offer is closed, and its clinician told, once).

    Reads and actions enforce expiry too, so a late or missed run never lets anyone accept
    an expired offer: this job only makes sure the clinician hears of it in good time.
    """
    closed = expire_due(now or utcnow())
    db.session.commit()
    return closed


# Every five minutes.
offer_expiry_job = periodic_job(crontab(minute="*/5"))(run_offer_expiry)
