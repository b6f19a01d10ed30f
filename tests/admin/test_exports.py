"""Every admin list's CSV export holds exactly the rows and columns the screen shows.

The lists are found from the URL map: every ``.csv`` route must be listed here with the page
it exports, so a new export cannot be added without this comparison.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from flask import url_for
from sqlalchemy import select

from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import RecordStatus
from lms.licensure.services import today
from tests.certification.conftest import give_certificate, give_insurance, give_license
from tests.payments.records import add_payment

# (page, export) pairs; each is tried with these filters.
LISTS = {
    "admin.users_csv": ("/admin/users", ["", "?role=therapist", "?q=list&status=active"]),
    "admin.therapists_csv": ("/admin/therapists", ["", "?certification=not_certified"]),
    "admin.certificates_csv": ("/admin/certificates", ["", "?q=list"]),
    "admin.audit_csv": ("/admin/audit", ["", "?action=account."]),
    "licensure.queue_csv": (
        "/admin/licensure",
        [
            "",
            "?status=all",
            "?kind=insurance&status=all",
            "?state=TX&status=all",
            "?status=all&q=person+0",
        ],
    ),
    "payments.admin_csv": ("/admin/payments", [""]),
    "analytics.index_csv": ("/admin/courses", [""]),
    "analytics.course_csv": ("/admin/courses/kap-required", [""]),
    "analytics.module_csv": ("/admin/courses/mini-course/modules/01-basics", [""]),
}


def _screen_rows(html: str, export: str) -> list[list[str]]:
    start = html.find(f'data-export="{export}"')
    if start < 0:
        return []
    body = html[start : html.index("</table>", start)]
    body = body[body.index("<tbody>") :]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td([^>]*)>(.*?)</td>", tr, re.S)
        texts = [
            unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))).strip()
            for attrs, text in cells
            if "cell-actions" not in attrs
        ]
        rows.append(["" if t == "—" else t for t in texts])  # the page's mark for "none"
    return rows


def _normalise(value: str) -> str:
    return re.sub(r"\s+", " ", value.removeprefix("'")).strip()


@pytest.fixture
def varied_data(make_user, make_certified, required_course, mini_course):
    admin = make_user("admin", full_name="List Admin", email="list.admin@example.org")
    for i in range(28):
        user = make_user(full_name=f"List Person {i:02d}", verified=i % 4 != 0)
        if i % 3 == 0:
            give_license(
                user, state="TX", license_type=LicenseType.LPC, status=RecordStatus.PENDING
            )
        elif i % 3 == 1:
            give_insurance(user, status=RecordStatus.PENDING)
        else:
            give_license(
                user,
                state="CA",
                status=RecordStatus.VERIFIED,
                reverify_on=today() - timedelta(days=1),
            )
    partner = make_certified(full_name="List Partner")
    revoked = make_certified(skip=("training",), full_name="List Revoked")
    give_certificate(revoked, required_course, revoked_at=utcnow(), revoked_reason="=1+1 error")
    make_user("clinician", full_name="List Clinician", active=False)
    from lms.training.models import Enrollment

    enrollment = db.session.scalars(
        select(Enrollment).where(Enrollment.user_id == partner.id)
    ).first()
    add_payment(partner.id, required_course.id, enrollment.id, intent="pi_list_1")
    db.session.commit()
    return admin


def test_every_csv_route_is_compared_here(app) -> None:
    exports = {r.endpoint for r in app.url_map.iter_rules() if r.rule.endswith(".csv")}
    assert exports == set(LISTS)


@pytest.mark.parametrize("export", sorted(LISTS))
def test_export_equals_screen(client, login, varied_data, export) -> None:
    page_url, queries = LISTS[export]
    login(varied_data)
    for query in queries:
        screen: list[list[str]] = []
        page = 1
        while True:
            sep = "&" if query else "?"
            response = client.get(f"{page_url}{query}{sep}page={page}")
            assert response.status_code == 200, (page_url, query)
            html = response.get_data(as_text=True)
            screen += _screen_rows(html, export)
            if 'rel="next"' not in html:
                break
            page += 1
        response = client.get(f"{page_url}.csv{query}")
        assert response.status_code == 200, (export, query)
        exported = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        body = [[_normalise(cell) for cell in row] for row in exported[1:]]
        assert body == screen, (export, query)
        if query == "":
            assert screen, f"{export}: the seeded data should show on the unfiltered page"
    recorded = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "report.exported")
    ).all()
    assert len(recorded) == len(queries)


def test_a_formula_in_user_text_is_exported_inert(client, login, varied_data, make_user) -> None:
    make_user(full_name="=SUM(A1:A9)", email="formula@example.org")
    login(varied_data)
    rows = list(csv.reader(io.StringIO(client.get("/admin/users.csv").get_data(as_text=True))))
    assert rows[1][:2] == ["'=SUM(A1:A9)", "formula@example.org"]  # newest first
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]


@pytest.mark.parametrize("export", sorted(LISTS))
def test_exports_are_for_admins_only(client, login, make_user, export) -> None:
    url = LISTS[export][0] + ".csv"
    assert "/login" in client.get(url).headers["Location"]
    login(make_user("clinician"))
    assert client.get(url).status_code == 403


# A filter each list's form refuses: the page says which, applies none, and offers no export
# (the export would refuse the same filter, and a `download` link would only fail quietly).
INVALID_FILTERS = {
    "admin.users_csv": "/admin/users?role=bogus",
    "admin.therapists_csv": "/admin/therapists?state=ZZ",
    "admin.audit_csv": "/admin/audit?date_from=notadate",
    "licensure.queue_csv": "/admin/licensure?status=bogus",
    "payments.admin_csv": "/admin/payments?date_from=notadate",
}


@pytest.mark.parametrize("export", sorted(INVALID_FILTERS))
def test_no_export_link_while_a_filter_needs_correcting(
    app, client, login, varied_data, export
) -> None:
    login(varied_data)
    bad = client.get(INVALID_FILTERS[export])
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Not a valid" in html  # the field's own message, next to it
    with app.test_request_context():
        csv_path = url_for(export)
    assert f'href="{csv_path}' not in html

    good = client.get(LISTS[export][0])
    assert good.status_code == 200
    assert f'href="{csv_path}' in good.get_data(as_text=True)
