"""Filing: certified therapists only, the 911 banner, targets, patient links, notifications."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lms.extensions import db
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
from tests.support.conftest import (
    DESCRIPTION,
    PHONE,
    SUBJECT,
    audit_count,
    leaks_clinical_details,
)

FORM = {
    "category": "acute_dosing",
    "urgency": "urgent",
    "referral_id": "",
    "subject": SUBJECT,
    "description": DESCRIPTION,
    "callback_phone": PHONE,
}
BANNER = "In a life-threatening emergency, call 911 first."


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_certified_therapist_files_and_sees_the_due_time(
    client, make_certified, make_user, login, mail
) -> None:
    make_user("clinician")
    therapist = make_certified()
    login(therapist)
    page = client.get("/support/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert BANNER in html
    assert "Urgent: a clinician responds within 15 minutes" in html
    assert "High: a clinician responds within 2 hours" in html
    assert "Routine: a clinician responds within 24 hours" in html
    response = client.post("/support/new", data=FORM)
    assert response.status_code == 302
    request = db.session.scalars(select(SupportRequest)).one()
    assert response.headers["Location"].endswith(f"/support/{request.id}")
    assert request.therapist_id == therapist.id
    assert request.status == Status.OPEN and request.claimed_by_id is None
    assert request.target_minutes == 15
    assert (request.due_at - request.filed_at).total_seconds() == 15 * 60
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    # The confirmation names the due time on the therapist's clock (New York).
    due = request.due_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    due_text = f"{due:%b %-d, %Y %-I:%M %p} {due.tzname()}"
    assert f"A clinician will respond by {due_text}" in detail
    assert f"Request #{request.id} filed. A clinician will respond by {due_text}." in detail
    assert BANNER in detail
    index = client.get("/support").get_data(as_text=True)
    assert BANNER in index and SUBJECT in index
    events = db.session.scalars(select(SupportEvent.kind)).all()
    assert EventKind.FILED in events
    assert audit_count("support.filed", request.id, therapist) == 1


def test_bad_input_is_422_and_nothing_typed_is_lost(client, make_certified, login, mail) -> None:
    login(make_certified())
    response = client.post(
        "/support/new", data={**FORM, "urgency": "", "callback_phone": "12", "category": "x"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose the urgency." in html
    assert "Enter a phone number with at least 7 digits." in html
    assert SUBJECT in html and DESCRIPTION in html  # what was typed is still there
    assert BANNER in html
    assert _count(SupportRequest) == 0 and mail == []


def test_only_the_therapists_own_referrals_are_offered_and_accepted(
    client, make_certified, make_referral, login
) -> None:
    therapist, other = make_certified(), make_certified()
    mine = make_referral(therapist, patient_name="Mine Patient")
    theirs = make_referral(other, patient_name="Theirs Patient")
    login(therapist)
    html = client.get("/support/new").get_data(as_text=True)
    assert "Mine Patient" in html and "Theirs Patient" not in html
    refused = client.post("/support/new", data={**FORM, "referral_id": str(theirs.id)})
    assert refused.status_code == 422
    assert _count(SupportRequest) == 0
    accepted = client.post("/support/new", data={**FORM, "referral_id": str(mine.id)})
    assert accepted.status_code == 302
    assert db.session.scalars(select(SupportRequest)).one().referral_id == mine.id


@pytest.mark.parametrize("sent", [str(2**31), str(10**30), " "])
def test_a_patient_number_no_referral_can_have_is_refused_with_the_text_kept(
    client, make_certified, login, sent
) -> None:
    """A forged number past any id (it failed the filing with a 500, the text lost) or a
    lone space: the form comes back with what was written and nothing is filed."""
    login(make_certified())
    response = client.post("/support/new", data={**FORM, "referral_id": sent})
    html = response.get_data(as_text=True)
    if sent.strip():
        assert response.status_code == 422 and "Not a valid choice." in html
        assert FORM["description"] in html
        assert _count(SupportRequest) == 0
    else:  # a space is no patient: filed without one
        assert response.status_code == 302
        assert db.session.scalars(select(SupportRequest)).one().referral_id is None


def test_a_refused_form_shows_the_patients_again_with_the_choice_kept(
    client, make_certified, make_referral, login
) -> None:
    # A submission reads the referral numbers only; the page shown again names the patients.
    therapist = make_certified()
    mine = make_referral(therapist, patient_name="Mine Patient")
    make_referral(therapist, patient_name="Other Patient")
    login(therapist)
    response = client.post(
        "/support/new", data={**FORM, "referral_id": str(mine.id), "callback_phone": "12"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a phone number with at least 7 digits." in html
    assert f'<option selected value="{mine.id}">Referral #{mine.id}: Mine Patient</option>' in html
    assert "Other Patient" in html
    assert _count(SupportRequest) == 0


def test_a_filing_decrypts_only_what_it_writes(
    client, make_certified, make_referral, make_user, login, mail, on_call, request
) -> None:
    """The on-call clinicians are read as the columns a notification needs (their two-step
    secrets stay encrypted) and a chosen patient is checked by number (their details too)."""
    clinicians = [on_call(make_user("clinician")) for _ in range(3)]
    secrets = {c.mfa_secret for c in clinicians}
    assert None not in secrets
    therapist = make_certified()
    mine = make_referral(therapist, patient_name="Mine Patient")
    login(therapist)
    decrypted = request.getfixturevalue("decryptions")  # from here on
    filed = client.post("/support/new", data={**FORM, "referral_id": str(mine.id)})
    assert filed.status_code == 302
    assert db.session.scalars(select(SupportRequest)).one().referral_id == mine.id
    assert sorted(m.to for m in mail) == sorted(c.email for c in clinicians)
    assert not secrets & set(decrypted), "an on-call clinician's two-step secret was decrypted"
    assert not {"Mine Patient", "jane.patient@example.net"} & set(decrypted), decrypted


def test_the_service_refuses_anothers_referral(make_certified, make_referral) -> None:
    from lms.support import services
    from tests.support.conftest import request_data

    therapist, other = make_certified(), make_certified()
    theirs = make_referral(other)
    with pytest.raises(services.SupportError, match="patients you referred"):
        services.file_request(therapist, request_data(referral_id=theirs.id))


def test_a_double_submit_files_one_request(client, make_certified, login) -> None:
    login(make_certified())
    html = client.get("/support/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([^"]+)"', html)
    assert token
    data = {**FORM, "submission_token": token.group(1)}
    first = client.post("/support/new", data=data)
    second = client.post("/support/new", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(SupportRequest) == 1


def test_on_call_clinicians_are_told_by_email_and_in_the_app(
    client, make_certified, make_user, login, mail, on_call
) -> None:
    a = on_call(make_user("clinician", timezone="America/Los_Angeles"))
    b = on_call(make_user("clinician"))
    c = on_call(make_user("clinician"))  # b's zone: one message rendered for both
    off = make_user("clinician")
    admin = make_user("admin")
    login(make_certified())
    assert client.post("/support/new", data=FORM).status_code == 302
    request = db.session.scalars(select(SupportRequest)).one()
    assert sorted(m.to for m in mail) == sorted([a.email, b.email, c.email])
    # Each their own copy: one address per message, a Message-ID of its own.
    assert len({m.message_id for m in mail}) == 3
    to_b, to_c = (next(m for m in mail if m.to == u.email) for u in (b, c))
    assert (to_b.subject, to_b.text) == (to_c.subject, to_c.text)
    to_a = next(m for m in mail if m.to == a.email)
    due = request.due_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert f"{due:%-I:%M %p} {due.tzname()}" in to_a.subject  # the recipient's own clock
    assert f"/clinical/support/{request.id}" in to_a.text
    for message in mail:
        assert leaks_clinical_details(message.subject + message.text + message.html) == []
        assert "Urgent" in message.subject
        assert "Acute concern during a dosing session" in message.text
    alerts = db.session.scalars(select(SupportAlert)).all()
    assert sorted(x.user_id for x in alerts) == sorted([a.id, b.id, c.id])
    assert {x.kind for x in alerts} == {AlertKind.NEW_REQUEST}
    assert off.id not in {x.user_id for x in alerts} and admin.id not in {x.user_id for x in alerts}
    ledger = db.session.scalars(select(SupportNotification)).one()
    assert (ledger.step, ledger.sequence, ledger.fallback) == (Step.FILED, 0, False)
    assert ledger.recipient_count == 3
    assert {(x.request_id, x.notification_id, x.emailed, x.read_at) for x in alerts} == {
        (request.id, ledger.id, True, None)
    }
    assert {x.created_at for x in alerts} == {request.filed_at}


def test_nobody_on_call_tells_every_clinician_and_admin(
    client, make_certified, make_user, login, mail
) -> None:
    c1, c2, admin = make_user("clinician"), make_user("clinician"), make_user("admin")
    make_user("clinician", active=False)
    login(make_certified())
    assert client.post("/support/new", data=FORM).status_code == 302
    assert sorted(m.to for m in mail) == sorted([c1.email, c2.email, admin.email])
    assert all("Nobody is on call" in m.subject for m in mail)
    assert all(leaks_clinical_details(m.text + m.html) == [] for m in mail)
    ledger = db.session.scalars(select(SupportNotification)).one()
    assert ledger.fallback is True and ledger.recipient_count == 3
    assert _count(SupportAlert) == 3


@pytest.mark.parametrize("missing", ["training", "license", "insurance", "agreement"])
def test_an_uncertified_therapist_is_sent_to_the_checklist(
    client, make_certified, login, missing
) -> None:
    login(make_certified(skip=(missing,)))
    for url in ("/support", "/support/new", "/support/1", "/support/1/thread"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/dashboard#certification"), url
    for url in ("/support/new", "/support/1/reply", "/support/1/close"):
        assert client.post(url, data=FORM).status_code == 302, url
    assert _count(SupportRequest) == 0


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_staff_do_not_use_the_therapist_pages(client, make_user, login, role) -> None:
    login(make_user(role))
    assert client.get("/support").status_code == 403
    assert client.get("/support/new").status_code == 403
    assert client.post("/support/new", data=FORM).status_code == 403


def test_filing_is_rate_limited_per_therapist_and_keeps_the_text(
    app, client, make_certified, login
) -> None:
    saved = app.config["SUPPORT_FILING_RATE_LIMIT"]
    app.config["SUPPORT_FILING_RATE_LIMIT"] = "2 per minute"
    try:
        login(make_certified())
        assert [client.post("/support/new", data=FORM).status_code for _ in range(2)] == [302, 302]
        refused = client.post("/support/new", data={**FORM, "subject": "The third one"})
        assert refused.status_code == 429
        # Seconds until the window ends (the limiter's own count when it adds its headers).
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        html = refused.get_data(as_text=True)
        assert "You have filed many requests in a short time" in html
        assert "call 911" in html and BANNER in html
        assert 'value="The third one"' in html and DESCRIPTION in html  # nothing typed is lost
        assert _count(SupportRequest) == 2
        client.post("/logout")
        login(make_certified())  # another partner (same address) is not held back
        assert client.post("/support/new", data=FORM).status_code == 302
    finally:
        app.config["SUPPORT_FILING_RATE_LIMIT"] = saved
