"""Every main page passes axe-core's WCAG 2.1 A/AA rules, logged out and as each role,
and no page scrolls sideways on a phone (390 px)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page
from sqlalchemy import select

from lms.extensions import db
from lms.training.models import QuizAttempt
from lms.training.sync import sync_all
from tests.browser.conftest import LiveServer, log_in_ok

pytestmark = pytest.mark.browser

AXE = Axe()
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
COURSE = "/courses/kap-foundations"


def _audit(page: Page, path: str, problems: list[str]) -> None:
    page.goto(path)
    page.wait_for_load_state()
    for violation in AXE.run(page, options=WCAG).response["violations"]:
        targets = [node["target"] for node in violation["nodes"][:3]]
        problems.append(f"{path}: {violation['id']} ({violation['help']}) at {targets}")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        problems.append(f"{path}: scrolls sideways at {width[1]} px ({width[0]} px wide)")


@pytest.fixture
def phone_page(new_context) -> Page:
    context = new_context()
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.on("dialog", lambda dialog: dialog.accept())
    return page


@pytest.fixture
def synced(live_server: LiveServer) -> None:
    with live_server.app.app_context():
        _, problems = sync_all()
        assert problems == []
        db.session.commit()


def test_public_pages(phone_page: Page) -> None:
    problems: list[str] = []
    for path in ("/", "/login", "/register", "/password/forgot", "/verify", "/no-such-page"):
        _audit(phone_page, path, problems)
    assert problems == []


def test_therapist_pages_including_a_quiz(phone_page: Page, live_server, make_user, synced) -> None:
    user = make_user("learner@example.org")
    log_in_ok(phone_page, user.email, user.password)
    problems: list[str] = []
    for path in ("/dashboard", "/courses", COURSE, "/certificates", "/account"):
        _audit(phone_page, path, problems)
    phone_page.goto(COURSE)
    phone_page.get_by_role("button", name="Enrol in this course").click()
    phone_page.get_by_role("link", name=re.compile(r"^(Start|Continue): ")).click()
    _audit(phone_page, phone_page.url, problems)  # the lesson
    phone_page.get_by_role("button", name="Mark lesson complete").click()
    phone_page.get_by_role("button", name="Start the quiz").click()
    phone_page.get_by_role("radio").first.check()
    _audit(phone_page, phone_page.url, problems)  # the quiz, with an autosaved answer
    phone_page.get_by_role("button", name="Submit answers").click()
    phone_page.wait_for_url(re.compile(r"/result$"))
    _audit(phone_page, phone_page.url, problems)  # the result with feedback
    with live_server.app.app_context():
        assert db.session.scalar(select(QuizAttempt.status)).value == "submitted"
    assert problems == []


def test_clinician_and_admin_pages(phone_page: Page, make_user) -> None:
    clinician = make_user("nurse@example.org", role="clinician")
    log_in_ok(phone_page, clinician.email, clinician.password)
    problems: list[str] = []
    for path in ("/dashboard", "/account", "/admin/users"):  # the last one: the 403 page
        _audit(phone_page, path, problems)
    phone_page.context.clear_cookies()  # log out (the menu is folded on a phone)
    admin = make_user("ops@example.org", role="admin")
    log_in_ok(phone_page, admin.email, admin.password)
    for path in (
        "/dashboard",
        "/admin/users",
        f"/admin/users/{clinician.id}",
        "/admin/invitations",
        "/admin/audit",
        "/admin/certificates",
        "/admin/payments",
    ):
        _audit(phone_page, path, problems)
    assert problems == []
