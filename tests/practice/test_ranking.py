"""Who may be listed for a patient: certified, licensed in the patient's state, accepting."""

from __future__ import annotations

from datetime import timedelta

from lms.db import utcnow
from lms.extensions import db
from lms.licensure.models import RecordStatus
from lms.licensure.services import today
from lms.practice import services
from tests.certification.conftest import give_license
from tests.practice.conftest import profile_of, profile_values


def _listed(referral) -> list[str]:
    return [m.user.full_name for m in services.candidates(referral)]


def test_only_certified_partners_licensed_in_the_state_and_accepting_are_listed(
    make_partner, make_user, make_eligible
) -> None:
    referral = make_eligible(state="CO")
    listed = make_partner(full_name="Lena Listed")  # certified, licensed in CO
    make_partner(full_name="Tex Elsewhere", skip=("license",), states=("TX",))
    make_partner(full_name="Una Uninsured", skip=("insurance",))
    make_partner(full_name="Nora Notraining", skip=("training",))
    make_partner(full_name="Ada Noagreement", skip=("agreement",))
    make_partner(full_name="Full Booked", profile={"accepting_new_clients": False})
    make_partner(full_name="Pro Fileless", profile=False)
    # Certified through a Texas license, but the Colorado one has expired.
    expired = make_partner(full_name="Exa Expired", skip=("license",), states=("TX",))
    give_license(expired, state="CO", number="CO-old", expires_on=today() - timedelta(days=1))
    # Certified through Texas; the Colorado license awaits verification.
    pending = make_partner(full_name="Pen Ding", skip=("license",), states=("TX",))
    give_license(pending, state="CO", number="CO-new", status=RecordStatus.PENDING)
    # Staff are never listed, whatever their records.
    clinician = make_user("clinician", full_name="Cli Nician")
    give_license(clinician, state="CO", number="CO-staff")
    services.save_profile(clinician, profile_values())
    db.session.commit()

    assert _listed(referral) == ["Lena Listed"]
    assert services.candidates(referral)[0].user.id == listed.id


def test_a_profile_disappears_when_its_owner_stops_being_certified(
    make_partner, make_eligible
) -> None:
    referral = make_eligible()
    partner = make_partner(full_name="Cera Certified")
    assert _listed(referral) == ["Cera Certified"]
    later = utcnow() + timedelta(days=400)  # the test license expires in 300 days
    assert services.candidates(referral, later) == []
    profile_of(partner).accepting_new_clients = False
    db.session.commit()
    assert _listed(referral) == []


def test_order_and_reasons(make_partner, make_eligible, make_user) -> None:
    referral = make_eligible(
        conditions=["panic", "depression"], modality="in_person", language="es", location="80218"
    )
    make_partner(
        full_name="Best Match",
        profile={"languages": ["en", "es"], "zip_code": "80209", "in_person": True},
    )
    make_partner(
        full_name="Tele Only",
        profile={"in_person": False, "telehealth": True, "conditions": ["panic"]},
    )
    make_partner(full_name="Near English", profile={"zip_code": "80203"})
    matches = services.candidates(referral)
    assert [m.user.full_name for m in matches] == ["Best Match", "Near English", "Tele Only"]
    assert [m.ranked.points for m in matches] == [12, 10, 3]
    best = matches[0].ranked
    assert best.summary == "Ranked 1 of 3 with 12 points, the highest score."
    assert "Works with Panic and Depression: all of the patient's concerns (+6)." in best.reasons
    assert "Speaks Spanish, the patient's language (+2)." in best.reasons
    assert any("ZIP area (802xx)" in r for r in best.reasons)
    tele = matches[2].ranked
    assert "Offers telehealth only; the patient asked to meet in person." in tele.reasons
    assert tele.summary == "Ranked 3 of 3 with 3 points, 7 fewer than Near English."


def test_ties_go_to_fewer_open_offers(make_partner, make_eligible, make_user) -> None:
    clinician = make_user("clinician")
    busy = make_partner(full_name="Amy Busy")
    make_partner(full_name="Zed Free")
    # Amy has an open offer for another patient.
    other = make_eligible(clinician, email="other@example.net")
    services.make_offer(other, busy.id, clinician)
    db.session.commit()
    referral = make_eligible(clinician)
    matches = services.candidates(referral)
    assert [m.user.full_name for m in matches] == ["Zed Free", "Amy Busy"]
    assert [m.open_offers for m in matches] == [0, 1]
    assert "who has fewer open offers (0 against 1)" in matches[1].ranked.summary
