"""seed_practice: profiles, more certified partners, a waiting patient; safe to run again."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.certification.demo import seed_certification
from lms.certification.services import is_certified
from lms.cli import seed_demo_accounts
from lms.crypto import matches_terms
from lms.extensions import db
from lms.licensure.demo import seed_licensure
from lms.practice import services
from lms.practice.demo import OTHER_PARTNERS, PATIENT, seed_practice
from lms.practice.models import PracticeProfile
from lms.referrals.models import Referral, ReferralSource, ReferralStatus
from lms.training.demo import seed_training
from lms.training.sync import sync_all


@pytest.fixture
def demo_users(db_session) -> dict[str, User]:
    _, problems = sync_all()
    assert problems == []
    users = {user.email: user for user, _ in seed_demo_accounts()}
    seed_training(users["therapist@example.org"], users["partner@example.org"])
    seed_licensure(
        users["admin@example.org"], users["therapist@example.org"], users["partner@example.org"]
    )
    seed_certification(users["partner@example.org"])
    db.session.commit()
    return users


def _counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(PracticeProfile)),
        db.session.scalar(select(func.count()).select_from(Referral)),
    )


def test_seed_practice_is_idempotent_and_the_patient_can_be_matched(demo_users) -> None:
    clinician, partner = demo_users["clinician@example.org"], demo_users["partner@example.org"]
    first = seed_practice(clinician, partner)
    db.session.commit()
    assert any("Riverbend Counseling" in line for line in first), first
    assert not any("not certified" in line for line in first), first
    counts = _counts()

    again = seed_practice(clinician, partner)
    db.session.commit()
    assert again == ["practice: demo profiles, partners and the waiting patient exist"]
    assert _counts() == counts

    others = [db.session.scalar(select(User).where(User.email == p.email)) for p in OTHER_PARTNERS]
    states = {p.profile["state"] for p in OTHER_PARTNERS} | {"CO"}
    assert len(states) == 4  # partners in different states
    for user in [partner, *others]:
        assert is_certified(user), user.email
        assert services.profile_of(user) is not None

    # The e-mail is encrypted at rest: the patient is found by the words of the name.
    referral = db.session.scalar(
        select(Referral).where(matches_terms(Referral.search_terms, PATIENT["patient_name"]))
    )
    assert referral.email == PATIENT["email"]
    assert referral.source == ReferralSource.SELF
    assert referral.status == ReferralStatus.ELIGIBLE and referral.therapist_id is None
    assert referral.awaiting_match
    listed = [m.user.email for m in services.candidates(referral)]
    # Colorado: the demo partner and the partner also licensed there; no one else.
    assert sorted(listed) == sorted([partner.email, "ana.ruiz@partners.example.org"])
