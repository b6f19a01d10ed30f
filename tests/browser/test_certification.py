"""From applicant to certified partner, in the browser.

The applicant starts where the demo applicant (``therapist@example.org``) stands after the
course: training done, one license awaiting verification, no insurance, no agreement. The
whole course is driven through the browser in test_training_course.py, so here it is done
with the services; every remaining step is done through the pages, by the therapist and by
an admin in a second browser context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.certification import agreements, services
from lms.certification.models import AgreementAcceptance
from lms.db import utcnow
from lms.extensions import db
from lms.licensure import services as licensure
from lms.licensure.data import LicenseType
from lms.licensure.demo import tiny_pdf, tiny_png
from lms.licensure.documents import Upload
from lms.licensure.models import InsurancePolicy, License, RecordStatus
from lms.training.demo import DEMO_COURSE, complete_course_for
from lms.training.models import (
    Certificate,
    Course,
    CourseVersion,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
)
from lms.training.sync import sync_all
from tests.browser.conftest import LiveServer, UserInfo, log_in_ok, nav_link

pytestmark = pytest.mark.browser

LICENSE = "A verified license that has not expired"
INSURANCE = "Current malpractice insurance, verified"
AGREEMENT = "Current partner agreement (with the BAA) accepted"


# --- set-up shared with the other partner-tools browser tests ---------------------------------


def certify_partner(live_server: LiveServer, user: UserInfo, states: tuple[str, ...] = ("CO",)):
    """Give ``user`` everything a certified partner has, straight in the database (set-up for
    tests about the partner tools, not about certification): a certificate for a required
    course, a verified license in each of ``states``, verified insurance, the agreement."""
    with live_server.app.app_context():
        therapist = db.session.get(User, user.id)
        course = db.session.scalar(select(Course).where(Course.slug == "kap-required"))
        if course is None:
            course = Course(
                slug="kap-required", title="KAP Required Course", required_for_certification=True
            )
            db.session.add(course)
            db.session.flush()
            version = CourseVersion(course_id=course.id, number=1, label="1", content_hash="h" * 64)
            db.session.add(version)
            db.session.flush()
            course.current_version_id = version.id
        enrollment = Enrollment(
            user_id=therapist.id,
            course_id=course.id,
            course_version_id=course.current_version_id,
            status=EnrollmentStatus.COMPLETED,
            source=EnrollmentSource.FREE,
            completed_at=utcnow(),
        )
        db.session.add(enrollment)
        db.session.flush()
        db.session.add(
            Certificate(
                code=f"TEST-{therapist.id}-{course.id}",
                user_id=therapist.id,
                course_id=course.id,
                enrollment_id=enrollment.id,
                course_version_id=course.current_version_id,
                holder_name=therapist.full_name,
                course_title=course.title,
                ce_hours=Decimal("6"),
                issued_at=utcnow() - timedelta(days=10),
                expires_at=utcnow() + timedelta(days=700),
            )
        )
        day = licensure.today()
        for state in states:
            db.session.add(
                License(
                    user_id=therapist.id,
                    license_type=LicenseType.LMFT,
                    state=state,
                    number=f"MFT-{state}-{therapist.id}",
                    issued_on=day - timedelta(days=1000),
                    expires_on=day + timedelta(days=300),
                    status=RecordStatus.VERIFIED,
                )
            )
        db.session.add(
            InsurancePolicy(
                user_id=therapist.id,
                carrier="Example Mutual",
                policy_number=f"EM-{therapist.id}",
                per_claim_cents=1_000_000_00,
                aggregate_cents=3_000_000_00,
                expires_on=day + timedelta(days=200),
                status=RecordStatus.VERIFIED,
            )
        )
        services.accept_agreement(
            therapist, agreements.current().version, therapist.full_name, None
        )
        db.session.commit()
        assert services.certification_status(therapist).certified


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def applicant(live_server: LiveServer, make_user) -> UserInfo:
    """Like the demo applicant after the course: certificate issued, a license pending."""
    user = make_user("tess.applicant@example.org", full_name="Tess Applicant")
    with live_server.app.app_context():
        _, problems = sync_all()
        assert problems == []
        db.session.commit()
        therapist = db.session.get(User, user.id)
        course = db.session.scalar(select(Course).where(Course.slug == DEMO_COURSE))
        complete_course_for(therapist, course)
        licensure.add_license(
            therapist,
            {
                "license_type": LicenseType.LCSW,
                "state": "CA",
                "number": "LCSW 98765",
                "issued_on": licensure.today() - timedelta(days=800),
                "expires_on": licensure.today() + timedelta(days=500),
                "npi": None,
            },
            [Upload("california-lcsw.png", tiny_png(), "image/png")],
        )
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    return user


def _checklist(page: Page) -> Locator:
    return page.get_by_role("region", name=re.compile("certification|certified partner"))


def _item(page: Page, label: str) -> Locator:
    return _checklist(page).get_by_role("listitem").filter(has_text=label)


def _bar_filled(page: Page) -> float:
    """How much of the checklist's progress bar is filled, as drawn (0 to 1)."""
    bar = _checklist(page).get_by_role("progressbar", name="Certification progress")
    track = bar.bounding_box()
    filled = bar.locator(".progress-bar").bounding_box()
    assert track is not None and filled is not None
    return filled["width"] / track["width"]


