"""Admin dashboard, therapist directory and detail: the numbers, the filters, the export."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.admin import reports
from lms.audit import AuditEvent
from lms.certification import agreements
from lms.certification import services as certification
from lms.db import utcnow
from lms.extensions import db
from lms.licensure import services as licensure
from lms.licensure.data import LicenseType
from lms.licensure.models import License, RecordStatus
from lms.licensure.services import today
from lms.training.models import Enrollment, EnrollmentSource, EnrollmentStatus
from tests.certification.conftest import (
    add_required_course,
    give_certificate,
    give_insurance,
    give_license,
)

KEYS = certification.KEYS


@pytest.fixture
def admin(make_user):
    return make_user("admin", full_name="Ada Admin")


def _flags(rows: list[reports.DirectoryRow]) -> dict[int, tuple[str, ...]]:
    return {row.user.id: tuple(row.missing) for row in rows}


def test_sql_requirements_agree_with_the_certification_rule(
    make_certified, required_course
) -> None:
    """The directory's SQL twin decides exactly as certification_status, case by case."""
    users = [
        make_certified(skip=skip, full_name=f"Combo {'-'.join(skip) or 'none'}")
        for n in range(len(KEYS) + 1)
        for skip in itertools.combinations(KEYS, n)
        if n <= 2 or n == len(KEYS)
    ]
    # Near misses the SQL must also get right: revoked or expired certificate, a license
    # expiring today (expiry counts from the date itself), a pending license, a deactivated user.
    revoked = make_certified(skip=("training",), full_name="Revoked Certificate")
    give_certificate(revoked, required_course, revoked_at=utcnow())
    expired = make_certified(skip=("license",), full_name="License Expires Today")
    give_license(expired, expires_on=today())
    pending = make_certified(skip=("license",), full_name="License Pending")
    give_license(pending, status=RecordStatus.PENDING)
    inactive = make_certified(full_name="Deactivated Partner")
    inactive.is_active = False
    db.session.commit()
    users += [revoked, expired, pending, inactive]

    now = utcnow()
    rows = reports.directory_rows(users, now)
    expected = {
        u.id: tuple(r.key for r in certification.certification_status(u, now).missing)
        for u in users
    }
    assert _flags(rows) == expected
    certified_sql = set(
        db.session.scalars(select(User.id).where(certification.certified_clause(now)))
    )
    assert certified_sql == {u.id for u in users if not expected[u.id]}
    assert len(certified_sql) == 1  # only the "none skipped" therapist
    # The dashboard hands the certificates and licensure records it has read to the rule:
    # the same answers, word for word (a pending license reads differently from none).
    for u in users:
        asked = certification.certification_status(u, now).requirements
        records = licensure.overview(u)
        given = certification.certification_status(
            u,
            now,
            certification.user_certificates(u),
            licenses=records.licenses,
            policies=records.policies,
        ).requirements
        assert [(r.key, r.met, r.detail) for r in given] == [
            (r.key, r.met, r.detail) for r in asked
        ]
    # The guard's one-statement check (required courses read inside the statement).
    assert {u.id for u in users if certification.is_certified_now(u, now)} == certified_sql
    # The same clauses as the guard reads them with the log-in session on gated pages.
    current = agreements.current()
    ridden = db.session.scalars(
        select(User.id).where(
            certification.bound_certified_clause(current.version if current else None),
            User.id.in_([u.id for u in users]),
        ),
        {"now": now, "day": now.astimezone(UTC).date()},
    )
    assert set(ridden) == certified_sql


def test_one_statement_check_needs_every_required_course(
    make_certified, required_course, make_user
) -> None:
    """With two required courses, a certificate for one of them is not enough; with none
    published, nobody is certified (fail closed), in the one-statement check as in the rule."""
    partner = make_certified()
    other_partner = make_certified()
    second = add_required_course("second-required", "Second Course")
    give_certificate(other_partner, second)
    now = utcnow()
    assert not certification.is_certified_now(partner, now)
    assert not certification.certification_status(partner, now).certified
    assert certification.is_certified_now(other_partner, now)
    for course in (required_course, second):
        course.required_for_certification = False
    db.session.commit()
    assert not certification.is_certified_now(other_partner, now)
    assert not certification.certification_status(other_partner, now).certified
    assert not certification.is_certified_now(make_user("clinician"), now)


