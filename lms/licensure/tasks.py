"""The daily expiry watch: reminders 90, 30 and 7 days ahead; expiry on the date itself."""

from __future__ import annotations

from datetime import date

from huey import crontab

from lms.extensions import db
from lms.jobs import periodic_job
from lms.licensure.services import watch_expiry


def run_expiry_watch(day: date | None = None) -> dict[str, int]:
    """One run of the watch, committed; safe to repeat (each reminder is sent once)."""
    counts = watch_expiry(day)
    db.session.commit()
    return counts


# Every day at 06:15 UTC (before the working day in every US time zone).
expiry_watch_job = periodic_job(crontab(minute="15", hour="6"))(run_expiry_watch)