def _acceptances(live_server: LiveServer) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(func.count()).select_from(AgreementAcceptance)) or 0


def _verify_in_queue(admin: Page, record: str, applicant_name: str) -> None:
    """The admin opens the applicant's record whose title starts with ``record`` from the
    queue, and verifies it."""
    admin.get_by_role("link", name=re.compile(rf"^Review {record}.* of {applicant_name}$")).click()
    expect(admin.get_by_role("heading", level=1)).to_be_visible()
    admin.get_by_role("radio", name="Verify").check()
    admin.get_by_label("How it was checked").fill("Checked with the issuer today")
    admin.get_by_role("button", name="Record decision").click()
    expect(admin.get_by_role("status")).to_contain_text("verified")


# --- the tests -----------------------------------------------------------------------------------


def test_the_applicant_becomes_a_certified_partner(
    new_page: Callable[..., Page],
    live_server: LiveServer,
    make_user,
    applicant: UserInfo,
    mailbox,
    tmp_path: Path,
) -> None:
    admin_user = make_user("ops@example.org", role="admin", full_name="Ops Admin")
    page = new_page()
    log_in_ok(page, applicant.email)

    # The checklist says what is done and what is missing, and what to do next.
    expect(_checklist(page)).to_contain_text("2 of 5")
    # The bar spans the card and is filled as far as the count says.
    bar = _checklist(page).get_by_role("progressbar", name="Certification progress")
    expect(bar).to_have_attribute("aria-valuetext", "2 of 5 requirements met")
    assert abs(_bar_filled(page) - 0.4) < 0.02
    assert (bar.bounding_box() or {"width": 0})["width"] > 0.8 * (
        _checklist(page).bounding_box() or {"width": 1}
    )["width"]
    expect(_item(page, "Required training completed")).to_contain_text("Done:")
    expect(_item(page, LICENSE)).to_contain_text("To do:")
    expect(_item(page, LICENSE)).to_contain_text("awaiting verification by the network")
    expect(_item(page, INSURANCE)).to_contain_text("No verified, unexpired malpractice insurance")
    expect(_item(page, AGREEMENT)).to_contain_text("To do:")
    expect(_checklist(page).get_by_role("link", name="Open the partner tools")).to_have_count(0)

    # Partner tools are closed, and say why.
    nav_link(page, "Partner tools").click()
    expect(page).to_have_url(re.compile(r"/dashboard#certification$"))
    expect(page.get_by_role("status")).to_contain_text(f"Missing: {LICENSE}")

    # The therapist adds the malpractice insurance through the form.
    certificate = tmp_path / "certificate-of-insurance.pdf"
    certificate.write_bytes(tiny_pdf("Certificate of insurance"))
    _item(page, INSURANCE).get_by_role("link", name="Add your malpractice insurance policy").click()
    page.get_by_label("Insurance carrier").fill("Example Mutual")
    page.get_by_label("Policy number").fill("EM-55-0042")
    page.get_by_label("Coverage per claim (US dollars)").fill("1000000")
    page.get_by_label("Aggregate coverage (US dollars)").fill("3000000")
    page.get_by_label("Expiry date").fill((licensure.today() + timedelta(days=200)).isoformat())
    page.get_by_label("Certificate of insurance").set_input_files(str(certificate))
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.get_by_role("status")).to_contain_text("An admin will verify it")

    # An admin verifies the license and the policy from the licensure queue.
    admin = new_page()
    log_in_ok(admin, admin_user.email)
    nav_link(admin, "Licensure queue").click()
    _verify_in_queue(admin, "LCSW license LCSW 98765", applicant.full_name)
    mailbox.wait_for_mail(applicant.email, "Verified")
    nav_link(admin, "Licensure queue").click()
    admin.get_by_label("Record").select_option("insurance")
    admin.get_by_role("button", name="Filter").click()
    _verify_in_queue(admin, "Malpractice insurance EM-55-0042", applicant.full_name)

    # Back on the dashboard only the agreement is left.
    nav_link(page, "Dashboard").click()
    expect(_checklist(page)).to_contain_text("4 of 5")
    assert abs(_bar_filled(page) - 0.8) < 0.02
    expect(_item(page, LICENSE)).to_contain_text("Done:")
    expect(_item(page, INSURANCE)).to_contain_text("Done:")
    expect(_item(page, AGREEMENT)).to_contain_text("To do:")
    _checklist(page).get_by_role("link", name="Read and accept the agreement").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Partner Agreement")

    # A wrong name is refused, and nothing is accepted.
    page.get_by_label("Type your full name to sign").fill("Tess Somebody")
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "The name you typed does not match your account"
    )
    expect(page.get_by_label("Type your full name to sign")).to_be_visible()
    assert _acceptances(live_server) == 0
    nav_link(page, "Partner tools").click()
    expect(page.get_by_role("status")).to_contain_text(f"Missing: {AGREEMENT}")
    expect(_item(page, AGREEMENT)).to_contain_text("To do:")

    # The full name, typed in another case, signs it.
    _checklist(page).get_by_role("link", name="Read and accept the agreement").first.click()
    page.get_by_label("Type your full name to sign").fill("tess  applicant")
    page.get_by_role("button", name="I agree").click()
    expect(page).to_have_url(re.compile(r"/dashboard#certification$"))
    expect(page.get_by_role("status")).to_contain_text("You accepted the partner agreement")
    expect(_checklist(page)).to_contain_text("5 of 5")
    assert abs(_bar_filled(page) - 1.0) < 0.02
    expect(page.get_by_role("heading", name="You are a certified partner")).to_be_visible()
    assert _acceptances(live_server) == 1

    _checklist(page).get_by_role("link", name="Open the partner tools").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Partner tools")
    page.get_by_role("link", name="Referrals", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your referrals")


def test_an_uncertified_therapist_opening_referrals_is_sent_to_the_checklist(
    page: Page, live_server: LiveServer, make_user, applicant: UserInfo
) -> None:
    log_in_ok(page, applicant.email)
    page.goto("/referrals")
    expect(page).to_have_url(re.compile(r"/dashboard#certification$"))
    expect(page.get_by_role("status")).to_contain_text(
        f"The partner tools open once you are certified. Missing: {LICENSE}."
    )
    expect(page.get_by_role("status")).to_contain_text("awaiting verification by the network")
    expect(_item(page, LICENSE)).to_contain_text("To do:")
    page.goto("/referrals/new")
    expect(page).to_have_url(re.compile(r"/dashboard#certification$"))
    expect(page.get_by_role("heading", name="Refer a patient")).to_have_count(0)
