"""Self-referrals in the pipeline: no therapist, a Source filter, their own e-mails."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.referrals import services
from lms.referrals.models import Referral, ReferralSource, ReferralStatus

SELF = {
    "patient_name": "Sam Selfref",
    "email": "sam.self@example.net",
    "phone": "720-555-0199",
    "state": "CO",
    "age_band": "25_34",
    "conditions": ["ocd", "panic"],
    "modality": "telehealth",
    "language": "en",
    "location": "",
    "consent": True,
}


@pytest.fixture
def self_referral(db_session) -> Referral:
    referral = services.create_self_referral(SELF)
    db.session.commit()
    return referral


def test_a_self_referral_has_no_therapist_and_its_own_facts(
    client, self_referral, make_user, login
) -> None:
    assert self_referral.therapist_id is None and self_referral.therapist is None
    assert self_referral.source == ReferralSource.SELF
    assert self_referral.referred_by == "Self-referral"
    assert self_referral.patient_initials == "S.S."
    assert self_referral.conditions_text == "Panic and OCD"
    assert self_referral.location_hint is None
    login(make_user("clinician"))
    page = client.get(f"/clinical/referrals/{self_referral.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Self-referral through the public form" in html
    assert "25 to 34" in html and "Panic and OCD" in html and "Telehealth (video)" in html
    assert "Date of birth" not in html and "Primary concern" not in html


def test_the_pipeline_shows_the_source_and_filters_by_it(
    client, self_referral, make_certified, make_referral, make_user, login
) -> None:
    therapist = make_certified(full_name="Theo Therapist")
    make_referral(therapist, patient_name="Thera Referred")
    login(make_user("clinician"))
    page = client.get("/clinical/referrals").get_data(as_text=True)
    assert "Sam Selfref" in page and "Thera Referred" in page
    assert "Self-referral" in page and "Theo Therapist" in page
    only_self = client.get("/clinical/referrals?source=self").get_data(as_text=True)
    assert "Sam Selfref" in only_self and "Thera Referred" not in only_self
    only_therapist = client.get("/clinical/referrals?source=therapist").get_data(as_text=True)
    assert "Sam Selfref" not in only_therapist and "Thera Referred" in only_therapist
    waiting = client.get("/clinical/referrals?source=awaiting_match").get_data(as_text=True)
    assert "No referrals match." in waiting
    assert client.get("/clinical/referrals?source=bogus").status_code == 200


def test_status_changes_email_the_person_not_a_therapist(self_referral, make_user, mail) -> None:
    clinician = make_user("clinician")
    mail.clear()
    for status in ("contacted", "intake_scheduled"):
        services.change_status(self_referral, status, clinician)
    db.session.commit()
    assert mail == []  # no therapist to tell
    services.change_status(self_referral, "eligible", clinician)
    db.session.commit()
    assert [m.to for m in mail] == [SELF["email"]]
    assert "finding you a therapist" in mail[0].subject
    assert "Colorado" in mail[0].text
    for word in ("ocd", "panic", "telehealth"):
        assert word not in (mail[0].text + mail[0].html).lower()
    assert self_referral.awaiting_match
    assert self_referral.status == ReferralStatus.ELIGIBLE


def test_consent_is_required(db_session) -> None:
    with pytest.raises(services.ReferralError, match="Agree to be contacted"):
        services.create_self_referral({**SELF, "consent": False})


def test_location_hint_hides_the_exact_zip(db_session) -> None:
    referral = services.create_self_referral({**SELF, "location": "80218-1234"})
    assert referral.location_hint == "ZIP area 802xx"
    referral.location = " Boulder "
    assert referral.location_hint == "Boulder"


def test_other_staff_pages_list_a_self_referral_without_a_crash(
    client, self_referral, make_user, login
) -> None:
    login(make_user("admin"))
    page = client.get("/admin/")
    assert page.status_code == 200
    assert f"Referral #{self_referral.id}" in page.get_data(as_text=True)
