"""The demo partner's patients and outcome history (seed-demo calls seed_outcomes)."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.extensions import db
from lms.outcomes import services
from lms.outcomes.demo import PATIENTS, seed_outcomes
from lms.outcomes.models import Measurement
from lms.referrals.models import Referral, ReferralStatus


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_outcomes_gives_a_visible_trend_and_is_idempotent(
    make_certified, make_user, mail
) -> None:
    partner = make_certified()  # verified license in CO
    clinician = make_user("clinician")
    lines = seed_outcomes(partner)
    db.session.commit()
    assert any("licensed in CO only" in line for line in lines)
    referrals = db.session.scalars(
        select(Referral).where(Referral.therapist_id == partner.id).order_by(Referral.id)
    ).all()
    assert len(referrals) == len(PATIENTS) == 4
    assert {r.state for r in referrals} == {"CO"}
    statuses = {r.status for r in referrals}
    assert statuses == {
        ReferralStatus.ELIGIBLE,
        ReferralStatus.INTAKE_SCHEDULED,
        ReferralStatus.CONTACTED,
    }
    assert all(e.actor_id == clinician.id for r in referrals for e in r.events[1:])
    # No clinical data in the e-mails the status changes sent.
    for message in mail:
        assert "GAD" not in message.text and "PHQ" not in message.text

    rows = {r.referral.patient_name: r for r in services.outcomes_for(referrals, partner)}
    maya, daniel = rows["Maya Okafor"], rows["Daniel Reyes"]
    assert maya.gad7.remission and maya.phq9.remission and maya.gad7.response
    assert daniel.phq9.response and not daniel.phq9.remission
    for p in (maya.gad7, maya.phq9, daniel.phq9):
        totals = [s.total for s in p.scores]
        assert len(totals) >= 6 and totals[-1] <= 0.6 * totals[0], totals
        assert (p.scores[-1].day - p.scores[0].day).days >= 70
    assert rows["Priya Natarajan"].safety_measurement is not None
    sam = rows["Sam Whitfield"]
    assert not sam.tracked and sam.gad7.baseline.from_referral
    overview = services.overview(partner)
    assert overview.gad7.remission.count >= 1 and overview.phq9.response.count >= 2

    measured = _count(Measurement)
    again = seed_outcomes(partner)
    db.session.commit()
    assert _count(Referral) == 4 and _count(Measurement) == measured
    assert "outcomes: demo patients and measurements exist" in again


def test_without_a_verified_license_nothing_is_seeded(make_certified) -> None:
    partner = make_certified(skip=("license",))
    assert seed_outcomes(partner) == [
        "outcomes: the partner holds no verified license, so no demo patients"
    ]
    assert _count(Referral) == 0
