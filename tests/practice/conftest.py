"""Matching fixtures: certified partners with practice profiles, self-referrals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from lms.accounts.models import User
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.practice import services
from lms.practice.models import PracticeProfile
from lms.referrals import services as referral_services
from lms.referrals.models import Referral, ReferralStatus
from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    give_license,
    make_certified,
    required_course,
)

PATIENT_NAME = "Robin Q Alvarez"
PATIENT_EMAIL = "robin.patient@example.net"
PATIENT_PHONE = "720-555-0142"


def profile_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "practice_name": "Riverbend Counseling",
        "city": "Denver",
        "state": "CO",
        "zip_code": "80205",
        "in_person": True,
        "telehealth": True,
        "conditions": ["panic", "depression"],
        "approaches": ["ifs"],
        "other_approaches": None,
        "languages": ["en"],
        "fees": "$160 per session",
        "accepting_new_clients": True,
    }
    values.update(overrides)
    return values


def intake_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "patient_name": PATIENT_NAME,
        "email": PATIENT_EMAIL,
        "phone": PATIENT_PHONE,
        "state": "CO",
        "age_band": "35_44",
        "conditions": ["panic", "depression"],
        "modality": "either",
        "language": "en",
        "location": "Denver",
        "consent": True,
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_partner(make_certified) -> Callable[..., User]:  # noqa: F811
    """A certified therapist (licensed in CO, and in ``states``) with a practice profile."""

    def make(
        *,
        states: tuple[str, ...] = (),
        skip: tuple[str, ...] = (),
        profile: dict[str, Any] | None = None,
        **user_kwargs: Any,
    ) -> User:
        user = make_certified(skip=skip, **user_kwargs)
        for state in states:
            give_license(
                user, state=state, number=f"LPC-{state}-{user.id}", license_type=LicenseType.LPC
            )
        if profile is not False:
            services.save_profile(user, profile_values(**(profile or {})))
            db.session.commit()
        return user

    return make


@pytest.fixture
def make_self_referral(db_session: Any) -> Callable[..., Referral]:
    def make(now: datetime | None = None, **overrides: Any) -> Referral:
        referral = referral_services.create_self_referral(intake_data(**overrides), now)
        db.session.commit()
        return referral

    return make


@pytest.fixture
def make_eligible(make_self_referral, make_user) -> Callable[..., Referral]:
    """A self-referral the medical intake found eligible, waiting for a partner."""

    def make(clinician: User | None = None, **overrides: Any) -> Referral:
        clinician = clinician or make_user("clinician")
        referral = make_self_referral(**overrides)
        for status in (
            ReferralStatus.CONTACTED,
            ReferralStatus.INTAKE_SCHEDULED,
            ReferralStatus.ELIGIBLE,
        ):
            referral_services.change_status(referral, status, clinician)
        db.session.commit()
        return referral

    return make


def profile_of(user: User) -> PracticeProfile:
    profile = services.profile_of(user)
    assert profile is not None
    return profile
