"""The long lists beyond the key pages, and their CSV exports: a fixed number of statements
whatever the number of rows, with every row belonging to a therapist of its own.

A list whose rows all belong to one person cannot show an N+1: its rows' person is read
once and then found in the session. Here each row has its own therapist, as in a real
network, so a list that read each row's therapist (or course) lazily would run one more
statement a row. Found this way at seeded scale: the licensure queue (28 statements a page,
its CSV 3,793), the payments (29; CSV 4,370) and the referral pipeline (22).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from lms.accounts.models import Role, User
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import RecordStatus
from lms.referrals import services as referrals
from lms.training.models import Course
from tests.certification.conftest import give_certificate, give_insurance, give_license
from tests.conftest import QueryCounter
from tests.payments.records import add_payment
from tests.perf.conftest import statements
from tests.referrals.conftest import referral_data

# More rows than a page shows (25), each with its own therapist.
ROWS = 30

LISTS = [
    "/admin/licensure",
    "/admin/licensure?kind=insurance",
    "/admin/licensure?status=all",
    "/admin/licensure.csv?status=all",
    "/admin/licensure.csv?kind=insurance&status=all",
    "/admin/payments",
    "/admin/payments.csv",
    "/clinical/referrals",
    "/admin/certificates",
    "/admin/certificates.csv",
    "/admin/users",
    "/admin/users.csv",
    "/admin/therapists",
    "/admin/therapists.csv",
    "/admin/audit",
]


def add_therapists(make_user: Callable[..., User], n: int, course: Course, start: int) -> None:
    """``n`` therapists, each with the rows every list shows: a verified license (in CO,
    where they refer a patient) and a pending one, a pending insurance policy, a certificate
    and the payment for its course."""
    for i in range(start, start + n):
        user = make_user(Role.THERAPIST, full_name=f"Row Therapist {i:03d}")
        give_license(user)
        give_license(
            user,
            state="TX",
            license_type=LicenseType.LPC,
            number=f"LPC-{user.id}",
            status=RecordStatus.PENDING,
        )
        give_insurance(user, status=RecordStatus.PENDING)
        certificate = give_certificate(user, course)  # with its (completed) enrolment
        add_payment(user.id, course.id, certificate.enrollment_id, intent=f"pi_row_{i}")
        referrals.create_referral(user, referral_data(email=f"patient{i}@example.net"))
        db.session.commit()


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN)


def test_long_lists_run_the_same_statements_with_few_and_many_rows(
    client: FlaskClient,
    login: Any,
    admin: User,
    make_user: Callable[..., User],
    required_course: Course,
    count_queries: QueryCounter,
) -> None:
    add_therapists(make_user, 2, required_course, 0)
    login(admin)
    few = {url: statements(client, count_queries, url) for url in LISTS}
    add_therapists(make_user, ROWS, required_course, 2)
    many = {url: statements(client, count_queries, url) for url in LISTS}
    for url in LISTS:
        assert few[url][1].status_code == 200 and many[url][1].status_code == 200, url
    # The rows are there: the test would pass on empty lists otherwise.
    assert "Row Therapist 031" in many["/admin/payments.csv"][1].get_data(as_text=True)
    assert many["/admin/licensure.csv?status=all"][1].get_data(as_text=True).count("\n") > ROWS
    grew = {url: (few[url][0], many[url][0]) for url in LISTS if few[url][0] != many[url][0]}
    assert not grew, f"statements with 2 rows → with {ROWS + 2}: {grew}"
