"""A therapist never sees or changes another therapist's patients' outcomes, by any URL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.outcomes.models import Measurement
from tests.outcomes.conftest import GAD7_16, PHQ9_ITEM9

DAY = (date.today() - timedelta(days=1)).isoformat()
ANSWERS = {f"item{n}": "1" for n in range(1, 10)} | {"administered_on": DAY}


def _urls(referral_id: int, measurement_id: int) -> tuple[list[str], list[str]]:
    gets = [
        f"/outcomes/patients/{referral_id}",
        f"/outcomes/patients/{referral_id}/new?instrument=gad7",
        f"/outcomes/patients/{referral_id}/new?instrument=phq9",
        f"/outcomes/measurements/{measurement_id}",
        f"/outcomes/measurements/{measurement_id}/edit",
    ]
    posts = [
        f"/outcomes/patients/{referral_id}/new?instrument=gad7",
        f"/outcomes/patients/{referral_id}/new?instrument=phq9",
        f"/outcomes/measurements/{measurement_id}/edit",
        f"/outcomes/measurements/{measurement_id}/delete",
    ]
    return gets, posts


def _snapshot() -> list[tuple]:
    return [
        (m.id, m.total, tuple(m.answers), m.administered_on)
        for m in db.session.scalars(select(Measurement).order_by(Measurement.id))
    ]


def test_another_therapist_gets_404_everywhere_and_changes_nothing(
    client, make_certified, make_referral, login, record
) -> None:
    owner, other = make_certified(), make_certified()
    referral = make_referral(owner, patient_name="Olive Owned", email="olive@example.net")
    row = record(referral, "phq9", PHQ9_ITEM9)
    record(referral, "gad7", GAD7_16)
    mine = make_referral(other, patient_name="Mine Only", email="mine@example.net")
    before = _snapshot()
    login(other)
    gets, posts = _urls(referral.id, row.id)
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, data=ANSWERS).status_code == 404, url
    db.session.expire_all()
    assert _snapshot() == before
    summary = client.get("/outcomes").get_data(as_text=True)
    assert "Olive Owned" not in summary and "Mine Only" in summary
    assert "0 of 1 referred patient has" in summary
    # Searching for the other therapist's patient finds nothing either.
    assert "Olive Owned" not in client.get("/outcomes?q=olive").get_data(as_text=True)
    # Ids that do not exist look the same as ids that are not theirs.
    gets, posts = _urls(referral.id + 1000, row.id + 1000)
    for url in gets:
        assert client.get(url).status_code == 404, url
    # Their own patient is fine.
    assert client.get(f"/outcomes/patients/{mine.id}").status_code == 200


def test_a_therapist_cannot_record_against_anothers_referral_by_service(
    make_certified, make_referral
) -> None:
    from lms.outcomes import services

    owner, other = make_certified(), make_certified()
    referral = make_referral(owner)
    yesterday = services.local_today(owner) - timedelta(days=1)
    with pytest.raises(services.OutcomeError, match="your own referred patients only"):
        services.record_measurement(referral, "gad7", [0] * 7, yesterday, other)
    assert db.session.scalar(select(func.count()).select_from(Measurement)) == 0


def test_an_uncertified_therapist_is_sent_to_the_checklist(
    client, make_certified, make_referral, login, record
) -> None:
    user = make_certified()
    referral = make_referral(user)
    row = record(referral, "gad7", GAD7_16)
    from lms.licensure.models import License

    for lic in db.session.scalars(select(License).where(License.user_id == user.id)):
        lic.expires_on = date.today() - timedelta(days=1)
    db.session.commit()
    login(user)
    gets, posts = _urls(referral.id, row.id)
    for url in ["/outcomes", *gets]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/dashboard#certification"), url
    for url in posts:
        assert client.post(url, data=ANSWERS).status_code == 302, url
    assert db.session.scalar(select(func.count()).select_from(Measurement)) == 1


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_staff_get_403(client, make_certified, make_referral, make_user, login, record, role):
    referral = make_referral(make_certified())
    row = record(referral, "gad7", GAD7_16)
    login(make_user(role))
    gets, posts = _urls(referral.id, row.id)
    for url in ["/outcomes", *gets]:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url, data=ANSWERS).status_code == 403, url


def test_anonymous_visitors_go_to_log_in(client, make_certified, make_referral, record) -> None:
    referral = make_referral(make_certified())
    row = record(referral, "gad7", GAD7_16)
    gets, posts = _urls(referral.id, row.id)
    for url in ["/outcomes", *gets]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    for url in posts:
        assert client.post(url, data=ANSWERS).status_code in {302, 401}, url