def test_funnel_counts_each_stage_cumulatively(make_user, make_certified, required_course) -> None:
    def enrol(user, status):
        db.session.add(
            Enrollment(
                user_id=user.id,
                course_id=required_course.id,
                course_version_id=required_course.current_version_id,
                status=status,
                source=EnrollmentSource.PAID,
            )
        )
        db.session.commit()

    make_user("therapist")  # registered only
    enrol(make_user("therapist"), EnrollmentStatus.PENDING_PAYMENT)  # enrolled, not paid
    enrol(make_user("therapist"), EnrollmentStatus.ACTIVE)  # paid
    make_certified(skip=("license", "insurance", "agreement"))  # trained (completed enrolment)
    make_certified(skip=("insurance",))  # trained and licensed
    make_certified()  # certified
    licensed_only = make_user("therapist")
    give_license(licensed_only)  # licensed but never enrolled: counted only as registered
    make_user("clinician")  # staff are not in the funnel

    stages = reports.funnel(utcnow())
    assert [s.key for s in stages] == [
        "registered",
        "enrolled",
        "paid",
        "trained",
        "licensed",
        "certified",
    ]
    assert [s.count for s in stages] == [7, 5, 4, 3, 2, 1]
    assert stages[-1].share_of(stages[0].count) == 14


