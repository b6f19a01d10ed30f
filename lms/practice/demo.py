"""Demo data for matching: practice profiles, more certified partners, a waiting patient.

The demo partner gets a profile; three more demo partners (in other states, one also
licensed in Colorado) are certified the way the demo partner is: the required course worked
through, a license and malpractice insurance verified by an admin, the attestation signed,
the partner agreement accepted. A self-referred patient in Colorado, already found eligible
by the clinician, waits for a match.

Safe to run again: accounts, records and the patient that exist are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from lms.accounts.models import Role, User
from lms.accounts.passwords import hash_password
from lms.certification import agreements
from lms.certification import services as certification
from lms.cli import DEMO_PASSWORD
from lms.crypto import matches_terms
from lms.db import utcnow
from lms.extensions import db
from lms.licensure import services as licensure
from lms.licensure.data import LicenseType
from lms.licensure.demo import tiny_pdf
from lms.licensure.documents import Upload
from lms.licensure.models import Attestation, InsurancePolicy, License
from lms.practice import services
from lms.referrals import services as referral_services
from lms.referrals.models import Referral, ReferralSource, ReferralStatus
from lms.training.models import Course

# The extra partners are not @example.org: the demo accounts in the README stay four.


@dataclass(frozen=True)
class DemoPartner:
    email: str
    full_name: str
    timezone: str
    licenses: tuple[tuple[LicenseType, str], ...]
    profile: dict[str, Any] = field(default_factory=dict)


PARTNER_PROFILE: dict[str, Any] = {
    "practice_name": "Riverbend Counseling",
    "city": "Denver",
    "state": "CO",
    "zip_code": "80205",
    "in_person": True,
    "telehealth": True,
    "conditions": ["generalized_anxiety", "social_anxiety", "panic", "depression", "ptsd"],
    "approaches": ["ifs", "somatic", "act", "integration"],
    "other_approaches": None,
    "languages": ["en"],
    "fees": "$160 per session; sliding scale available; out-of-network superbills.",
    "accepting_new_clients": True,
}

OTHER_PARTNERS: tuple[DemoPartner, ...] = (
    DemoPartner(
        email="ana.ruiz@partners.example.org",
        full_name="Ana Ruiz",
        timezone="America/Denver",
        licenses=((LicenseType.LCSW, "NM"), (LicenseType.LCSW, "CO")),
        profile={
            "practice_name": "Mesa Integrative Therapy",
            "city": "Albuquerque",
            "state": "NM",
            "zip_code": "87102",
            "in_person": True,
            "telehealth": True,
            "conditions": ["depression", "ptsd", "panic", "other"],
            "approaches": ["emdr", "somatic", "integration"],
            "other_approaches": None,
            "languages": ["en", "es"],
            "fees": "$140 per session; in network with several New Mexico plans.",
            "accepting_new_clients": True,
        },
    ),
    DemoPartner(
        email="ben.carter@partners.example.org",
        full_name="Ben Carter",
        timezone="America/Los_Angeles",
        licenses=((LicenseType.LMHC, "WA"),),
        profile={
            "practice_name": "Puget Sound Psychotherapy",
            "city": "Seattle",
            "state": "WA",
            "zip_code": "98101",
            "in_person": True,
            "telehealth": False,
            "conditions": ["generalized_anxiety", "ocd", "depression"],
            "approaches": ["act", "cbt", "mindfulness"],
            "other_approaches": "Exposure and response prevention (ERP)",
            "languages": ["en"],
            "fees": "$180 per session.",
            "accepting_new_clients": True,
        },
    ),
    DemoPartner(
        email="chloe.nguyen@partners.example.org",
        full_name="Chloe Nguyen",
        timezone="America/Chicago",
        licenses=((LicenseType.LPC, "TX"),),
        profile={
            "practice_name": "Bluebonnet Telehealth Therapy",
            "city": "Austin",
            "state": "TX",
            "zip_code": "78701",
            "in_person": False,
            "telehealth": True,
            "conditions": ["generalized_anxiety", "social_anxiety", "depression", "ptsd"],
            "approaches": ["ifs", "psychodynamic"],
            "other_approaches": None,
            "languages": ["en", "vi"],
            "fees": "$150 per session; superbills for out-of-network benefits.",
            "accepting_new_clients": True,
        },
    ),
)

PATIENT: dict[str, Any] = {
    "patient_name": "Robin Alvarez",
    "email": "robin.alvarez@example.net",
    "phone": "720-555-0142",
    "state": "CO",
    "age_band": "35_44",
    "conditions": ["panic", "depression"],
    "modality": "either",
    "language": "en",
    "location": "Denver",
    "consent": True,
}


def _admin() -> User | None:
    return db.session.scalar(
        select(User).where(User.role == Role.ADMIN, User.is_active).order_by(User.id)
    )


def _account(spec: DemoPartner) -> tuple[User, bool]:
    user = db.session.scalar(select(User).where(User.email == spec.email))
    if user is not None:
        return user, False
    user = User(
        email=spec.email,
        full_name=spec.full_name,
        password_hash=hash_password(DEMO_PASSWORD),
        role=Role.THERAPIST,
        timezone=spec.timezone,
        email_verified_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    return user, True


def _train(user: User, admin: User) -> None:
    from lms.training.demo import complete_course_for

    if certification.certification_status(user).get("training").met:
        return
    required = db.session.scalars(
        select(Course).where(
            Course.required_for_certification, Course.current_version_id.is_not(None)
        )
    ).all()
    for course in required:
        complete_course_for(user, course, comped_by=admin)  # comped when payments are on


def _verify(record: Any, admin: User, how: str) -> None:
    licensure.decide(
        record,
        admin,
        "verify",
        revision=record.revision,
        method=f"{how}, checked on {licensure.today().isoformat()}",
    )


def _licensure(user: User, spec: DemoPartner, admin: User) -> None:
    day = licensure.today()
    held = set(db.session.scalars(select(License.state).where(License.user_id == user.id)))
    for number, (kind, state) in enumerate(spec.licenses, start=1):
        if state in held:
            continue
        lic = licensure.add_license(
            user,
            {
                "license_type": kind,
                "state": state,
                "number": f"{kind.value.upper()}-{state}-{user.id:04d}{number}",
                "issued_on": day - timedelta(days=4 * 365),
                "expires_on": day + timedelta(days=500),
                "npi": None,
            },
            [
                Upload(
                    f"{state.lower()}-license.pdf", tiny_pdf(f"{state} license"), "application/pdf"
                )
            ],
        )
        _verify(lic, admin, "State board website")
    if not db.session.scalar(select(InsurancePolicy.id).where(InsurancePolicy.user_id == user.id)):
        policy = licensure.add_insurance(
            user,
            {
                "carrier": "Example Mutual",
                "policy_number": f"EM-77-{user.id:04d}",
                "per_claim_cents": 1_000_000_00,
                "aggregate_cents": 3_000_000_00,
                "expires_on": day + timedelta(days=300),
            },
            [Upload("certificate.pdf", tiny_pdf("Certificate of insurance"), "application/pdf")],
        )
        _verify(policy, admin, "Certificate checked with the carrier")
    if not db.session.scalar(select(Attestation.id).where(Attestation.user_id == user.id)):
        licensure.sign_attestation(
            user,
            {
                "discipline_history": False,
                "license_restrictions": False,
                "felony": False,
                "impairment": False,
                "current_coverage": True,
                "explanation": None,
                "signed_name": user.full_name,
                "signed_on": day,
            },
        )


def _agreement(user: User) -> None:
    current = agreements.current()
    if current is not None and certification.accepted(user, current.version) is None:
        certification.accept_agreement(user, current.version, user.full_name, None)


def _profile(user: User, values: dict[str, Any]) -> bool:
    if services.profile_of(user) is not None:
        return False
    services.save_profile(user, values)
    return True


def _waiting_patient(clinician: User) -> tuple[Referral, bool]:
    # Names and e-mails are encrypted: find candidates by the name's search terms, then
    # compare the decrypted e-mail.
    candidates = db.session.scalars(
        select(Referral).where(
            Referral.source == ReferralSource.SELF,
            matches_terms(Referral.search_terms, PATIENT["patient_name"]),
        )
    )
    existing = next((r for r in candidates if r.email == PATIENT["email"]), None)
    if existing is not None:
        return existing, False
    referral = referral_services.create_self_referral(PATIENT)
    for status in (
        ReferralStatus.CONTACTED,
        ReferralStatus.INTAKE_SCHEDULED,
        ReferralStatus.ELIGIBLE,
    ):
        referral_services.change_status(referral, status, clinician)
    return referral, True


def seed_practice(clinician: User, partner: User) -> list[str]:
    """Profiles for the demo partner and three more certified partners; a self-referred
    patient found eligible, waiting for a match. Idempotent."""
    lines = []
    if _profile(partner, PARTNER_PROFILE):
        lines.append(f"practice: profile for {partner.email} ({PARTNER_PROFILE['practice_name']})")
    admin = _admin()
    if admin is None:
        lines.append("practice: no admin account to verify licenses, so no more demo partners")
    else:
        for spec in OTHER_PARTNERS:
            user, created = _account(spec)
            _train(user, admin)
            _licensure(user, spec, admin)
            _agreement(user)
            made = _profile(user, spec.profile)
            if created or made:
                states = ", ".join(state for _, state in spec.licenses)
                lines.append(
                    f"practice: demo partner {user.email} (licensed in {states}) "
                    f"with a profile; password {DEMO_PASSWORD}"
                )
            if not certification.is_certified(user):
                missing = certification.certification_status(user).next_step
                lines.append(
                    f"practice: {user.email} is not certified yet"
                    + (f" ({missing.label.lower()})" if missing else "")
                )
    referral, created = _waiting_patient(clinician)
    if created:
        lines.append(
            f"practice: self-referral #{referral.id} ({PATIENT['patient_name']}, "
            f"{PATIENT['state']}), eligible and waiting for a partner"
        )
    return lines or ["practice: demo profiles, partners and the waiting patient exist"]
