"""The main flows with the keyboard alone: Tab to reach each control, type, Space and Enter to
act. Log in, answer and submit a quiz, file an urgent support request, claim it and reply."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from lms.extensions import db
from lms.training.sync import sync_all
from tests.browser.conftest import LiveServer, authenticator_code
from tests.browser.test_support import _certify

pytestmark = pytest.mark.browser

COURSE_TITLE = "Foundations of Ketamine-Assisted Psychotherapy for Network Partners"


def tab_to(page: Page, target: Locator, limit: int = 80) -> None:
    """Press Tab until ``target`` has the focus (fails if the tab order never reaches it)."""
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def keyboard_log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    tab_to(page, page.get_by_label("E-mail address"))
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/(login/verify|dashboard|admin/)$"))
    if page.url.endswith("/login/verify"):  # staff: the second step
        tab_to(page, page.get_by_label("Authentication code"))
        page.keyboard.type(authenticator_code(email))
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/(dashboard|admin/)$"))


def test_a_learner_logs_in_and_takes_a_quiz_with_the_keyboard(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        _, problems = sync_all()
        assert problems == []
        db.session.commit()
    learner = make_user("kim.keys@example.org", full_name="Kim Keys")
    page = new_page()
    keyboard_log_in(page, learner.email, learner.password)

    page.goto("/courses")
    tab_to(page, page.get_by_role("link", name=COURSE_TITLE))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Enrol in this course"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("You are enrolled")).to_be_visible()
    tab_to(page, page.get_by_role("link", name=re.compile(r"^Start: ")))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Mark lesson complete"))
    page.keyboard.press("Enter")
    start_quiz = page.get_by_role("button", name=re.compile("quiz"))
    tab_to(page, start_quiz)
    page.keyboard.press("Enter")

    # The first multiple-choice answer on the page (questions are drawn and shuffled).
    choice = page.get_by_role("radio").first
    tab_to(page, choice)
    page.keyboard.press("Space")
    expect(choice).to_be_checked()
    expect(page.get_by_text("Saved", exact=True).first).to_be_visible()  # autosaved
    tab_to(page, page.get_by_role("button", name="Submit answers"))
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"^(Passed|Not passed)$")).first).to_be_visible()


def test_filing_claiming_and_replying_with_the_keyboard(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    therapist = make_user("kai.keys@example.org", full_name="Kai Keys")
    clinician = make_user("kit.clinician@example.org", role="clinician", full_name="Kit Clin")
    _certify(live_server, therapist)

    mine = new_page()
    keyboard_log_in(mine, therapist.email, therapist.password)
    mine.goto("/support/new")
    urgent = mine.get_by_label(re.compile(r"^Urgent: a clinician responds within 15 minutes"))
    tab_to(mine, mine.get_by_role("radio").first)
    # Arrow keys move within the urgency group; Space selects.
    for _ in range(3):
        if urgent.is_checked():
            break
        if urgent.evaluate("el => el === document.activeElement"):
            mine.keyboard.press("Space")
        else:
            mine.keyboard.press("ArrowUp")
    expect(urgent).to_be_checked()
    category = mine.get_by_label("Category")
    tab_to(mine, category)
    category.press("ArrowDown")  # a native select moves through its options with the arrows
    expect(category).not_to_have_value("")
    tab_to(mine, mine.get_by_label("Subject"))
    mine.keyboard.type("Keyboard-only urgent request")
    tab_to(mine, mine.get_by_label("What do you need?"))
    mine.keyboard.type("Patient anxious 20 minutes after the dose.")
    tab_to(mine, mine.get_by_label("Phone number to call you back"))
    mine.keyboard.type("303-555-0188")
    tab_to(mine, mine.get_by_role("button", name="Send to the medical team"))
    mine.keyboard.press("Enter")
    expect(mine.get_by_role("status")).to_contain_text("A clinician will respond by")
    request_id = int(re.search(r"/support/(\d+)$", mine.url).group(1))

    staff = new_page()
    keyboard_log_in(staff, clinician.email, clinician.password)
    staff.goto("/clinical/support")
    claim = staff.get_by_role("button", name=f"Claim #{request_id}")
    tab_to(staff, claim)
    staff.keyboard.press("Enter")
    expect(staff.get_by_role("status")).to_contain_text(f"You claimed request #{request_id}")
    tab_to(staff, staff.get_by_label("Reply to the therapist"))
    staff.keyboard.type("Calling you now.")
    tab_to(staff, staff.get_by_role("button", name="Send the reply"))
    staff.keyboard.press("Enter")
    expect(staff.get_by_role("status")).to_contain_text("Reply sent")