def test_the_dashboard_counts_the_funnel_at_most_once_a_minute(
    app, monkeypatch, make_user, make_certified
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(reports.time, "monotonic", lambda: clock[0])
    monkeypatch.setitem(app.config, "ADMIN_FUNNEL_CACHE_SECONDS", 60)
    monkeypatch.setattr(reports, "_funnel_memo", {})
    make_user("therapist")
    first, counted = reports.recent_funnel(utcnow())
    assert first[0].count == 1
    make_user("therapist")
    clock[0] += 59
    again, counted_again = reports.recent_funnel(utcnow())
    assert again[0].count == 1 and counted_again == counted  # the minute-old count
    clock[0] += 2
    fresh, counted_fresh = reports.recent_funnel(utcnow())
    assert fresh[0].count == 2 and counted_fresh > counted


def test_dashboard_lists_what_needs_action_oldest_first(
    client, login, admin, make_user, make_certified
) -> None:
    older = make_user("therapist", full_name="Olive Older")
    newer = make_user("therapist", full_name="Nina Newer")
    give_license(newer, status=RecordStatus.PENDING, submitted_at=utcnow() - timedelta(days=1))
    give_license(older, status=RecordStatus.PENDING, submitted_at=utcnow() - timedelta(days=9))
    soon = make_certified(full_name="Sam Soon")
    give_insurance(soon, expires_on=today() + timedelta(days=12), carrier="Soon Mutual")
    give_insurance(soon, expires_on=today() + timedelta(days=45), carrier="Later Mutual")
    waiting = give_insurance(
        newer, status=RecordStatus.PENDING, carrier="Waiting Mutual", submitted_at=utcnow()
    )
    login(admin)
    assert client.get("/dashboard").headers["Location"].endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Onboarding funnel" in page
    assert page.index("Olive Older") < page.index("Nina Newer")
    assert "Soon Mutual" in page and "Later Mutual" not in page
    assert "(12 days)" in page
    # Each row links to its record's page (the links are built once per box kind).
    pending = db.session.scalars(select(License).where(License.user_id == older.id)).one()
    assert f'<a href="/admin/licensure/licenses/{pending.id}">Olive Older</a>' in page
    assert f'<a href="/admin/users/{soon.id}">Sam Soon</a>' in page
    assert f'<a href="/admin/licensure/insurance/{waiting.id}">Nina Newer</a>' in page


def test_directory_rows_list_each_therapists_license_states_and_types(
    make_user, count_queries
) -> None:
    """The states and types shown for each therapist are those of their licenses that were
    not rejected, each once; two statements for the page, whatever its number of rows."""
    many = make_user("therapist", full_name="Many Licenses")
    give_license(many, state="NY", license_type=LicenseType.LCSW, number="A")
    give_license(many, state="CO", license_type=LicenseType.LMFT, number="B")
    give_license(many, state="NY", license_type=LicenseType.LMFT, number="C")
    give_license(
        many, state="CA", license_type=LicenseType.LPC, number="D", status=RecordStatus.PENDING
    )
    give_license(
        many,
        state="TX",
        license_type=LicenseType.PSYCHOLOGIST,
        number="E",
        status=RecordStatus.REJECTED,
    )
    rejected = make_user("therapist", full_name="Only Rejected")
    give_license(rejected, state="WA", status=RecordStatus.REJECTED)
    none = make_user("therapist", full_name="No License")
    users = [many, rejected, none]
    with count_queries as q:
        rows = {r.user.id: r for r in reports.directory_rows(users, utcnow())}
    assert q.count == 2  # the requirement flags, the licenses
    assert rows[many.id].states == ["CA", "CO", "NY"]
    assert rows[many.id].license_types == sorted(
        {LicenseType.LCSW.short, LicenseType.LMFT.short, LicenseType.LPC.short}
    )
    assert rows[rejected.id].states == [] and rows[rejected.id].license_types == []
    assert rows[none.id].states == [] and rows[none.id].license_types == []


def test_dashboard_record_boxes_read_together_match_each_box_read_alone(
    app, make_user, count_queries
) -> None:
    """The four boxes of records (licenses and policies awaiting a decision, verified ones
    expiring within 30 days) are read in one statement: each box holds exactly its own
    first rows, in its order (ties broken by id), with its kind's columns, and its total."""
    from lms.licensure.models import InsurancePolicy

    people = [make_user("therapist", full_name=f"Person {i:02d}") for i in range(12)]
    now = utcnow()
    for i, person in enumerate(people):
        # Awaiting: eleven of each kind, two pairs submitted at the same instant.
        submitted = now - timedelta(days=20 - i // 2 * 2)
        if i < 11:
            give_license(
                person,
                status=RecordStatus.PENDING,
                submitted_at=submitted,
                state=["CO", "NY", "CA"][i % 3],
                number=f"P-{i}",
            )
            give_insurance(
                person,
                status=RecordStatus.PENDING,
                submitted_at=submitted,
                carrier=f"Carrier {i}",
                policy_number=f"Q-{i}",
            )
        # Expiring: ten of each kind inside the window, one outside, one not verified.
        for kind, number in (("license", f"E-{i}"), ("insurance", f"F-{i}")):
            day = today() + timedelta(days=(3 * i) % 12 + 1 if i < 10 else 31)  # ties: by id
            status = RecordStatus.VERIFIED if i != 11 else RecordStatus.REJECTED
            if kind == "license":
                give_license(person, expires_on=day, status=status, number=number)
            else:
                give_insurance(person, expires_on=day, status=status, policy_number=number)

    def alone(model, *conditions, by):
        return list(
            db.session.execute(
                select(model.id, model.user_id).where(*conditions).order_by(by, model.id)
            )
        )

    until = today() + timedelta(days=30)
    expected = {
        ("awaiting", "license"): alone(
            License, License.status == RecordStatus.PENDING, by=License.submitted_at
        ),
        ("awaiting", "insurance"): alone(
            InsurancePolicy,
            InsurancePolicy.status == RecordStatus.PENDING,
            by=InsurancePolicy.submitted_at,
        ),
        ("expiring", "license"): alone(
            License,
            License.status == RecordStatus.VERIFIED,
            License.expires_on > today(),
            License.expires_on <= until,
            by=License.expires_on,
        ),
        ("expiring", "insurance"): alone(
            InsurancePolicy,
            InsurancePolicy.status == RecordStatus.VERIFIED,
            InsurancePolicy.expires_on > today(),
            InsurancePolicy.expires_on <= until,
            by=InsurancePolicy.expires_on,
        ),
    }
    assert [len(rows) for rows in expected.values()] == [11, 11, 10, 10]
    with count_queries as q:
        boxes = reports.dashboard_boxes(utcnow(), today())
    assert q.count == 4  # the counts, the records' rows, the referrals, the requests
    names = {p.id: p.full_name for p in people}
    for (group, kind), rows in expected.items():
        box = boxes[group][kind]
        assert box.total == len(rows), (group, kind)
        assert [(r.id, r.user_id) for r in box.items] == rows[: reports.BOX_ROWS], (group, kind)
        for item in box.items:
            assert item.full_name == names[item.user_id]
            if kind == "license":
                assert item.license_type == LicenseType.LMFT and item.state in ("CO", "NY", "CA")
                assert item.carrier is None
            else:
                assert item.carrier.startswith(("Carrier", "Example"))
                assert item.license_type is None and item.state is None
            assert item.submitted_at is not None and item.expires_on is not None


def test_dashboard_boxes_show_referrals_and_overdue_requests_decrypting_nothing(
    client, login, admin, make_certified, request
) -> None:
    """The boxes read the columns they show: the patients' details and what therapists wrote
    to the medical team stay encrypted while an admin reads the dashboard."""
    from lms.referrals import services as referrals
    from lms.support import services as support
    from tests.referrals.conftest import referral_data
    from tests.referrals.test_self_referrals import SELF

    partner = make_certified(full_name="Paula Partner")
    sent = referrals.create_referral(partner, referral_data(patient_name="Ann Patient"))
    own = referrals.create_self_referral({**SELF, "patient_name": "Sol Self"})
    overdue = support.file_request(
        partner,
        {
            "category": "medication",
            "urgency": "urgent",
            "subject": "Dizzy patient after the dose",
            "description": "BP 150/95.",
            "callback_phone": "303-555-0100",
        },
        now=utcnow() - timedelta(hours=2),
    )
    db.session.commit()
    login(admin)
    client.get("/admin/")  # the log-in's own reads (a two-step secret) are not the page's
    decrypted = request.getfixturevalue("decryptions")  # from here on
    page = client.get("/admin/").get_data(as_text=True)
    assert (
        f'<a href="/clinical/referrals/{sent.id}">Referral #{sent.id}</a> · CO · from Paula Partner'
        in page
    )
    assert (
        f'<a href="/clinical/referrals/{own.id}">Referral #{own.id}</a> · CO · from Self-referral'
        in page
    )
    assert f'<a href="/clinical/support/{overdue.id}">Request #{overdue.id}</a> · Urgent' in page
    shown = {"Ann Patient", "Sol Self", "Dizzy patient after the dose", "BP 150/95."}
    assert not shown & set(decrypted), decrypted


def _screen_rows(html: str) -> list[list[str]]:
    body = html[html.index('id="directory"') :]
    body = body[: body.index("</table>")]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        texts = [unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c))).strip() for c in cells]
        rows.append(["" if t == "—" else t for t in texts])
    return rows


