"""Support queue in two browsers: a therapist files an urgent request, the clinician's open
queue page shows it without a reload, the clinician claims and replies, the therapist sees it."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.support.models import SupportRequest
from lms.training.models import Course, CourseVersion
from tests.browser.conftest import LiveServer, UserInfo, first_link, log_in_ok
from tests.browser.test_accessibility import _audit
from tests.certification.conftest import (
    accept_current,
    give_certificate,
    give_insurance,
    give_license,
)

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 15_000  # the pages poll every 10 seconds
SUBJECT = "Patient shaking 30 minutes into the session"
REPLY = "Stay with the patient; I am calling you now on 303-555-0170."


def _staff_log_in(page: Page, live_server: LiveServer, user: UserInfo) -> None:
    """Log a clinician in (log_in answers the two-step verification code)."""
    log_in_ok(page, user.email, user.password)


def _certify(live_server: LiveServer, user: UserInfo) -> None:
    """Meet every certification requirement (set-up, not what the test is about)."""
    with live_server.app.app_context():
        course = Course(slug="kap-core", title="KAP Core", required_for_certification=True)
        db.session.add(course)
        db.session.flush()
        version = CourseVersion(course_id=course.id, number=1, label="1", content_hash="c" * 64)
        db.session.add(version)
        db.session.flush()
        course.current_version_id = version.id
        db.session.commit()
        therapist = db.session.get(User, user.id)
        give_certificate(therapist, course)
        give_license(therapist)
        give_insurance(therapist)
        accept_current(therapist)


def test_an_urgent_request_reaches_the_open_queue_and_the_reply_comes_back(
    new_page: Callable[..., Page], make_user, live_server: LiveServer, mailbox
) -> None:
    therapist = make_user("tara.partner@example.org", full_name="Tara Partner")
    clinician = make_user("cole.clinician@example.org", role="clinician", full_name="Cole Clin")
    _certify(live_server, therapist)

    queue = new_page()
    _staff_log_in(queue, live_server, clinician)
    queue.goto("/clinical/support")
    expect(queue.get_by_role("heading", level=1)).to_have_text("Support queue")
    expect(queue.get_by_text("No requests match.")).to_be_visible()
    queue.evaluate("window.__notReloaded = true")

    mine = new_page()
    log_in_ok(mine, therapist.email)
    mine.goto("/support/new")
    expect(mine.get_by_text("In a life-threatening emergency, call 911 first.")).to_be_visible()
    mine.get_by_label(re.compile(r"^Urgent: a clinician responds within 15 minutes")).check()
    mine.get_by_label("Category").select_option(label="Acute concern during a dosing session")
    mine.get_by_label("Subject").fill(SUBJECT)
    mine.get_by_label("What do you need?").fill("Tremor and fast pulse, 40 mg IM at 14:05.")
    mine.get_by_label("Phone number to call you back").fill("303-555-0101")
    mine.get_by_role("button", name="Send to the medical team").click()
    expect(mine.get_by_role("status")).to_contain_text("A clinician will respond by")
    conversation = mine.get_by_role("region", name="Conversation")
    expect(conversation).to_contain_text(re.compile(r"A clinician will respond by \w+ \d+, \d{4}"))
    request_id = int(re.search(r"/support/(\d+)$", mine.url).group(1))

    # The clinician's page, open all along, shows the request without a reload.
    row = queue.get_by_role("row", name=re.compile(SUBJECT))
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text("Urgent")
    expect(row).to_contain_text("min left")
    assert queue.evaluate("window.__notReloaded") is True
    notice = mailbox.wait_for_mail(clinician.email, f"support request #{request_id}")
    assert SUBJECT not in str(notice["Subject"]) and "Tremor" not in first_link(notice)

    row.get_by_role("button", name=f"Claim #{request_id}").click()
    expect(queue.get_by_role("status")).to_contain_text(f"You claimed request #{request_id}")
    queue.get_by_label("Reply to the therapist").fill(REPLY)
    queue.get_by_role("button", name="Send the reply").click()
    expect(queue.get_by_role("status")).to_contain_text("Reply sent")

    # The therapist's open page shows the reply without a reload too.
    expect(conversation).to_contain_text(REPLY, timeout=LIVE_TIMEOUT_MS)
    expect(conversation).to_contain_text("First response")
    message = mailbox.wait_for_mail(therapist.email, "replied")
    assert REPLY not in str(message.get_body(preferencelist=("plain",)).get_content())
    assert first_link(message).endswith(f"/support/{request_id}")


def test_support_pages_pass_axe_and_fit_a_phone(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    from lms.support.demo import seed_support

    phone_page = new_page()
    phone_page.set_viewport_size({"width": 390, "height": 844})

    partner = make_user("pat.partner@example.org", full_name="Pat Partner")
    clinician = make_user("cleo.clinician@example.org", role="clinician", full_name="Cleo Clin")
    _certify(live_server, partner)
    with live_server.app.app_context():
        seed_support(db.session.get(User, clinician.id), db.session.get(User, partner.id))
        db.session.commit()
        answered = db.session.scalar(
            select(SupportRequest.id).where(SupportRequest.first_response_at.is_not(None))
        )
    problems: list[str] = []
    log_in_ok(phone_page, partner.email, partner.password)
    for path in ("/support", "/support/new", f"/support/{answered}"):
        _audit(phone_page, path, problems)
    staff = new_page()
    staff.set_viewport_size({"width": 390, "height": 844})
    _staff_log_in(staff, live_server, clinician)
    for path in (
        "/clinical/support",
        f"/clinical/support/{answered}",
        "/clinical/support/metrics",
    ):
        _audit(staff, path, problems)
    assert problems == []

    # The metrics' charts shrink to the phone; their labels stay readable, in their card,
    # and the weeks' dates do not run into one another.
    staff.goto("/clinical/support/metrics")
    labels = staff.locator(".chart-bars .chart-label, .chart-weeks .chart-label")
    expect(labels.first).to_be_visible()
    dates = staff.locator(".chart-weeks .chart-label[text-anchor=middle]")
    count = dates.count()  # 8 weeks' dates (5 when the 8 weeks straddle 9 calendar weeks)
    assert count >= 5
    visible = [dates.nth(i).bounding_box() for i in range(count) if dates.nth(i).is_visible()]
    assert len(visible) == (count + 1) // 2  # every other date on a phone
    for left, right in itertools.pairwise(visible):
        assert left is not None and right is not None
        assert left["x"] + left["width"] < right["x"], (left, right)
    for index in range(labels.count()):
        label = labels.nth(index)
        if not label.is_visible():
            continue  # a week's date left out on a phone
        shown = label.evaluate("e => e.getScreenCTM().a * parseFloat(getComputedStyle(e).fontSize)")
        assert shown >= 11, (index, shown)
        box = label.bounding_box()
        card = label.locator("xpath=ancestor::section[1]").bounding_box()
        assert box is not None and card is not None
        assert box["x"] + box["width"] <= card["x"] + card["width"], index


def test_the_open_queue_stays_live_while_nothing_changes(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    """Polls of an unchanged queue are answered 204: the table stays, the "Updated" time
    moves; a failed poll warns, and the next good poll (204 too) takes the warning away."""
    therapist = make_user("una.partner@example.org", full_name="Una Partner")
    clinician = make_user(
        "cora.clinician@example.org",
        role="clinician",
        full_name="Cora Clin",
        timezone="America/Denver",
    )
    _certify(live_server, therapist)
    with live_server.app.app_context():
        from lms.support import services

        services.file_request(
            db.session.get(User, therapist.id),
            {
                "category": "medication",
                "urgency": "routine",
                "subject": SUBJECT,
                "description": "Question before the next session.",
                "callback_phone": "303-555-0101",
            },
        )
        db.session.commit()

    queue = new_page()
    _staff_log_in(queue, live_server, clinician)
    # The part is rendered in full again each minute: start where three polls fit in one.
    second = datetime.now(UTC).second
    if second > 20:
        time.sleep(61 - second)
    queue.goto("/clinical/support")
    row = queue.get_by_role("row", name=re.compile(SUBJECT))
    expect(row).to_be_visible()
    status = queue.locator("[data-live-status]")
    first = status.inner_text()
    assert re.fullmatch(r"Updated \d{1,2}:\d{2}:\d{2}\s[AP]M M[SD]T", first), first

    def poll_answered(code: int):
        return queue.expect_response(
            lambda r: "/clinical/support/live" in r.url and r.status == code,
            timeout=LIVE_TIMEOUT_MS,
        )

    with poll_answered(204):
        pass
    expect(status).not_to_have_text(first)
    expect(status).to_have_text(re.compile(r"^Updated \d{1,2}:\d{2}:\d{2}\s[AP]M M[SD]T$"))
    expect(row).to_be_visible()

    # The connection drops for one poll: the page says so, and stops saying so once a poll
    # gets through again, although that poll brings no content.
    queue.route("**/clinical/support/live*", lambda route: route.abort())
    expect(status).to_have_text(re.compile("Not updating"), timeout=LIVE_TIMEOUT_MS)
    expect(status).to_have_attribute("role", "alert")
    queue.unroute("**/clinical/support/live*")
    with poll_answered(204):
        pass
    expect(status).to_have_text(re.compile(r"^Updated "))
    expect(status).not_to_have_attribute("role", "alert")
    expect(row).to_be_visible()


def test_a_partner_finds_an_earlier_request(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    """A partner with many requests finds one by a word of its subject or its number,
    narrows by status, and is told when nothing matches."""
    from lms.support import services
    from tests.support.conftest import request_data

    make_user("oncall@example.org", role="clinician", full_name="Cal Md")
    therapist = make_user("finder@example.org", full_name="Fay Finder")
    _certify(live_server, therapist)
    with live_server.app.app_context():
        partner = db.session.get(User, therapist.id)
        ids = {}
        for subject in [f"Routine question {n:02d}" for n in range(26)] + ["Nausea at home"]:
            ids[subject] = services.file_request(
                partner, request_data(subject=subject, urgency="routine")
            ).id
        db.session.commit()

    page = new_page()
    log_in_ok(page, therapist.email)
    page.goto(live_server.url + "/support")
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(26)  # header + a page of 25, newest first
    expect(rows.nth(1)).to_contain_text("Nausea at home")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()

    search = page.get_by_label("Request number or words of the subject")
    search.fill("nausea")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Nausea at home")
    expect(search).to_have_value("nausea")

    search.fill(f"#{ids['Routine question 07']}")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Routine question 07")

    # Unhappy path: a status none has, then part of a word: said, not an empty table.
    search.fill("")
    page.get_by_label("Status").select_option(label="Resolved")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No request matches these filters.")).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(26)
    search.fill("naus")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No request matches these filters.")).to_be_visible()


def test_on_a_phone_the_queue_shows_its_requests_before_the_filters_it_folds(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    """Below 560 px the queue's filter form keeps its search box and folds the rest behind
    "More filters" while no filter is set: the requests start higher on the screen. A set
    filter, or one in error, shows unfolded; a wider screen shows every field."""
    from lms.support import services

    therapist = make_user("ulla.partner@example.org", full_name="Ulla Partner")
    clinician = make_user("cy.clinician@example.org", role="clinician", full_name="Cy Clin")
    _certify(live_server, therapist)
    with live_server.app.app_context():
        for urgency, subject in (("urgent", SUBJECT), ("routine", "Question about next week")):
            services.file_request(
                db.session.get(User, therapist.id),
                {
                    "category": "medication",
                    "urgency": urgency,
                    "subject": subject,
                    "description": "Details for the clinician.",
                    "callback_phone": "303-555-0101",
                },
            )
        db.session.commit()

    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    _staff_log_in(page, live_server, clinician)
    page.goto("/clinical/support")
    form = page.get_by_role("form", name="Filter the queue")
    more = form.get_by_role("button", name="More filters")
    expect(form.get_by_label("Search")).to_be_visible()
    expect(more).to_have_attribute("aria-expanded", "false")
    for label in ("Mine", "Unclaimed", "Overdue", "Status", "Urgency"):
        expect(form.get_by_label(label, exact=True)).to_be_hidden()
    expect(page.get_by_role("row", name=re.compile("Question about next week"))).to_be_visible()

    # The clinician opens the filters and keeps the urgent requests only.
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    form.get_by_label("Urgency").select_option(label="Urgent")
    form.get_by_role("button", name="Filter", exact=True).click()
    expect(page).to_have_url(re.compile(r"urgency=urgent"))
    expect(page.get_by_role("row", name=re.compile(SUBJECT))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Question about next week"))).to_have_count(0)
    # A set filter is never folded away: the person sees why the list is short.
    expect(form.get_by_label("Urgency")).to_be_visible()
    expect(form.get_by_label("Urgency")).to_have_value("urgent")
    expect(more).to_have_attribute("aria-expanded", "true")
    more.click()
    expect(form.get_by_label("Urgency")).to_be_hidden()

    # A filter in error shows unfolded, with its message.
    page.goto("/clinical/support?status=bogus")
    expect(form.get_by_label("Status")).to_be_visible()
    expect(form).to_contain_text("Not a valid choice")
    expect(more).to_have_attribute("aria-expanded", "true")

    # On a wider screen every field shows and there is nothing to unfold.
    page.goto("/clinical/support")
    expect(form.get_by_label("Status")).to_be_hidden()
    page.set_viewport_size({"width": 1024, "height": 800})
    expect(form.get_by_label("Status")).to_be_visible()
    expect(more).to_be_hidden()
