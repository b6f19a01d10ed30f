"""The expiry watch with a frozen clock: reminders 90, 30 and 7 days ahead (each once), expiry
on the date itself, and validity that does not wait for the job."""

from __future__ import annotations

from datetime import date, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from lms.audit import AuditEvent
from lms.extensions import db
from lms.licensure import services
from lms.licensure.data import LicenseType
from lms.licensure.demo import tiny_pdf
from lms.licensure.documents import Upload
from lms.licensure.models import License, RecordStatus
from lms.licensure.tasks import expiry_watch_job, run_expiry_watch

START = date(2027, 1, 4)
EXPIRES = date(2027, 6, 30)


def verified_license(user, admin) -> License:
    with freeze_time(START):
        lic = services.add_license(
            user,
            {
                "license_type": LicenseType.LPC,
                "state": "TX",
                "number": "LPC-1",
                "issued_on": date(2024, 1, 1),
                "expires_on": EXPIRES,
                "npi": None,
            },
            [Upload("l.pdf", tiny_pdf(), "application/pdf")],
        )
        services.decide(lic, admin, "verify", revision=1, method="Board website")
        db.session.commit()
    return lic


def reminder_days(lic: License) -> list[int]:
    return [
        e.details["days_before"]
        for e in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "license.expiry_reminder")
            .where(AuditEvent.object_id == str(lic.id))
            .order_by(AuditEvent.id)
        )
    ]


def run_on(day: date) -> dict[str, int]:
    with freeze_time(day):
        return run_expiry_watch()


def test_each_reminder_is_sent_once_then_the_license_expires(make_user, mail) -> None:
    user, admin = make_user("therapist"), make_user("admin")
    lic = verified_license(user, admin)
    mail.clear()
    day = START
    while day <= EXPIRES + timedelta(days=3):
        run_on(day)
        run_on(day)  # a second run the same day sends nothing more
        day += timedelta(days=1)
    assert reminder_days(lic) == [90, 30, 7]
    subjects = [m.subject for m in mail]
    assert subjects == [
        "Renewal reminder: expires in 90 days",
        "Renewal reminder: expires in 30 days",
        "Renewal reminder: expires in 7 days",
        "Expired: LPC/LPCC license LPC-1 in Texas",
    ]
    assert lic.status == RecordStatus.EXPIRED
    expired = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "license.expired")
    ).all()
    assert len(expired) == 1 and expired[0].actor_id is None


def test_a_late_job_sends_only_the_most_urgent_reminder(make_user, mail) -> None:
    lic = verified_license(make_user("therapist"), make_user("admin"))
    mail.clear()
    assert run_on(EXPIRES - timedelta(days=5)) == {"reminded": 1, "expired": 0}
    assert reminder_days(lic) == [7]


def test_renewal_resets_the_reminders(make_user, mail) -> None:
    user = make_user("therapist")
    lic = verified_license(user, make_user("admin"))
    run_on(EXPIRES - timedelta(days=20))
    assert lic.reminded_days == 30
    with freeze_time(EXPIRES - timedelta(days=10)):
        values = {f: getattr(lic, f) for f in services.LICENSE_FIELDS}
        values["expires_on"] = date(2029, 6, 30)
        assert services.update_record(lic, user, values, [])
        db.session.commit()
    assert lic.reminded_days is None and lic.status == RecordStatus.PENDING


def test_an_expired_license_is_invalid_from_its_date_even_before_the_job_runs(make_user) -> None:
    user = make_user("therapist")
    lic = verified_license(user, make_user("admin"))
    assert services.holds_verified_license(user, "tx", on=EXPIRES - timedelta(days=1))
    assert not services.holds_verified_license(user, "TX", on=EXPIRES)
    assert lic.status == RecordStatus.VERIFIED  # the job has not run
    with freeze_time(EXPIRES):
        assert not services.holds_verified_license(user, "TX")
        assert services.verified_license_states(user) == []
    with freeze_time(EXPIRES - timedelta(days=1)):
        assert services.verified_license_states(user) == ["TX"]


def test_the_periodic_job_is_registered_daily() -> None:
    from datetime import datetime

    from lms.jobs import huey

    assert expiry_watch_job.task_class in huey._registry._periodic_tasks
    validate = expiry_watch_job.task_class().validate_datetime
    assert validate(datetime(2027, 3, 1, 6, 15))
    assert not validate(datetime(2027, 3, 1, 6, 16))
    assert not validate(datetime(2027, 3, 1, 7, 15))