def test_export_has_exactly_the_rows_and_columns_of_the_screen(
    app, client, login, admin, make_user, make_certified
) -> None:
    for i in range(30):
        user = make_user("therapist", full_name=f"Directory Person {i:02d}")
        if i % 3 == 0:
            give_license(user, state="CA", license_type=LicenseType.LCSW)
        elif i % 3 == 1:
            give_license(user, state="NY", license_type=LicenseType.LMFT)
    make_certified(full_name="Directory Certified")
    make_user("therapist", full_name="=HYPERLINK(1) Directory")
    login(admin)
    for query in ("", "?state=CA", "?q=directory&sort=name", "?certification=missing_license"):
        screen: list[list[str]] = []
        page = 1
        while True:
            sep = "&" if query else "?"
            html = client.get(f"/admin/therapists{query}{sep}page={page}").get_data(as_text=True)
            screen += _screen_rows(html)
            if 'rel="next"' not in html:
                break
            page += 1
        response = client.get(f"/admin/therapists.csv{query}")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        exported = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert exported[0] == reports.CSV_HEADER
        body = [[cell.removeprefix("'") for cell in row] for row in exported[1:]]
        assert body == screen
        assert len(body) > 0
    whole = client.get("/admin/therapists.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1) Directory" in whole  # a formula is never exported live
    exports = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "report.exported")
    ).all()
    assert len(exports) == 5 and exports[-1].details["report"] == "therapists"


