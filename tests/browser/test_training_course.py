"""The whole demo course in the browser, as a learner: a failed attempt and a retry, every
module and quiz, the evaluation, the certificate PDF and its public verification page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select, update

from lms.extensions import db
from lms.training.demo import ideal_response
from lms.training.models import QuizAttempt
from lms.training.quiz import frozen_questions
from lms.training.sync import sync_all
from tests.browser.conftest import LiveServer, log_in_ok, nav_link

pytestmark = pytest.mark.browser

COURSE_TITLE = "Foundations of Ketamine-Assisted Psychotherapy for Network Partners"


@pytest.fixture
def synced(live_server: LiveServer) -> None:
    with live_server.app.app_context():
        _, problems = sync_all()
        assert problems == []
        db.session.commit()


def _latest_attempt(live_server: LiveServer) -> QuizAttempt:
    with live_server.app.app_context():
        attempt = db.session.scalars(select(QuizAttempt).order_by(QuizAttempt.id.desc())).first()
        assert attempt is not None
        db.session.expunge(attempt)
        return attempt


def _answer(page: Page, attempt: QuizAttempt) -> None:
    """Answer every question correctly, through the form controls, waiting for each autosave."""
    for frozen in frozen_questions(attempt):
        question = frozen.question
        group = page.get_by_role("group", name=re.compile(rf"^Question {frozen.position + 1}\b"))
        response = ideal_response(question)
        if question.kind == "multichoice":
            group.get_by_role("radio").nth(frozen.order.index(response)).check()
        elif question.kind == "multiresponse":
            for index in response:
                group.get_by_role("checkbox").nth(frozen.order.index(index)).check()
        elif question.kind == "truefalse":
            group.get_by_label("True" if response else "False", exact=True).check()
        elif question.kind in ("shortanswer", "numerical"):
            group.get_by_label("Your answer").fill(str(response))
            group.get_by_label("Your answer").press("Tab")
        elif question.kind == "matching":
            for i, _pair in enumerate(question.pairs):
                group.get_by_role("combobox").nth(i).select_option(response[str(i)])
        elif question.kind == "essay":
            group.get_by_role("textbox").fill(str(response))
        else:
            continue
        expect(_saved(group)).to_be_visible()


def _saved(group: Locator) -> Locator:
    return group.get_by_text("Saved", exact=True)


def test_a_learner_completes_the_demo_course(
    page: Page, live_server: LiveServer, make_user, synced
) -> None:
    user = make_user("learner@example.org", full_name="Morgan Learner")
    log_in_ok(page, user.email, user.password)
    nav_link(page, "Training").click()
    page.get_by_role("link", name=COURSE_TITLE).click()
    page.get_by_role("button", name="Enrol in this course").click()
    expect(page.get_by_text("You are enrolled")).to_be_visible()
    expect(page.get_by_text("0% complete")).to_be_visible()

    course_url = page.url
    modules_done = 0
    failed_once = False
    while True:
        page.goto(course_url)
        start = page.get_by_role("link", name=re.compile(r"^(Start|Continue): "))
        if start.count() == 0:
            break
        start.click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.get_by_role("button", name="Mark lesson complete").click()
        start_quiz = page.get_by_role("button", name=re.compile("quiz"))
        if start_quiz.count():
            start_quiz.click()
            attempt = _latest_attempt(live_server)
            if not failed_once:
                # The first attempt is sent with nothing answered: it fails.
                page.get_by_role("button", name="Submit answers").click()
                expect(page.get_by_text("Not passed")).to_be_visible()
                expect(page.get_by_text("try again after a short break")).to_be_visible()
                with live_server.app.app_context():  # the ten-minute cooldown passes
                    db.session.execute(
                        update(QuizAttempt)
                        .where(QuizAttempt.id == attempt.id)
                        .values(submitted_at=attempt.submitted_at or attempt.started_at)
                    )
                    row = db.session.get(QuizAttempt, attempt.id)
                    row.submitted_at = row.submitted_at - timedelta(minutes=11)
                    db.session.commit()
                page.reload()
                page.get_by_role("button", name="Try again").click()
                attempt = _latest_attempt(live_server)
                assert attempt.number == 2
                failed_once = True
            _answer(page, attempt)
            page.wait_for_load_state("networkidle")  # the last autosaves have landed
            page.reload()  # answers survive a reload
            expect(page.get_by_text("Saved", exact=True).first).to_be_visible()
            page.get_by_role("button", name="Submit answers").click()
            expect(page.get_by_text("Passed", exact=True)).to_be_visible()
            expect(page.get_by_text("100.0%")).to_be_visible()
        modules_done += 1

    assert modules_done >= 10 and failed_once
    expect(page.get_by_text("100% complete")).not_to_be_visible()  # the evaluation is still due
    page.get_by_role("link", name="Complete the course evaluation").click()
    for group in page.get_by_role("group").all():
        group.get_by_label("Agree", exact=True).check()
    page.get_by_role("textbox").first.fill("Clear, practical and well referenced.")
    page.get_by_role("button", name="Submit evaluation").click()
    expect(page.get_by_role("heading", name="Your certificates")).to_be_visible()
    expect(page.get_by_text("Course complete. Your certificate is ready.")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = download_info.value
    assert pdf.suggested_filename.startswith("certificate-") and pdf.suggested_filename.endswith(
        ".pdf"
    )
    with open(pdf.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"

    page.get_by_role("link", name="Verification page").click()
    expect(page.get_by_role("heading", name="Certificate verification")).to_be_visible()
    expect(page.get_by_text("Valid", exact=True)).to_be_visible()
    expect(page.get_by_role("main").get_by_text("Morgan Learner")).to_be_visible()
