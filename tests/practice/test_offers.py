"""Offers: made, accepted, declined, withdrawn, and expired on a frozen clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.models import License, RecordStatus
from lms.practice import services
from lms.practice.models import MatchOffer, OfferStatus
from lms.practice.tasks import run_offer_expiry
from lms.referrals.models import Referral
from tests.practice.conftest import PATIENT_EMAIL, PATIENT_NAME, PATIENT_PHONE

CLINICAL = ("panic", "depression", "anxiety", "ptsd", "35 to 44", "35_44")


def _no_clinical_details(message) -> None:
    for body in (message.subject, message.text, message.html):
        lowered = body.lower()
        for word in CLINICAL:
            assert word not in lowered, (message.subject, word)


def _audits(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


@pytest.fixture
def setting(make_partner, make_eligible, make_user, mail):
    clinician = make_user("clinician", full_name="Cal Clinician")
    partner = make_partner(full_name="Pat Partner")
    referral = make_eligible(clinician)
    mail.clear()
    return clinician, partner, referral


def test_an_offer_emails_the_partner_a_link_only(setting, mail, app) -> None:
    clinician, partner, referral = setting
    t0 = utcnow()
    offer = services.make_offer(referral, partner.id, clinician, t0)
    db.session.commit()
    assert offer.status == OfferStatus.OFFERED
    assert offer.expires_at == t0 + timedelta(hours=72)
    assert [m.to for m in mail] == [partner.email]
    message = mail[0]
    assert f"/practice/offers/{offer.id}" in message.text
    for secret in (PATIENT_NAME, PATIENT_EMAIL, PATIENT_PHONE, "Robin", "Denver"):
        assert secret not in message.text + message.html
    _no_clinical_details(message)
    assert _audits("match_offer.made") == 1


def test_the_offer_time_is_configurable(setting, app) -> None:
    clinician, partner, referral = setting
    app.config["PRACTICE_OFFER_HOURS"] = 24
    try:
        t0 = utcnow()
        offer = services.make_offer(referral, partner.id, clinician, t0)
    finally:
        del app.config["PRACTICE_OFFER_HOURS"]
    assert offer.expires_at == t0 + timedelta(hours=24)


def test_one_open_offer_per_patient(setting, make_partner) -> None:
    clinician, partner, referral = setting
    other = make_partner(full_name="Other Partner")
    services.make_offer(referral, partner.id, clinician)
    db.session.commit()
    with pytest.raises(services.MatchError, match="already offered to Pat Partner"):
        services.make_offer(referral, other.id, clinician)


def test_offers_go_only_to_partners_who_may_take_the_patient(
    setting, make_partner, make_self_referral
) -> None:
    clinician, partner, referral = setting
    elsewhere = make_partner(full_name="Tex Elsewhere", skip=("license",), states=("TX",))
    with pytest.raises(services.MatchError, match="verified license in Colorado"):
        services.make_offer(referral, elsewhere.id, clinician)
    with pytest.raises(services.MatchError, match="verified license in Colorado"):
        services.make_offer(referral, clinician.id, clinician)
    new = make_self_referral(email="new@example.net")  # not through the intake yet
    with pytest.raises(services.MatchError, match="Only an eligible self-referral"):
        services.make_offer(new, partner.id, clinician)
    assert db.session.scalar(select(func.count()).select_from(MatchOffer)) == 0


def test_expiry_on_a_frozen_clock(setting, mail) -> None:
    clinician, partner, referral = setting
    t0 = utcnow()
    offer = services.make_offer(referral, partner.id, clinician, t0)
    db.session.commit()
    mail.clear()
    assert services.expire_due(t0 + timedelta(hours=71, minutes=59)) == 0
    assert offer.status == OfferStatus.OFFERED
    assert services.open_offer(referral, t0 + timedelta(hours=71)) == offer
    assert services.open_offer(referral, t0 + timedelta(hours=72)) is None  # reads enforce it
    assert run_offer_expiry(t0 + timedelta(hours=72)) == 1
    db.session.expire_all()
    offer = db.session.get(MatchOffer, offer.id)
    assert offer.status == OfferStatus.EXPIRED
    assert offer.closed_at == t0 + timedelta(hours=72) and offer.responded_at is None
    assert [m.to for m in mail] == [clinician.email]
    assert "expired" in mail[0].subject.lower() and f"#{referral.id}" in mail[0].subject
    assert f"/clinical/referrals/{referral.id}/match" in mail[0].text
    _no_clinical_details(mail[0])
    # Once only, however often the job runs.
    assert run_offer_expiry(t0 + timedelta(hours=80)) == 0
    assert len(mail) == 1 and _audits("match_offer.expired") == 1
    # The patient can be offered again.
    again = services.make_offer(referral, partner.id, clinician, t0 + timedelta(hours=81))
    assert again.status == OfferStatus.OFFERED


def test_accept_after_expiry_is_refused_even_before_the_job_runs(setting, mail) -> None:
    clinician, partner, referral = setting
    t0 = utcnow()
    offer = services.make_offer(referral, partner.id, clinician, t0)
    db.session.commit()
    mail.clear()
    with pytest.raises(services.MatchError, match="expired"):
        services.accept_offer(offer, partner, t0 + timedelta(hours=72, seconds=1))
    assert offer.status == OfferStatus.EXPIRED
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).therapist_id is None
    assert [m.to for m in mail] == [clinician.email]  # told of the expiry, once
    with pytest.raises(services.MatchError, match="expired"):
        services.decline_offer(offer, partner, "late", t0 + timedelta(hours=73))


def test_accept(setting, mail) -> None:
    clinician, partner, referral = setting
    t0 = utcnow()
    offer = services.make_offer(referral, partner.id, clinician, t0)
    db.session.commit()
    mail.clear()
    result = services.accept_offer(offer, partner, t0 + timedelta(hours=71))
    db.session.commit()
    assert result.id == referral.id
    db.session.expire_all()
    offer = db.session.get(MatchOffer, offer.id)
    assert offer.status == OfferStatus.ACCEPTED
    assert offer.responded_at == t0 + timedelta(hours=71)
    assert db.session.get(Referral, referral.id).therapist_id == partner.id
    assert sorted(m.to for m in mail) == sorted([clinician.email, PATIENT_EMAIL, partner.email])
    to_patient = next(m for m in mail if m.to == PATIENT_EMAIL)
    assert "Pat Partner" in to_patient.text and "Riverbend Counseling" in to_patient.text
    to_partner = next(m for m in mail if m.to == partner.email)
    assert f"/referrals/{referral.id}" in to_partner.text and "R.Q.A." in to_partner.text
    assert PATIENT_NAME not in to_partner.text and PATIENT_PHONE not in to_partner.text
    to_clinician = next(m for m in mail if m.to == clinician.email)
    assert "accepted" in to_clinician.subject.lower()
    for message in mail:
        _no_clinical_details(message)
    assert _audits("match_offer.accepted") == 1
    # Nothing more to do with it.
    with pytest.raises(services.MatchError, match="already accepted"):
        services.accept_offer(offer, partner, t0 + timedelta(hours=71))
    with pytest.raises(services.MatchError, match="Only an eligible self-referral"):
        services.make_offer(db.session.get(Referral, referral.id), partner.id, clinician)


def test_decline_then_offer_elsewhere(setting, make_partner, mail) -> None:
    clinician, partner, referral = setting
    other = make_partner(full_name="Other Partner")
    offer = services.make_offer(referral, partner.id, clinician)
    db.session.commit()
    mail.clear()
    services.decline_offer(offer, partner, "  My caseload is full.  ")
    db.session.commit()
    assert offer.status == OfferStatus.DECLINED
    assert offer.decline_reason == "My caseload is full."
    assert [m.to for m in mail] == [clinician.email]
    assert "declined" in mail[0].subject.lower()
    assert "caseload" not in mail[0].text  # the reason stays in the app
    assert referral.therapist_id is None
    with pytest.raises(services.MatchError, match="already declined"):
        services.accept_offer(offer, partner)
    second = services.make_offer(referral, other.id, clinician)
    assert second.partner_id == other.id
    matches = services.candidates(referral)
    earlier = next(m for m in matches if m.user.id == partner.id).earlier
    assert [o.status for o in earlier] == [OfferStatus.DECLINED]


def test_only_the_partner_offered_can_answer(setting, make_partner) -> None:
    clinician, partner, referral = setting
    other = make_partner(full_name="Other Partner")
    offer = services.make_offer(referral, partner.id, clinician)
    with pytest.raises(services.MatchError, match="not yours"):
        services.accept_offer(offer, other)
    with pytest.raises(services.MatchError, match="not yours"):
        services.decline_offer(offer, other)
    assert offer.status == OfferStatus.OFFERED


def test_a_partner_who_lost_the_license_cannot_accept(setting) -> None:
    clinician, partner, referral = setting
    offer = services.make_offer(referral, partner.id, clinician)
    db.session.commit()
    colorado = db.session.scalar(select(License).where(License.user_id == partner.id))
    colorado.status = RecordStatus.EXPIRED
    db.session.commit()
    with pytest.raises(services.MatchError, match="no longer hold a verified license in Colorado"):
        services.accept_offer(offer, partner)
    db.session.rollback()
    assert offer.status == OfferStatus.OFFERED
    assert db.session.get(Referral, referral.id).therapist_id is None


def test_withdraw(setting, make_partner) -> None:
    clinician, partner, referral = setting
    offer = services.make_offer(referral, partner.id, clinician)
    services.withdraw_offer(offer, clinician)
    assert offer.status == OfferStatus.WITHDRAWN
    with pytest.raises(services.MatchError, match="withdrew"):
        services.accept_offer(offer, partner)
    with pytest.raises(services.MatchError, match="nothing to withdraw"):
        services.withdraw_offer(offer, clinician)
    assert services.make_offer(referral, partner.id, clinician).status == OfferStatus.OFFERED


def test_the_expiry_job_runs_every_five_minutes() -> None:
    from datetime import datetime

    from lms.jobs import huey
    from lms.practice.tasks import offer_expiry_job

    assert offer_expiry_job.task_class in huey._registry._periodic_tasks
    validate = offer_expiry_job.task_class().validate_datetime
    assert validate(datetime(2027, 3, 1, 6, 15)) and validate(datetime(2027, 3, 1, 6, 20))
    assert not validate(datetime(2027, 3, 1, 6, 16))
