"""Demo data: the demo partner's referred patients with about 12 weeks of GAD-7 and PHQ-9.

Four fictional patients, one per state where the partner holds a verified license (the
states are reused in turn when there are fewer), in different referral statuses, moved
along by a clinician as the medical team would. Two patients improve visibly (one
reaches response, the other remission); one has a PHQ-9 whose item 9 shows the safety
prompt; one is a new referral with only the baseline totals from the referral form.

Safe to run again: a patient who exists (same therapist, name and e-mail) is left alone,
and measurements are only added to a patient who has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from lms.accounts.models import Role, User
from lms.crypto import matches_terms
from lms.extensions import db
from lms.licensure.services import verified_license_states
from lms.outcomes import services
from lms.outcomes.models import Measurement
from lms.referrals import services as referral_services
from lms.referrals.models import Referral, ReferralStatus

DEMO_CLINICIAN = "clinician@example.org"

# The route a referral takes to each demo status.
PATHS: dict[ReferralStatus, tuple[ReferralStatus, ...]] = {
    ReferralStatus.NEW: (),
    ReferralStatus.CONTACTED: (ReferralStatus.CONTACTED,),
    ReferralStatus.INTAKE_SCHEDULED: (ReferralStatus.CONTACTED, ReferralStatus.INTAKE_SCHEDULED),
    ReferralStatus.ELIGIBLE: (
        ReferralStatus.CONTACTED,
        ReferralStatus.INTAKE_SCHEDULED,
        ReferralStatus.ELIGIBLE,
    ),
}


@dataclass(frozen=True)
class DemoPatient:
    name: str
    email: str
    date_of_birth: date
    concern: str
    status: ReferralStatus
    gad7_at_referral: int | None
    phq9_at_referral: int | None
    # (weeks before today, GAD-7 answers or None, PHQ-9 answers or None)
    history: tuple[tuple[int, list[int] | None, list[int] | None], ...] = field(default=())


PATIENTS: tuple[DemoPatient, ...] = (
    # Remission on both: GAD-7 16 -> 3, PHQ-9 13 -> 4.
    DemoPatient(
        name="Maya Okafor",
        email="maya.okafor@example.net",
        date_of_birth=date(1986, 3, 14),
        concern="generalized_anxiety",
        status=ReferralStatus.ELIGIBLE,
        gad7_at_referral=None,
        phq9_at_referral=None,
        history=(
            (12, [3, 2, 3, 2, 2, 2, 2], [2, 2, 2, 2, 1, 2, 1, 1, 0]),
            (10, [2, 2, 3, 2, 2, 2, 1], [2, 2, 1, 2, 1, 2, 1, 1, 0]),
            (8, [2, 2, 2, 2, 1, 1, 1], [1, 2, 1, 2, 1, 1, 1, 0, 0]),
            (6, [2, 1, 2, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0, 0]),
            (4, [1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 1, 0, 0, 0]),
            (2, [1, 1, 1, 0, 0, 1, 0], [1, 0, 1, 1, 0, 0, 0, 0, 0]),
            (0, [1, 0, 1, 0, 0, 1, 0], [0, 1, 1, 1, 0, 1, 0, 0, 0]),
        ),
    ),
    # Response on PHQ-9 (19 -> 8, -58%), not yet remission; GAD-7 12 -> 8.
    DemoPatient(
        name="Daniel Reyes",
        email="daniel.reyes@example.net",
        date_of_birth=date(1979, 9, 2),
        concern="depression",
        status=ReferralStatus.ELIGIBLE,
        gad7_at_referral=None,
        phq9_at_referral=None,
        history=(
            (11, [2, 2, 2, 2, 1, 2, 1], [3, 3, 2, 3, 2, 2, 2, 2, 0]),
            (9, [2, 2, 2, 1, 1, 2, 1], [2, 3, 2, 2, 2, 2, 2, 2, 0]),
            (7, [2, 1, 2, 1, 1, 2, 1], [2, 2, 2, 2, 2, 2, 1, 1, 0]),
            (5, [1, 1, 2, 1, 1, 2, 1], [2, 2, 1, 2, 1, 2, 1, 1, 0]),
            (3, [1, 1, 2, 1, 1, 1, 1], [1, 2, 1, 2, 1, 1, 1, 1, 0]),
            (1, [1, 1, 2, 1, 1, 1, 1], [1, 1, 1, 2, 1, 1, 1, 0, 0]),
        ),
    ),
    # Little change, and the latest PHQ-9 has item 9 above 0: the safety prompt.
    DemoPatient(
        name="Priya Natarajan",
        email="priya.natarajan@example.net",
        date_of_birth=date(1991, 12, 20),
        concern="ptsd",
        status=ReferralStatus.INTAKE_SCHEDULED,
        gad7_at_referral=None,
        phq9_at_referral=None,
        history=(
            (6, [2, 2, 2, 2, 1, 2, 2], [2, 2, 2, 2, 1, 2, 1, 1, 0]),
            (3, [2, 2, 2, 1, 1, 2, 2], [2, 2, 2, 2, 1, 2, 1, 0, 0]),
            (1, [2, 2, 2, 1, 1, 2, 1], [2, 2, 2, 1, 1, 2, 1, 1, 1]),
        ),
    ),
    # A new referral: only the totals entered on the referral form.
    DemoPatient(
        name="Sam Whitfield",
        email="sam.whitfield@example.net",
        date_of_birth=date(1998, 6, 8),
        concern="social_anxiety",
        status=ReferralStatus.CONTACTED,
        gad7_at_referral=14,
        phq9_at_referral=9,
    ),
)


def _clinician() -> User | None:
    """The demo clinician, or any active clinician, moves the referrals along."""
    demo = db.session.scalar(select(User).where(User.email == DEMO_CLINICIAN))
    if demo is not None and demo.role == Role.CLINICIAN:
        return demo
    return db.session.scalar(
        select(User).where(User.role == Role.CLINICIAN, User.is_active).order_by(User.id)
    )


def _existing(partner: User, patient: DemoPatient) -> Referral | None:
    # Names and e-mails are encrypted: find candidates by the name's search terms, then
    # compare the decrypted e-mail.
    candidates = db.session.scalars(
        select(Referral).where(
            Referral.therapist_id == partner.id,
            matches_terms(Referral.search_terms, patient.name),
        )
    )
    return next((r for r in candidates if r.email == patient.email), None)


def seed_outcomes(partner: User) -> list[str]:
    """Give the demo partner referred patients with an outcome history (idempotent)."""
    states = verified_license_states(partner)
    if not states:
        return ["outcomes: the partner holds no verified license, so no demo patients"]
    clinician = _clinician()
    today = services.local_today(partner)
    lines = []
    for index, patient in enumerate(PATIENTS):
        referral = _existing(partner, patient)
        if referral is None:
            referral = referral_services.create_referral(
                partner,
                {
                    "patient_name": patient.name,
                    "date_of_birth": patient.date_of_birth,
                    "email": patient.email,
                    "phone": f"555-010{index}",
                    "state": states[index % len(states)],
                    "primary_concern": patient.concern,
                    "prior_treatments": "",
                    "current_medications": "",
                    "gad7": patient.gad7_at_referral,
                    "phq9": patient.phq9_at_referral,
                    "consent": True,
                },
            )
            if clinician is not None:
                for status in PATHS[patient.status]:
                    referral_services.change_status(referral, status, clinician)
            lines.append(
                f"outcomes: referral of {patient.name} ({referral.state}), "
                f"{referral.status.label.lower()}"
            )
        has_measurements = db.session.scalar(
            select(Measurement.id).where(Measurement.referral_id == referral.id).limit(1)
        )
        if patient.history and not has_measurements:
            for weeks, gad7, phq9 in patient.history:
                day = today - timedelta(weeks=weeks)
                if gad7 is not None:
                    services.record_measurement(referral, "gad7", gad7, day, partner)
                if phq9 is not None:
                    services.record_measurement(referral, "phq9", phq9, day, partner)
            lines.append(
                f"outcomes: {len(patient.history)} visits of GAD-7/PHQ-9 for {patient.name}"
            )
    if not lines:
        lines.append("outcomes: demo patients and measurements exist")
    if clinician is None:
        lines.append("outcomes: no clinician account, so new demo referrals stay new")
    if len(states) < 2:
        lines.append(
            f"outcomes: the partner is licensed in {', '.join(states)} only, "
            "so every demo patient lives there"
        )
    return lines
