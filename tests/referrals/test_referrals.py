"""Referrals: the licensed-in-state rule, ownership, the clinicians' pipeline, e-mails, audit."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.extensions import db
from lms.referrals.models import EventKind, Referral, ReferralEvent, ReferralStatus
from tests.referrals.conftest import CONCERN_TEXT, MEDICATION

FORM = {
    "patient_name": "Jane Q Doe",
    "date_of_birth": "1985-04-02",
    "email": "jane.patient@example.net",
    "phone": "303-555-0100",
    "state": "CO",
    "primary_concern": "generalized_anxiety",
    "prior_treatments": "CBT for two years",
    "current_medications": MEDICATION,
    "gad7": "15",
    "phq9": "",
    "consent": "y",
}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_therapist_refers_a_patient_in_a_licensed_state(client, make_certified, login) -> None:
    user = make_certified()  # verified license in CO
    login(user)
    assert client.get("/referrals/new").status_code == 200
    response = client.post("/referrals/new", data=FORM)
    assert response.status_code == 302
    referral = db.session.scalars(select(Referral)).one()
    assert referral.therapist_id == user.id
    assert referral.status == ReferralStatus.NEW
    assert referral.gad7 == 15 and referral.phq9 is None
    assert response.headers["Location"].endswith(f"/referrals/{referral.id}")
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "Status history" in page and "New" in page
    assert "Jane Q Doe" in client.get("/referrals").get_data(as_text=True)


def test_another_state_is_refused_and_nothing_is_saved(client, make_certified, login, mail) -> None:
    login(make_certified())
    response = client.post("/referrals/new", data={**FORM, "state": "TX"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "You do not hold a verified license in Texas" in page
    assert "Nothing was sent." in page
    assert _count(Referral) == 0 and _count(ReferralEvent) == 0
    assert mail == []


def test_consent_is_required(client, make_certified, login) -> None:
    login(make_certified())
    data = {k: v for k, v in FORM.items() if k != "consent"}
    assert client.post("/referrals/new", data=data).status_code == 422
    assert _count(Referral) == 0


def test_an_uncertified_therapist_is_redirected(client, make_certified, login) -> None:
    login(make_certified(skip=("insurance",)))
    for url in ("/referrals", "/referrals/new", "/referrals/1"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/dashboard#certification"), url
    assert client.post("/referrals/new", data=FORM).status_code == 302
    assert _count(Referral) == 0


def test_a_therapist_never_sees_anothers_referral(
    client, make_certified, make_referral, login
) -> None:
    owner, other = make_certified(), make_certified()
    referral = make_referral(owner)
    login(other)
    assert client.get(f"/referrals/{referral.id}").status_code == 404
    assert client.get(f"/referrals/{referral.id + 1000}").status_code == 404
    assert "Jane Q Doe" not in client.get("/referrals").get_data(as_text=True)
    for url in (
        f"/clinical/referrals/{referral.id}",
        "/clinical/referrals",
    ):
        assert client.get(url).status_code == 403
    assert client.post(f"/clinical/referrals/{referral.id}/status", data={}).status_code == 403
    assert client.post(f"/clinical/referrals/{referral.id}/notes", data={}).status_code == 403


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_staff_do_not_use_the_therapist_pages(client, make_user, login, role) -> None:
    login(make_user(role))
    assert client.get("/referrals").status_code == 403
    assert client.get("/referrals/1").status_code == 403


def test_the_pipeline_moves_along_and_emails_the_therapist(
    client, make_certified, make_referral, make_user, login, mail
) -> None:
    therapist = make_certified()
    referral = make_referral(therapist)
    login(make_user("clinician"))
    url = f"/clinical/referrals/{referral.id}/status"
    for status in ("contacted", "intake_scheduled", "eligible"):
        response = client.post(url, data={"status": status})
        assert response.status_code == 302, status
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == ReferralStatus.ELIGIBLE
    to_therapist = [m for m in mail if m.to == therapist.email]
    assert len(to_therapist) == 3
    assert "Eligible" in to_therapist[-1].subject
    welcome = [m for m in mail if m.to == "jane.patient@example.net"]
    assert len(welcome) == 1
    assert "medical intake" in welcome[0].text
    for message in mail:
        for body in (message.subject, message.text, message.html):
            assert CONCERN_TEXT.lower() not in body.lower()
            assert "anxiety" not in body.lower()
            assert MEDICATION.lower() not in body.lower()
            assert "sertraline" not in body.lower()
            assert "CBT" not in body
    statuses = db.session.scalars(
        select(ReferralEvent.to_status)
        .where(ReferralEvent.referral_id == referral.id, ReferralEvent.kind == EventKind.STATUS)
        .order_by(ReferralEvent.id)
    ).all()
    assert statuses == ["new", "contacted", "intake_scheduled", "eligible"]
    # The therapist follows the status.
    client.post("/logout")
    login(therapist)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "Intake scheduled" in page and "Eligible" in page


def test_an_invalid_transition_is_refused(
    client, make_certified, make_referral, make_user, login, mail
) -> None:
    referral = make_referral(make_certified())
    login(make_user("clinician"))
    response = client.post(f"/clinical/referrals/{referral.id}/status", data={"status": "eligible"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == ReferralStatus.NEW
    assert mail == []


def test_the_service_refuses_invalid_transitions(make_certified, make_referral, make_user) -> None:
    from lms.referrals import services

    referral = make_referral(make_certified())
    clinician = make_user("clinician")
    with pytest.raises(services.ReferralError):
        services.change_status(referral, "intake_scheduled", clinician)
    services.change_status(referral, "withdrawn", clinician)
    with pytest.raises(services.ReferralError):
        services.change_status(referral, "contacted", clinician)


def test_not_eligible_needs_a_reason(
    client, make_certified, make_referral, make_user, login, mail
) -> None:
    therapist = make_certified()
    referral = make_referral(therapist)
    login(make_user("clinician"))
    url = f"/clinical/referrals/{referral.id}/status"
    response = client.post(url, data={"status": "not_eligible", "reason": "  "})
    assert response.status_code == 422
    assert "Give the reason" in response.get_data(as_text=True)
    assert mail == []
    reason = "Uncontrolled hypertension"
    assert client.post(url, data={"status": "not_eligible", "reason": reason}).status_code == 302
    db.session.expire_all()
    row = db.session.get(Referral, referral.id)
    assert row.status == ReferralStatus.NOT_ELIGIBLE and row.status_reason == reason
    assert [m.to for m in mail] == [therapist.email]  # no welcome
    assert reason.lower() not in mail[0].text.lower() + mail[0].html.lower()


def test_notes_and_the_audit_row_on_each_staff_view(
    client, make_certified, make_referral, make_user, login
) -> None:
    referral = make_referral(make_certified())
    clinician = make_user("clinician")
    login(clinician)

    def viewed() -> int:
        return db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "referral.viewed",
                AuditEvent.object_id == str(referral.id),
                AuditEvent.actor_id == clinician.id,
            )
        )

    assert viewed() == 0
    page = client.get(f"/clinical/referrals/{referral.id}")
    assert page.status_code == 200 and MEDICATION in page.get_data(as_text=True)
    assert viewed() == 1
    client.get(f"/clinical/referrals/{referral.id}")
    assert viewed() == 2
    response = client.post(
        f"/clinical/referrals/{referral.id}/notes", data={"body": "Left a voicemail."}
    )
    assert response.status_code == 302
    assert "Left a voicemail." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert viewed() == 3
    # Notes are the clinicians' own: the therapist's page shows the status history only.
    assert client.get(f"/clinical/referrals/{referral.id + 1000}").status_code == 404


def test_the_pipeline_list_filters_and_paginates(
    client, make_certified, make_referral, make_user, login
) -> None:
    from lms.referrals import services

    therapist = make_certified()
    clinician = make_user("clinician")
    first = make_referral(therapist, patient_name="Alpha Patient")
    make_referral(therapist, patient_name="Beta Patient")
    services.change_status(first, "contacted", clinician)
    db.session.commit()
    login(clinician)
    page = client.get("/clinical/referrals").get_data(as_text=True)
    assert "Alpha Patient" in page and "Beta Patient" in page
    assert 'href="/clinical/referrals"' in client.get("/dashboard").get_data(as_text=True)
    page = client.get("/clinical/referrals?status=contacted").get_data(as_text=True)
    assert "Alpha Patient" in page and "Beta Patient" not in page
    assert client.get("/clinical/referrals?page=99").status_code == 200


def test_the_tools_hub_links_to_referrals(client, make_certified, login) -> None:
    login(make_certified())
    page = client.get("/tools").get_data(as_text=True)
    assert 'href="/referrals"' in page and 'href="/referrals/new"' in page


def test_history_is_append_only(make_certified, make_referral) -> None:
    from lms.referrals.models import ReferralHistoryIsAppendOnly

    referral = make_referral(make_certified())
    event = referral.events[0]
    event.body = "changed"
    with pytest.raises(ReferralHistoryIsAppendOnly):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(
    ("zone", "now", "born", "accepted"),
    [
        # 20:00 UTC on March 1 is already March 2 in Tokyo: born March 1 is yesterday there.
        ("Asia/Tokyo", "2026-03-01T20:00:00Z", "2026-03-01", True),
        ("Asia/Tokyo", "2026-03-01T20:00:00Z", "2026-03-02", False),
        # 03:00 UTC on March 1 is still February 28 in Los Angeles: born that day is today.
        ("America/Los_Angeles", "2026-03-01T03:00:00Z", "2026-02-28", False),
        ("America/Los_Angeles", "2026-03-01T03:00:00Z", "2026-02-27", True),
    ],
)
def test_a_date_of_birth_must_be_before_today_where_the_therapist_is(
    client, make_certified, login, zone, now, born, accepted
) -> None:
    with freeze_time(now):
        user = make_certified()
        user.timezone = zone
        db.session.commit()
        login(user)
        response = client.post("/referrals/new", data={**FORM, "date_of_birth": born})
    page = response.get_data(as_text=True)
    if accepted:
        assert response.status_code == 302, page[:500]
        assert _count(Referral) == 1
    else:
        assert response.status_code in (200, 422) and "Enter a valid date of birth." in page
        assert _count(Referral) == 0
