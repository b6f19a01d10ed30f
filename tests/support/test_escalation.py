"""The escalation ladder with a frozen clock: each step once, repeats, catch-up after an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lms.extensions import db
from lms.support import escalation, notifications, services, tasks
from lms.support.models import (
    AlertKind,
    EventKind,
    Status,
    Step,
    SupportAlert,
    SupportEvent,
    SupportNotification,
    SupportRequest,
)
from tests.support.conftest import audit_count, leaks_clinical_details

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ledger(request: SupportRequest) -> list[tuple[str, int]]:
    return [
        (row.step.value, row.sequence)
        for row in db.session.scalars(
            select(SupportNotification)
            .where(SupportNotification.request_id == request.id)
            .order_by(SupportNotification.id)
        )
    ]


@pytest.fixture
def staff(make_user, on_call):
    """Two on-call clinicians, one off call, and an admin (the default escalation contact)."""
    return {
        "on1": on_call(make_user("clinician", email="on1@example.org")),
        "on2": on_call(make_user("clinician", email="on2@example.org")),
        "off": make_user("clinician", email="off@example.org"),
        "admin": make_user("admin", email="admin@example.org"),
    }


def test_each_step_fires_once_at_its_time(make_certified, make_request, staff, mail) -> None:
    request = make_request(make_certified(), now=T0, urgency="urgent")  # due at +15
    assert ledger(request) == [("filed", 0)]
    assert sorted(m.to for m in mail) == ["on1@example.org", "on2@example.org"]
    mail.clear()

    tasks.run_escalations(at(7))
    assert ledger(request) == [("filed", 0)] and mail == []

    tasks.run_escalations(at(7.5))  # half the target, still unclaimed
    assert ledger(request) == [("filed", 0), ("half", 0)]
    assert sorted(m.to for m in mail) == ["on1@example.org", "on2@example.org"]
    assert all("Still unclaimed" in m.subject for m in mail)
    mail.clear()
    for minute in (8, 9, 14.9):
        tasks.run_escalations(at(minute))
    assert mail == [] and len(ledger(request)) == 2

    tasks.run_escalations(at(15))  # the target: escalation contacts (default: the admins)
    assert ledger(request)[-1] == ("breach", 0)
    assert [m.to for m in mail] == ["admin@example.org"]
    assert "Overdue" in mail[0].subject
    assert leaks_clinical_details(mail[0].text + mail[0].html) == []
    db.session.expire_all()
    assert db.session.get(SupportRequest, request.id).breached_at == at(15)
    mail.clear()
    for minute in (16, 20, 24.99):
        tasks.run_escalations(at(minute))
    assert mail == []

    tasks.run_escalations(at(25))  # repeated every 10 minutes
    tasks.run_escalations(at(25.5))
    assert ledger(request)[-1] == ("breach", 1) and len(mail) == 1
    assert "reminder 1" in mail[0].text
    assert len(ledger(request)) == 4
    assert audit_count("support.renotified", request.id) == 1
    assert audit_count("support.escalated", request.id) == 2
    internal = db.session.scalars(
        select(SupportEvent).where(
            SupportEvent.request_id == request.id, SupportEvent.kind == EventKind.NOTIFIED
        )
    ).all()
    assert len(internal) == 4 and all(e.internal for e in internal)


def test_a_claimed_request_without_a_reply_escalates_until_the_reply(
    make_certified, make_request, staff, mail
) -> None:
    request = make_request(make_certified(), now=T0, urgency="urgent")
    services.claim(request.id, staff["on1"].id, now=at(3))
    db.session.commit()
    mail.clear()
    tasks.run_escalations(at(10))
    assert ledger(request) == [("filed", 0)]  # claimed before half: no re-notification
    tasks.run_escalations(at(15))
    assert ledger(request)[-1] == ("breach", 0)
    # The contacts and the clinician who claimed it.
    assert sorted(m.to for m in mail) == ["admin@example.org", "on1@example.org"]
    assert all("claimed it but has not replied" in m.text for m in mail)
    tasks.run_escalations(at(25))
    assert ledger(request)[-1] == ("breach", 1)
    services.reply(request, staff["on1"], "Calling you now.", now=at(26))
    db.session.commit()
    mail.clear()
    for minute in (35, 45, 120):
        tasks.run_escalations(at(minute))
    assert mail == [] and ledger(request)[-1] == ("breach", 1)
    db.session.expire_all()
    assert db.session.get(SupportRequest, request.id).met_target is False


def test_claiming_after_the_target_does_not_stop_it_replying_does(
    make_certified, make_request, staff, mail
) -> None:
    request = make_request(make_certified(), now=T0, urgency="urgent")
    tasks.run_escalations(at(16))
    services.claim(request.id, staff["on2"].id, now=at(17))
    db.session.commit()
    tasks.run_escalations(at(26))
    assert ledger(request)[-1] == ("breach", 1)
    services.reply(request, staff["on2"], "Here.", now=at(27))
    db.session.commit()
    assert escalation.candidates() == []


def test_missed_notifications_are_sent_after_a_worker_outage(
    make_certified, make_request, staff, mail
) -> None:
    request = make_request(make_certified(), now=T0, urgency="urgent")
    mail.clear()
    # The worker was down from T0 to T0+62: the next run sends the re-notification and
    # the escalation it missed (of the repeats, only the one due now), once.
    counts = tasks.run_escalations(at(62))
    assert counts == {"requests": 1, "sent": 2, "failed": 0}
    assert ledger(request) == [("filed", 0), ("half", 0), ("breach", 4)]
    assert sorted(m.to for m in mail) == [
        "admin@example.org",
        "on1@example.org",
        "on2@example.org",
    ]
    notified = db.session.scalars(
        select(SupportEvent.body).where(
            SupportEvent.request_id == request.id, SupportEvent.kind == EventKind.NOTIFIED
        )
    ).all()
    assert sum("Sent late" in body for body in notified) == 2
    mail.clear()
    tasks.run_escalations(at(63))
    assert mail == []
    tasks.run_escalations(at(65))
    assert ledger(request)[-1] == ("breach", 5) and len(mail) == 1


def test_a_request_whose_filing_notice_is_missing_gets_it(
    make_certified, make_request, staff, mail
) -> None:
    """A request saved without its first notice (not by the filing service) is not silent."""
    therapist = make_certified()
    row = SupportRequest(
        therapist_id=therapist.id,
        category="other",
        urgency="routine",
        subject="Imported",
        description="x",
        callback_phone="303-555-0100",
        status=Status.OPEN,
        target_minutes=1440,
        filed_at=T0,
        due_at=T0 + timedelta(days=1),
        updated_at=T0,
    )
    db.session.add(row)
    db.session.commit()
    tasks.run_escalations(at(1))
    assert ledger(row) == [("filed", 0)]
    assert sorted(m.to for m in mail) == ["on1@example.org", "on2@example.org"]


def test_escalation_contacts_are_configurable(
    app, make_certified, make_request, make_user, mail, monkeypatch
) -> None:
    director = make_user("clinician", email="director@example.org")
    make_user("admin", email="ops-admin@example.org")
    monkeypatch.setitem(
        app.config,
        "SUPPORT_ESCALATION_CONTACTS",
        ["Director@example.org", "pager@example.net"],
    )
    make_request(make_certified(), now=T0, urgency="high")
    mail.clear()
    tasks.run_escalations(at(120))
    breach = [m.to for m in mail if "Overdue" in m.subject]
    assert sorted(breach) == ["director@example.org", "pager@example.net"]
    alerts = db.session.scalars(
        select(SupportAlert).where(SupportAlert.kind == AlertKind.ESCALATION)
    ).all()
    assert [a.user_id for a in alerts] == [director.id]  # the address without an account: e-mail


def test_a_step_is_sent_once_even_if_two_workers_try(
    make_certified, make_request, staff, mail
) -> None:
    request = make_request(make_certified(), now=T0, urgency="urgent")
    mail.clear()
    first = notifications.send_step(request, Step.HALF, 0, due_at=at(7.5), now=at(8))
    # A second worker that read the ledger before the first committed tries the same step.
    second = notifications.send_step(request, Step.HALF, 0, due_at=at(7.5), now=at(8))
    db.session.commit()
    assert first is not None and second is None
    assert len(mail) == 2  # one per on-call clinician, not two
    assert ledger(request) == [("filed", 0), ("half", 0)]


def test_one_failing_request_does_not_hold_back_the_others(
    make_certified, make_request, staff, mail, monkeypatch
) -> None:
    therapist = make_certified()
    broken = make_request(therapist, now=T0, urgency="urgent")
    fine = make_request(therapist, now=T0, urgency="urgent")
    real = escalation.escalate

    def escalate(request_id, now):
        if request_id == broken.id:
            raise RuntimeError("boom")
        return real(request_id, now)

    monkeypatch.setattr(escalation, "escalate", escalate)
    counts = tasks.run_escalations(at(16))
    assert counts["failed"] == 1 and counts["sent"] == 2
    assert ledger(fine)[-1] == ("breach", 0)
    assert ledger(broken) == [("filed", 0)]


def test_the_job_is_scheduled_every_minute() -> None:
    task = tasks.escalation_job.task_class()
    for hour, minute in ((0, 0), (3, 7), (13, 59), (23, 30)):
        assert task.validate_datetime(datetime(2026, 11, 27, hour, minute))  # noqa: DTZ001


def test_the_ladder_history_is_append_only(make_certified, make_request, staff) -> None:
    from sqlalchemy import text

    from lms.support.models import SupportHistoryIsAppendOnly

    request = make_request(make_certified(), now=T0)
    event = db.session.scalars(
        select(SupportEvent).where(SupportEvent.request_id == request.id)
    ).first()
    event.body = "rewritten"
    with pytest.raises(SupportHistoryIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    row = db.session.scalars(select(SupportNotification)).first()
    db.session.delete(row)
    with pytest.raises(SupportHistoryIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    # The database refuses too, whatever the code does.
    for statement in (
        "UPDATE support_events SET body = 'x'",
        "DELETE FROM support_events",
        "DELETE FROM support_notifications",
    ):
        with pytest.raises(Exception, match="append-only"), db.session.begin_nested():
            db.session.execute(text(statement))


def test_the_ladder_runs_on_real_time_across_the_dst_change(
    make_certified, make_request, staff, mail
) -> None:
    from zoneinfo import ZoneInfo

    filed = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))  # EDT
    request = make_request(make_certified(), now=filed.astimezone(UTC), urgency="routine")
    notice = next(m for m in mail if m.to == "on1@example.org")
    assert "respond by Nov 2, 2026 12:30 AM EST" in notice.subject  # 24 h later, 23 on the wall
    mail.clear()
    start = filed.astimezone(UTC)
    tasks.run_escalations(start + timedelta(hours=11, minutes=59))
    assert ledger(request) == [("filed", 0)]
    tasks.run_escalations(start + timedelta(hours=12))  # half of 24 real hours
    assert ledger(request)[-1] == ("half", 0)
    tasks.run_escalations(datetime(2026, 11, 2, 5, 29, tzinfo=UTC))
    assert ledger(request)[-1] == ("half", 0)
    tasks.run_escalations(datetime(2026, 11, 2, 5, 30, tzinfo=UTC))  # 00:30 EST
    assert ledger(request)[-1] == ("breach", 0)
