"""Referral fixtures: the certification fixtures, plus a referral helper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from lms.accounts.models import User
from lms.extensions import db
from lms.referrals import services
from lms.referrals.models import Referral
from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)

CONCERN_TEXT = "Generalized anxiety"
MEDICATION = "Sertraline 50mg"


def referral_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "patient_name": "Jane Q Doe",
        "date_of_birth": date(1985, 4, 2),
        "email": "jane.patient@example.net",
        "phone": "303-555-0100",
        "state": "CO",
        "primary_concern": "generalized_anxiety",
        "prior_treatments": "CBT for two years",
        "current_medications": MEDICATION,
        "gad7": 15,
        "phq9": 9,
        "consent": True,
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_referral(db_session: Any) -> Callable[..., Referral]:
    def make(therapist: User, **overrides: Any) -> Referral:
        referral = services.create_referral(therapist, referral_data(**overrides))
        db.session.commit()
        return referral

    return make