def test_directory_filters_by_state_type_certification_and_sorts(
    client, login, admin, make_user, make_certified
) -> None:
    ca = make_user("therapist", full_name="Carla California")
    give_license(ca, state="CA", license_type=LicenseType.LCSW)
    ny = make_user("therapist", full_name="Nora Newyork")
    give_license(ny, state="NY", license_type=LicenseType.LMFT)
    rejected = make_user("therapist", full_name="Rita Rejected")
    give_license(rejected, state="CA", status=RecordStatus.REJECTED)
    make_certified(full_name="Cecil Certified")  # licensed in CO
    login(admin)

    def names(query: str) -> list[str]:
        html = client.get(f"/admin/therapists?{query}").get_data(as_text=True)
        return [row[0] for row in _screen_rows(html)] if 'id="directory"' in html else []

    assert names("state=CA") == ["Carla California"]  # a rejected license does not count
    assert names("license_type=lmft") == ["Cecil Certified", "Nora Newyork"]  # newest first
    assert names("certification=certified") == ["Cecil Certified"]
    assert "Cecil Certified" not in names("certification=not_certified")
    assert names("certification=missing_license") == ["Rita Rejected"]
    assert names("q=nora") == ["Nora Newyork"]
    assert names("sort=name") == sorted(names("sort=name"), key=str.lower)
    assert names("sort=-name") == list(reversed(names("sort=name")))
    bad = client.get("/admin/therapists?state=XX")
    assert bad.status_code == 422 and "Not a valid choice" in bad.get_data(as_text=True)


def test_the_unfiltered_directory_writes_its_role_and_page_size(
    client, login, admin, make_user, count_queries
) -> None:
    """The directory's role is written into its SQL, and unfiltered its page's size too: a
    statement with nothing sent, which PostgreSQL plans once (docs/PERFORMANCE.md, "The
    seventeenth round"); a filtered view sends its values and its size. Two pages list
    every therapist once, and no one else."""
    made = {make_user("therapist", full_name=f"Listed {i:02d}").id for i in range(30)}
    make_user("clinician", full_name="Not A Therapist")
    login(admin)

    def page(query: str) -> tuple[set[str], str]:
        with count_queries as q:
            html = client.get(f"/admin/therapists?{query}").get_data(as_text=True)
        (sql,) = [s for s in q.statements if "last_login_at" in s and "user_sessions" not in s]
        ids = {int(i) for i in re.findall(r'<a href="/admin/users/(\d+)">', html)}
        return ids, " ".join(sql.split())

    first, sql = page("")
    assert "'therapist'" in sql and "LIMIT 25" in sql
    second, sql = page("page=2")
    assert "LIMIT 25 OFFSET 25" in sql
    assert first | second == made and not first & second
    searched, sql = page("q=listed")
    assert searched == first and "'therapist'" in sql and "LIMIT 25" not in sql


def test_directory_queries_do_not_grow_with_the_rows(
    client, login, admin, make_user, count_queries
) -> None:
    login(admin)

    def run() -> int:
        with count_queries as counter:
            assert client.get("/admin/therapists").status_code == 200
        return counter.count

    for i in range(3):
        give_license(make_user("therapist", full_name=f"Few {i}"))
    few = run()
    for i in range(40):
        give_license(make_user("therapist", full_name=f"Many {i}"))
    assert run() == few
    assert few <= 12


