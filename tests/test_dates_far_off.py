"""Dates far off (year 1 and 9999, the ends of what a date input takes) are bad input like
any other: a message in the page, never a server error.

The filters turn a day into the instants it spans in the viewer's time zone (its midnight,
and the next day's); for 9999-12-31 there is no next day, and a day of year 1 east of
Greenwich starts in year 0. Either raised ``OverflowError`` (a 500).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.extensions import db
from lms.licensure.models import InsurancePolicy, License
from tests.licensure.conftest import license_form, pdf_file, post_multipart

FAR_OFF = ("0001-01-01", "9999-12-31")


@pytest.fixture
def admin_in(make_user, login):
    """An admin whose zone is east of Greenwich (year 1 starts in year 0 in UTC)."""

    def make(zone: str = "Asia/Kolkata"):
        admin = make_user("admin", timezone=zone)
        login(admin)
        return admin

    return make


@pytest.mark.parametrize("day", FAR_OFF)
@pytest.mark.parametrize(
    "path",
    [
        "/admin/payments?date_{end}={day}",
        "/admin/payments.csv?date_{end}={day}",
        "/admin/audit?date_{end}={day}",
        "/admin/audit.csv?date_{end}={day}",
    ],
)
@pytest.mark.parametrize("end", ["from", "to"])
def test_list_filters_refuse_a_day_they_cannot_span(client, admin_in, path, day, end) -> None:
    admin_in()
    response = client.get(path.format(end=end, day=day))
    assert response.status_code == 422, response.status_code
    if response.is_json:
        assert "Enter a date between" in response.get_json()["error"]
    else:
        assert "Enter a date between" in response.get_data(as_text=True)


@pytest.mark.parametrize("day", FAR_OFF)
def test_support_metrics_refuse_a_day_they_cannot_span(client, make_user, login, day) -> None:
    login(make_user("clinician", timezone="Asia/Kolkata"))
    response = client.get(f"/clinical/support/metrics?start={day}&end={day}")
    assert response.status_code == 422
    assert "Enter a date between" in response.get_data(as_text=True)


def test_a_plausible_range_still_filters(client, admin_in) -> None:
    admin_in()
    assert client.get("/admin/payments?date_from=2020-01-01&date_to=2030-12-31").status_code == 200
    assert client.get("/admin/audit?date_from=2020-01-01&date_to=2030-12-31").status_code == 200


@pytest.mark.parametrize("field", ["issued_on", "expires_on"])
@pytest.mark.parametrize("day", FAR_OFF)
def test_a_license_with_a_date_far_off_is_refused_in_the_page(
    client, make_user, login, field, day
) -> None:
    login(make_user("therapist"))
    data = license_form(**{field: day}, documents=[pdf_file()])
    response = post_multipart(client, "/licensure/licenses/new", data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a date between 1900 and 2199." in page
    assert db.session.scalars(select(License)).first() is None


@pytest.mark.parametrize("day", FAR_OFF)
def test_an_insurance_policy_with_a_date_far_off_is_refused_in_the_page(
    client, make_user, login, day
) -> None:
    login(make_user("therapist"))
    data = {
        "carrier": "Example Mutual",
        "policy_number": "P-1",
        "per_claim": "1000000",
        "aggregate": "3000000",
        "expires_on": day,
        "documents": [pdf_file("coi.pdf")],
    }
    response = post_multipart(client, "/licensure/insurance/new", data)
    assert response.status_code == 422
    assert "Enter a date between 1900 and 2199." in response.get_data(as_text=True)
    assert db.session.scalars(select(InsurancePolicy)).first() is None
