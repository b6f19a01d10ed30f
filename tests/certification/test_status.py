"""The certification service: every requirement, met or missing, decides alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms.certification import services
from lms.certification.services import KEYS, certification_status, is_certified
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.models import RecordStatus
from lms.licensure.services import today
from tests.certification.conftest import give_insurance, give_license


def test_a_therapist_meeting_every_requirement_is_certified(make_certified) -> None:
    user = make_certified()
    status = certification_status(user)
    assert [r.key for r in status.requirements] == list(KEYS)
    assert status.certified and status.met_count == status.total == 5
    assert status.next_step is None
    assert is_certified(user)


@pytest.mark.parametrize("missing", KEYS)
def test_each_missing_requirement_alone_blocks_certification(make_certified, missing) -> None:
    user = make_certified(skip=(missing,))
    status = certification_status(user)
    assert not is_certified(user)
    assert [r.key for r in status.missing] == [missing]
    assert status.next_step.key == missing
    assert status.met_count == 4
    assert status.next_step.detail


def test_staff_are_never_certified(make_user, agreements_dir) -> None:
    assert not is_certified(make_user("admin"))
    assert not is_certified(make_user("clinician"))


def test_no_required_course_published_fails_closed(make_user, agreements_dir) -> None:
    user = make_user("therapist")
    requirement = certification_status(user).get("training")
    assert not requirement.met and "not published" in requirement.detail


def test_deactivated_account_is_not_certified(make_certified) -> None:
    user = make_certified()
    user.is_active = False
    db.session.commit()
    assert certification_status(user).get("account").detail == "Your account is deactivated."
    assert not is_certified(user)


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"revoked_at": utcnow()}, "No valid certificate"),
        ({"expires_at": utcnow() - timedelta(seconds=1)}, "No valid certificate"),
    ],
)
def test_a_revoked_or_expired_certificate_does_not_count(
    make_certified, required_course, overrides, words
) -> None:
    from tests.certification.conftest import give_certificate

    user = make_certified(skip=("training",))
    give_certificate(user, required_course, **overrides)
    requirement = certification_status(user).get("training")
    assert not requirement.met and words in requirement.detail
    assert requirement.next_endpoint == "training.course"


@pytest.mark.parametrize(
    "status", [RecordStatus.PENDING, RecordStatus.REJECTED, RecordStatus.EXPIRED]
)
def test_only_a_verified_license_counts(make_certified, status) -> None:
    user = make_certified(skip=("license",))
    give_license(user, status=status)
    requirement = certification_status(user).get("license")
    assert not requirement.met
    if status == RecordStatus.PENDING:
        assert "awaiting verification" in requirement.detail


def test_a_verified_license_expiring_today_does_not_count_even_before_the_job(
    make_certified,
) -> None:
    user = make_certified(skip=("license",))
    give_license(user, expires_on=today() + timedelta(days=1))
    assert is_certified(user)
    tomorrow = utcnow() + timedelta(days=1)
    assert not is_certified(user, tomorrow)  # still VERIFIED in the database


def test_expired_insurance_ends_certification(make_certified) -> None:
    user = make_certified(skip=("insurance",))
    give_insurance(user, expires_on=today() + timedelta(days=2))
    assert is_certified(user)
    assert not is_certified(user, utcnow() + timedelta(days=2))


def test_no_agreement_published_fails_closed(make_certified, agreements_dir) -> None:
    user = make_certified()
    for path in agreements_dir.glob("v*.md"):
        path.unlink()
    requirement = certification_status(user).get("agreement")
    assert not requirement.met and "No partner agreement" in requirement.detail


def test_user_certificates_lists_newest_first(make_certified) -> None:
    user = make_certified()
    assert [c.user_id for c in services.user_certificates(user)] == [user.id]