def test_directory_reads_its_rows_as_columns_not_accounts(client, login, admin, make_user) -> None:
    """A page (and a search) of the directory loads no account but the viewer's own: the
    rows are the five columns it shows, and the screen and CSV still show them."""
    from sqlalchemy import event

    for i in range(4):
        give_license(make_user("therapist", full_name=f"Column Reader {i}"))
    login(admin)
    client.get("/admin/therapists")  # the log-in's own loads are not the page's
    loaded: list[int] = []

    def on_load(target, _context) -> None:
        loaded.append(target.id)

    event.listen(User, "load", on_load)
    try:
        plain = client.get("/admin/therapists").get_data(as_text=True)
        searched = client.get("/admin/therapists?q=column+reader").get_data(as_text=True)
        csv = client.get("/admin/therapists.csv?q=column+reader").get_data(as_text=True)
    finally:
        event.remove(User, "load", on_load)
    assert set(loaded) <= {admin.id}, loaded
    assert [row[0] for row in _screen_rows(searched)] == [
        f"Column Reader {i}" for i in (3, 2, 1, 0)
    ]
    assert "Column Reader 0" in plain and "therapist" in searched
    assert csv.count("Column Reader") == 4 and "@example.org" in csv


def test_therapist_detail_shows_the_whole_record_and_revokes_back_to_it(
    client, login, admin, make_certified
) -> None:
    partner = make_certified(full_name="Petra Partner")
    login(admin)
    page = client.get(f"/admin/users/{partner.id}").get_data(as_text=True)
    for text in ("Certification", "Certified", "Training", "Certificates", "TEST-", "LMFT · CO"):
        assert text in page
    certificate = certification.user_certificates(partner)[0]
    response = client.post(
        f"/admin/certificates/{certificate.id}/revoke",
        data={"reason": "Issued in error", "from": "user"},
    )
    assert response.headers["Location"].endswith(f"/admin/users/{partner.id}")
    page = client.get(f"/admin/users/{partner.id}").get_data(as_text=True)
    assert "Revoked" in page and "Issued in error" in page
    assert "4 of 5 requirements met" in page
    assert not certification.is_certified(partner)


@pytest.mark.parametrize("url", ["/admin/", "/admin/therapists", "/admin/therapists.csv"])
def test_only_admins_open_the_reports(client, login, make_user, make_certified, url) -> None:
    assert "/login" in client.get(url).headers["Location"]
    for user in (make_user("clinician"), make_certified()):
        login(user)
        assert client.get(url).status_code == 403
        client.post("/logout")


def test_export_is_counted_once_per_download(client, login, admin) -> None:
    login(admin)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    client.get("/admin/therapists.csv?certification=certified")
    after = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert after == before + 1


def test_directory_says_how_many_match_in_words(client, login, admin, make_user) -> None:
    """ "1 therapist matches", "2 therapists match", "0 therapists match" these filters."""
    make_user("therapist", full_name="Grammar One")
    make_user("therapist", full_name="Grammar Two")
    login(admin)
    pages = {
        q: client.get(f"/admin/therapists?q={q}").get_data(as_text=True)
        for q in ("grammar+one", "grammar", "nobody-here")
    }
    assert "1 therapist matches these filters." in pages["grammar+one"]
    assert "2 therapists match these filters." in pages["grammar"]
    assert "0 therapists match these filters." in pages["nobody-here"]


def test_directory_does_not_say_invalid_filters_were_applied(
    client, login, admin, make_user
) -> None:
    make_user("therapist", full_name="Unfiltered One")
    login(admin)
    page = client.get("/admin/therapists?state=ZZ")
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Not a valid choice." in html
    assert "match these filters" not in html and "matches these filters" not in html
    assert "(the filters above were not applied: correct the one marked)." in html
    # Only a sort is no filter either.
    sorted_only = client.get("/admin/therapists?sort=name").get_data(as_text=True)
    assert "these filters" not in sorted_only and "not applied" not in sorted_only
