"""Outcome tracking in the browser: a certified partner records a PHQ-9 for a referred patient
by clicking the answers, sees the total, the band and the safety prompt; an unanswered item
is refused with the other answers kept; the pages pass axe and fit a phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from lms.accounts.models import User
from lms.extensions import db
from lms.outcomes import services as outcome_services
from lms.referrals import services as referral_services
from lms.referrals.models import Referral
from lms.training.models import Course, CourseVersion
from tests.browser.conftest import LiveServer, UserInfo, log_in_ok, nav_link
from tests.certification.conftest import (
    accept_current,
    give_certificate,
    give_insurance,
    give_license,
)
from tests.referrals.conftest import referral_data

pytestmark = pytest.mark.browser

PATIENT = "Jane Q Doe"
AXE = Axe()
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
# PHQ-9 answers by item: labels to click. Total 1+2+1+0+1+1+0+0+1 = 7 (mild), item 9 above 0.
PHQ9_CLICKS = [
    "Several days",
    "More than half the days",
    "Several days",
    "Not at all",
    "Several days",
    "Several days",
    "Not at all",
    "Not at all",
    "Several days",
]


@pytest.fixture
def certified_partner(live_server: LiveServer, make_user) -> Callable[..., tuple[UserInfo, int]]:
    """A therapist meeting every certification requirement (training certificate for a
    required course, verified Colorado license, insurance, current agreement), with one
    referred patient in Colorado. Returns the user and the referral id."""

    def make(email: str = "pat.partner@example.org") -> tuple[UserInfo, int]:
        info = make_user(email, full_name="Pat Partner")
        with live_server.app.app_context():
            course = Course(
                slug="kap-required", title="KAP Required", required_for_certification=True
            )
            db.session.add(course)
            db.session.flush()
            version = CourseVersion(course_id=course.id, number=1, label="1", content_hash="h" * 64)
            db.session.add(version)
            db.session.flush()
            course.current_version_id = version.id
            db.session.commit()
            user = db.session.get(User, info.id)
            give_certificate(user, course)
            give_license(user)
            give_insurance(user)
            accept_current(user)
            referral = referral_services.create_referral(user, referral_data())
            db.session.commit()
            return info, referral.id

    return make


def _spread(total: int, items: int) -> list[int]:
    """Answers 0-3 over ``items`` items adding up to ``total``."""
    return [min(3, max(0, total - 3 * i)) for i in range(items)]


def _answer(page: Page, number: int, label: str) -> None:
    group = page.get_by_role("group", name=re.compile(rf"^{number}\. "))
    group.locator("label", has_text=label).click()


def test_a_partner_records_a_phq9_and_sees_the_safety_prompt(
    page: Page, certified_partner, mailbox
) -> None:
    partner, _ = certified_partner()
    log_in_ok(page, partner.email, partner.password)
    nav_link(page, "Partner tools").click()
    page.get_by_role("link", name="Outcome tracking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outcome tracking")
    page.get_by_role("link", name=PATIENT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PATIENT)
    expect(page.get_by_text("No scores yet.")).to_be_hidden()  # the referral's baselines
    page.get_by_role("link", name="Record a PHQ-9").click()
    expect(
        page.get_by_text("Over the last 2 weeks, how often have you been bothered by")
    ).to_be_visible()
    for number, label in enumerate(PHQ9_CLICKS, start=1):
        _answer(page, number, label)
    expect(
        page.get_by_role(
            "group", name=re.compile(r"^9\. Thoughts that you would be better off")
        ).get_by_role("radio", name=re.compile("^Several days"))
    ).to_be_checked()
    page.get_by_role("button", name="Save the PHQ-9").click()

    expect(page.get_by_role("status")).to_contain_text(f"PHQ-9 saved for {PATIENT}")
    result = page.get_by_role("region", name="Result")
    expect(result).to_contain_text("Total 7")
    expect(result).to_contain_text("Mild")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Safety check needed: PHQ-9 item 9")
    expect(alert).to_contain_text("“Several days”")
    support = alert.get_by_role("link", name="Ask the medical team for support")
    expect(support).to_have_attribute("href", "/support/new")

    # The patient page keeps the prompt for that measurement, and the trend has the point.
    page.get_by_role("link", name=f"Back to {PATIENT}'s trend").click()
    expect(page.get_by_role("alert")).to_contain_text("Safety check needed")
    expect(
        page.get_by_role("img", name=re.compile("GAD-7 and PHQ-9 scores over time"))
    ).to_be_visible()
    row = page.get_by_role("row", name=re.compile("PHQ-9 7 of 27"))
    expect(row).to_contain_text("Item 9: Several days")
    assert mailbox.messages == []  # clinical data never goes out by e-mail


def test_an_unanswered_item_is_refused_and_the_answers_kept(page: Page, certified_partner) -> None:
    partner, referral_id = certified_partner()
    log_in_ok(page, partner.email, partner.password)
    page.goto(f"/outcomes/patients/{referral_id}/new?instrument=phq9")
    for number, label in enumerate(PHQ9_CLICKS, start=1):
        if number != 5:
            _answer(page, number, label)
    page.get_by_role("button", name="Save the PHQ-9").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Please correct the error below")
    expect(summary.get_by_role("link", name="Choose an answer for item 5.")).to_be_visible()
    item5 = page.get_by_role("group", name=re.compile(r"^5\. Poor appetite"))
    expect(item5).to_contain_text("Choose an answer for item 5.")
    for radio in item5.get_by_role("radio").all():
        expect(radio).not_to_be_checked()
    for number, label in enumerate(PHQ9_CLICKS, start=1):
        if number != 5:
            group = page.get_by_role("group", name=re.compile(rf"^{number}\. "))
            expect(group.get_by_role("radio", name=re.compile(f"^{label} \\("))).to_be_checked()
    # Answer the missing item and the form saves.
    _answer(page, 5, "Nearly every day")
    page.get_by_role("button", name="Save the PHQ-9").click()
    result = page.get_by_role("region", name="Result")
    expect(result).to_contain_text("Total 9")  # the other eight answers make 6, item 5 is 3
    expect(result).to_contain_text("Mild")


def test_outcome_pages_pass_axe_and_fit_a_phone(
    new_context, live_server: LiveServer, certified_partner
) -> None:
    partner, referral_id = certified_partner()
    with live_server.app.app_context():
        user = db.session.get(User, partner.id)
        referral = db.session.get(Referral, referral_id)
        today = outcome_services.local_today(user)
        for weeks, gad, phq in ((12, 16, 19), (8, 12, 14), (4, 8, 9), (0, 4, 5)):
            day = today - timedelta(weeks=weeks)
            outcome_services.record_measurement(referral, "gad7", _spread(gad, 7), day, user)
            item9 = 1 if weeks == 0 else 0  # the latest PHQ-9 shows the safety prompt
            phq9 = [*_spread(phq, 8), item9]
            outcome_services.record_measurement(referral, "phq9", phq9, day, user)
        db.session.commit()
        measurement_id = outcome_services.measurements_of([referral])[referral.id][-1].id

    page = new_context().new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in_ok(page, partner.email, partner.password)
    problems: list[str] = []
    for path in (
        "/outcomes",
        f"/outcomes/patients/{referral_id}",
        f"/outcomes/patients/{referral_id}/new?instrument=phq9",
        f"/outcomes/measurements/{measurement_id}",
        f"/outcomes/measurements/{measurement_id}/edit",
    ):
        page.goto(path)
        page.wait_for_load_state()
        for violation in AXE.run(page, options=WCAG).response["violations"]:
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"{path}: {violation['id']} ({violation['help']}) at {targets}")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            problems.append(f"{path}: scrolls sideways at {width[1]} px ({width[0]} px wide)")
    # The error state of the questionnaire too.
    page.goto(f"/outcomes/patients/{referral_id}/new?instrument=gad7")
    page.get_by_role("button", name="Save the GAD-7").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose an answer for item 1.")
    for violation in AXE.run(page, options=WCAG).response["violations"]:
        problems.append(f"gad7 errors: {violation['id']} ({violation['help']})")
    assert problems == []
