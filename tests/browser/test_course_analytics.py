"""An admin reads a course's analytics and regrades a corrected quiz question; a question whose
edit changed its shape is refused. The pages pass axe and fit a phone."""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.training import quiz, services
from lms.training.models import Course
from lms.training.sync import sync_all
from tests.browser.conftest import LiveServer, log_in_ok, nav_link

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent.parent / "analytics" / "fixtures" / "courses"
GIFT = "stats-course/modules/03-final/quiz.gift"
CORRECT = "{=Paris ~London ~Berlin}"
MISTAKE = "{~Paris =London ~Berlin}"  # London marked right by mistake
SHORT = "{=green =verde}"
CHOICES = "{=green ~blue ~red}"  # the short answer became a multiple choice
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def _sync(live_server: LiveServer, root: Path) -> None:
    with live_server.app.app_context():
        _, problems = sync_all(root)
        assert problems == []
        db.session.commit()


def _edit(root: Path, old: str, new: str) -> None:
    path = root / GIFT
    path.write_text(path.read_text().replace(old, new))


def _take_quiz(live_server: LiveServer, user_id: int, responses: dict[str, Any]) -> None:
    """The learner works through the course to the quiz and submits one attempt."""
    with live_server.app.app_context():
        user = db.session.get(User, user_id)
        course = db.session.scalar(select(Course).where(Course.slug == "stats-course"))
        enrollment = services.get_enrollment(user, course) or services.enroll(user, course)
        for slug in ("01-intro", "02-practice", "03-final"):
            state = services.module_state(enrollment, slug)
            if not state.lesson_done:
                services.complete_lesson(enrollment, state)
        state = services.module_state(enrollment, "03-final")
        attempt = quiz.start_attempt(enrollment, state, random.Random(1))
        for frozen in quiz.frozen_questions(attempt):
            if frozen.question.title in responses:
                quiz.save_answer(attempt, frozen.position, responses[frozen.question.title])
        quiz.submit(attempt)
        db.session.commit()


@pytest.fixture
def corrected_course(live_server: LiveServer, make_user, tmp_path: Path) -> dict[str, Any]:
    """Two learners took the quiz before two questions were edited: Capital had the wrong
    answer marked right (fixed, same shape); Colour became a multiple choice (new shape)."""
    root = tmp_path / "courses"
    shutil.copytree(FIXTURES, root)
    _edit(root, CORRECT, MISTAKE)
    _sync(live_server, root)
    paris = make_user("paula.paris@example.org", full_name="Paula Paris")
    london = make_user("leo.london@example.org", full_name="Leo London")
    _take_quiz(live_server, paris.id, {"Capital": 0, "Sky": True, "Colour": "blue", "Sum": "4"})
    _take_quiz(live_server, london.id, {"Capital": 1, "Sky": True, "Colour": "green", "Sum": "4"})
    _edit(root, MISTAKE, CORRECT)
    _edit(root, SHORT, CHOICES)
    _sync(live_server, root)
    return {"paris": paris, "london": london}


def _row(page: Page, table_id: str, first_cell: str):
    return page.locator(
        f"#{table_id} tr", has=page.get_by_role("cell", name=first_cell, exact=True)
    )


def test_admin_reads_the_analytics_and_regrades_a_corrected_question(
    new_page: Callable[..., Page], make_user, live_server: LiveServer, corrected_course, mailbox
) -> None:
    admin = make_user("ops@example.org", role="admin", full_name="Ops Admin")
    page = new_page()
    log_in_ok(page, admin.email)
    nav_link(page, "Courses").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Courses")
    expect(_row(page, "courses", "Stats course")).to_contain_text("2")
    page.get_by_role("link", name="Stats course").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Stats course")
    expect(page.get_by_role("img", name="Learners at each step of Stats course")).to_be_visible()
    expect(_row(page, "dropoff", "Final test")).to_contain_text("1 (50%)")  # Leo passed
    page.get_by_role("link", name="Questions of “Final test”").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Final test")
    questions = page.get_by_role("region", name="Questions")
    expect(questions).to_contain_text("top quarter")
    capital = page.locator("#questions tr").nth(1)
    expect(capital).to_contain_text("Capital")
    expect(capital.get_by_role("cell").nth(5)).to_have_text("Paris")  # wrong under the mistake

    # Unhappy path first: the question whose shape changed cannot be regraded.
    page.get_by_role("link", name=re.compile("^Question 3: Colour")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Regrade question 3")
    expect(page.get_by_role("alert")).to_contain_text("This question cannot be regraded")
    expect(page.get_by_role("alert")).to_contain_text(
        "it was a short-answer question and is now a multiple-choice one"
    )
    expect(page.get_by_role("button", name="Apply the regrade")).to_have_count(0)
    page.get_by_role("link", name="← Final test").click()

    page.get_by_role("link", name=re.compile("^Question 1: Capital")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Regrade question 1")
    dry_run = page.locator("#dry-run")
    expect(_row(page, "dry-run", "Paula Paris")).to_contain_text("50.0% → 75.0%")
    expect(_row(page, "dry-run", "Paula Paris")).to_contain_text("Failed → would pass")
    expect(_row(page, "dry-run", "Leo London")).to_contain_text("100.0% → 75.0%")
    expect(_row(page, "dry-run", "Leo London")).to_contain_text("Passed → would pass")
    expect(dry_run.get_by_role("row")).to_have_count(3)

    # Without the confirmation box nothing happens.
    page.get_by_role("button", name="Apply the regrade").click()
    expect(page.get_by_text("Tick the box to confirm the regrade.").first).to_be_visible()
    page.get_by_label(re.compile("^I have checked the list above")).check()
    page.get_by_role("button", name="Apply the regrade").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Final test")
    expect(
        page.get_by_text(re.compile("Regraded question 1: 2 attempts re-scored"))
    ).to_be_visible()
    capital = page.locator("#questions tr").nth(1)
    expect(capital.get_by_role("cell").nth(5)).to_have_text("London")  # now Leo is wrong
    expect(page.get_by_role("link", name=re.compile("^Question 1: Capital"))).to_have_count(0)
    mail = mailbox.wait_for_mail("paula.paris@example.org", "quiz score")
    body = str(mail.get_body(preferencelist=("plain",)).get_content())
    assert "50.0% -> 75.0%" in body and "Leo" not in body


@pytest.fixture
def phone_page(new_context) -> Page:
    page = new_context().new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    return page


def test_analytics_pages_pass_axe_and_fit_a_phone(
    phone_page: Page, make_user, live_server: LiveServer, corrected_course
) -> None:
    admin = make_user("ops@example.org", role="admin", full_name="Ops Admin")
    log_in_ok(phone_page, admin.email)
    problems: list[str] = []
    base = "/admin/courses/stats-course"
    for path in (
        "/admin/courses/",
        base,
        f"{base}/modules/03-final",
        f"{base}/modules/03-final/questions/1/regrade",
        f"{base}/modules/03-final/questions/3/regrade",
    ):
        phone_page.goto(path)
        phone_page.wait_for_load_state()
        for violation in Axe().run(phone_page, options=WCAG).response["violations"]:
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"{path}: {violation['id']} ({violation['help']}) at {targets}")
        width = phone_page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            problems.append(f"{path}: scrolls sideways ({width[0]} px wide)")
    assert problems == []
