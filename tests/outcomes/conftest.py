"""Outcome fixtures: certified therapists (certification fixtures), their referrals, and
measurements recorded through the service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from lms.accounts.models import User
from lms.extensions import db
from lms.outcomes import services
from lms.outcomes.models import Measurement
from lms.referrals.models import Referral
from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)
from tests.referrals.conftest import make_referral, referral_data  # noqa: F401 - fixture

# PHQ-9 answers: total 13 (moderate), item 9 = 0; the same with item 9 = 2 (total 15).
PHQ9_13 = [2, 2, 2, 2, 1, 2, 1, 1, 0]
PHQ9_ITEM9 = [2, 2, 2, 2, 1, 2, 1, 1, 2]
GAD7_16 = [3, 2, 3, 2, 2, 2, 2]
GAD7_3 = [1, 0, 1, 0, 0, 1, 0]


def answers_for(total: int, items: int) -> list[int]:
    """Answers (0-3, item 9 kept at 0 for PHQ-9) adding up to ``total``."""
    out = [0] * items
    left = total
    for i in range(items - 1 if items == 9 else items):
        out[i] = min(3, left)
        left -= out[i]
    assert left == 0, f"{total} does not fit in {items} items"
    return out


@pytest.fixture
def record(db_session: Any) -> Callable[..., Measurement]:
    def make(
        referral: Referral,
        instrument: str,
        answers: list[int] | int,
        day: date | None = None,
        by: User | None = None,
    ) -> Measurement:
        if isinstance(answers, int):
            answers = answers_for(answers, 7 if instrument == "gad7" else 9)
        referral = db.session.get(Referral, referral.id)  # the client's requests detach it
        actor = db.session.get(User, by.id) if by else referral.therapist
        day = day or services.local_today(actor) - timedelta(days=1)
        row = services.record_measurement(referral, instrument, answers, day, actor)
        db.session.commit()
        return row

    return make
