"""The public "get care" form: a self-referral, bot protection, rate limit, the e-mail."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.extensions import db
from lms.practice import intake
from lms.referrals.models import Referral, ReferralSource, ReferralStatus
from tests.practice.conftest import PATIENT_EMAIL, PATIENT_NAME


def form(app, **overrides) -> dict:
    with app.test_request_context():
        started = intake.started_token(time.time() - 30)  # shown half a minute ago
    data = {
        "patient_name": PATIENT_NAME,
        "email": PATIENT_EMAIL.upper(),
        "phone": "720-555-0142",
        "state": "CO",
        "age_band": "35_44",
        "conditions": ["panic", "depression"],
        "modality": "in_person",
        "location": "80218",
        "language": "es",
        "consent": "y",
        "website": "",
        "started": started,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _referrals() -> int:
    return db.session.scalar(select(func.count()).select_from(Referral))


def test_the_form_is_public_and_carries_its_traps(client) -> None:
    page = client.get("/get-care")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="website"' in html and 'tabindex="-1"' in html
    assert re.search(r'name="started" type="hidden" value="[^"]+"', html)
    assert "Leave this field empty" in html
    assert client.get("/get-care/thanks").status_code == 200


def test_a_person_asks_for_care(app, client, mail) -> None:
    response = client.post("/get-care", data=form(app))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/get-care/thanks")
    referral = db.session.scalars(select(Referral)).one()
    assert referral.source == ReferralSource.SELF and referral.therapist_id is None
    assert referral.status == ReferralStatus.NEW
    assert referral.email == PATIENT_EMAIL and referral.date_of_birth is None
    assert referral.conditions == ["panic", "depression"]
    assert referral.modality.value == "in_person" and referral.language == "es"
    assert referral.location == "80218" and referral.age_band.value == "35_44"
    assert [e.to_status for e in referral.events] == [ReferralStatus.NEW]
    assert db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "referral.self_referred", AuditEvent.actor_id.is_(None))
    )
    assert [m.to for m in mail] == [PATIENT_EMAIL]
    message = mail[0]
    assert "received your request" in message.subject.lower()
    assert "medical intake" in message.text and "Colorado" in message.text
    for word in ("panic", "depression", "Spanish", "80218"):
        assert word.lower() not in (message.text + message.html).lower()


def test_missing_answers_are_shown_and_kept(app, client, mail) -> None:
    response = client.post(
        "/get-care", data=form(app, consent=None, conditions=None, patient_name="Robin Q")
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Agree to be contacted" in html
    assert "Choose at least one, or Other." in html
    assert 'value="Robin Q"' in html and 'value="80218"' in html
    assert _referrals() == 0 and mail == []


def test_a_filled_honeypot_looks_like_success_but_saves_nothing(app, client, mail) -> None:
    response = client.post("/get-care", data=form(app, website="http://spam.example"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/get-care/thanks")
    assert _referrals() == 0 and mail == []


@pytest.mark.parametrize("started", ["fresh", "forged", "missing"])
def test_a_form_sent_too_fast_or_without_its_time_is_asked_again(
    app, client, mail, started
) -> None:
    with app.test_request_context():
        token = {
            "fresh": intake.started_token(),
            "forged": intake.started_token(time.time() - 60) + "x",
            "missing": "",
        }[started]
    response = client.post("/get-care", data=form(app, started=token))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please take a moment to check your answers" in html
    assert f'value="{PATIENT_NAME}"' in html  # nothing lost
    assert _referrals() == 0 and mail == []


def test_the_minimum_time_is_configurable(app) -> None:
    with app.test_request_context():
        now = 1_000_000.0
        token = intake.started_token(now)
        assert intake.verdict("", token, now + 2.9) == intake.Verdict.TOO_FAST
        assert intake.verdict("", token, now + 3) == intake.Verdict.OK
        saved = app.config["INTAKE_MIN_SECONDS"]
        app.config["INTAKE_MIN_SECONDS"] = 10
        try:
            assert intake.verdict("", token, now + 5) == intake.Verdict.TOO_FAST
        finally:
            app.config["INTAKE_MIN_SECONDS"] = saved
        assert intake.verdict(" x ", token, now + 60) == intake.Verdict.BOT


def test_the_form_is_rate_limited(app, client, mail) -> None:
    saved = app.config["INTAKE_RATE_LIMIT"]
    app.config["INTAKE_RATE_LIMIT"] = "2 per hour"
    try:
        codes = [
            client.post("/get-care", data=form(app, email=f"p{i}@example.net")).status_code
            for i in range(3)
        ]
        assert codes == [302, 302, 429]
        blocked = client.post("/get-care", data=form(app, website="spam"))
        assert blocked.status_code == 429
        assert "Too many attempts" in blocked.get_data(as_text=True)
        assert client.get("/get-care").status_code == 200  # reading is not limited
    finally:
        app.config["INTAKE_RATE_LIMIT"] = saved
    assert _referrals() == 2


def test_the_default_limit_is_five_an_hour(app, client) -> None:
    assert app.config["INTAKE_RATE_LIMIT"] == "5 per hour"  # the setting's default
    codes = [client.post("/get-care", data=form(app, website="bot")).status_code for _ in range(6)]
    assert codes == [302] * 5 + [429]


def test_logged_in_users_can_use_it_too(app, client, make_user, login) -> None:
    login(make_user("clinician"))
    assert client.get("/get-care").status_code == 200
