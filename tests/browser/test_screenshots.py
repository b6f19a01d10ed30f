"""Every main page of every role, on a phone (390×844) and on a desktop (1280×800): no
page scrolls sideways, tables marked ``responsive`` turn into lists on the phone, and each
page is photographed for the user guides in docs/guides/.

The screenshots go to docs/img/ only with ``LMS_SCREENSHOTS=1`` (to refresh the guides'
images: ``LMS_SCREENSHOTS=1 .venv/bin/pytest -m browser tests/browser/test_screenshots.py``);
otherwise to a temporary folder, so a test run never rewrites files in the repository.

The data is the demo data of ``flask --app app seed-demo`` (fixed names: Tess Therapist the
applicant, Pat Partner the certified partner, Dr. Cal Clinician, Ada Admin), so the images
match what a person trying the demo sees.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Select, select

from lms.accounts.models import User
from lms.cli import DEMO_PASSWORD
from lms.crypto import matches_terms
from lms.extensions import db
from lms.practice import services as practice
from lms.referrals.models import Referral, ReferralSource
from lms.support.models import SupportRequest
from lms.training.sync import sync_all
from tests.browser.conftest import PASSWORD, LiveServer, log_in, log_in_ok, nav_link
from tests.browser.test_training_course import _answer, _latest_attempt

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The outermost elements that reach past the right edge of the window (for the message).
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right
        <= window.innerWidth + 0.5)
    .slice(0, 5)
    .map(e => `<${e.localName} class="${e.className}"> right edge at `
        + `${Math.round(e.getBoundingClientRect().right)} px`)"""

# Tables reaching past the right edge of the box they are in (the page's content column, or a
# scrolling box), by how many pixels: a table that does not fit its column sticks out of it
# even when the window is wide enough for the page not to scroll.
TABLES_PAST_THEIR_BOX = """() => [...document.querySelectorAll('table')]
    .filter(t => t.getClientRects().length)
    .map(t => [t, t.parentElement.getBoundingClientRect()])
    .filter(([t, box]) => t.getBoundingClientRect().right > box.right + 0.5)
    .map(([t, box]) => `<table class="${t.className}"> ${
        Math.round(t.getBoundingClientRect().right - box.right)} px past its box`)"""

APPLICANT = "therapist@example.org"  # Tess Therapist: enrolled, a license awaiting review
PARTNER = "partner@example.org"  # Pat Partner: a certified partner with demo patients
CLINICIAN = "clinician@example.org"  # Dr. Cal Clinician, on call
ADMIN = "admin@example.org"  # Ada Admin
COURSE = "/courses/kap-foundations"
URGENT_SUBJECT = "Patient anxious and nauseous 20 minutes into the session"
ANSWERED_SUBJECT = "Headache the evening after the session"


# --- set-up ------------------------------------------------------------------------------


def _put_database(live_server: LiveServer, source: Path) -> None:
    """Replace the live app's SQLite file with ``source`` (as restore_database does)."""
    live_server.wsgi.wait_idle()
    live_server.app.extensions["lms.db"].engine.dispose()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{live_server.db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, live_server.db_path)


@pytest.fixture(scope="module")
def demo_database(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, made once for this module the way `make run` makes it (courses
    synced, then seed-demo), kept as a copy of the database file."""
    live_server.restore_database()
    with live_server.app.app_context():
        _, problems = sync_all()
        assert problems == []
        db.session.commit()
    result = live_server.app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    live_server.app.extensions["lms.db"].engine.dispose()  # checkpoints the WAL
    snapshot = tmp_path_factory.mktemp("screenshots") / "demo.sqlite3"
    shutil.copyfile(live_server.db_path, snapshot)
    live_server.restore_database()
    return snapshot


@pytest.fixture
def demo(live_server: LiveServer, demo_database: Path) -> None:
    """Each test starts on the demo data (after the freshly migrated database)."""
    _put_database(live_server, demo_database)


def _id_of(live_server: LiveServer, query: Select[Any]) -> int:
    with live_server.app.app_context():
        found = db.session.scalar(query)
        assert found is not None, f"the demo data has no row for {query}"
        return int(found)


def _request_id(live_server: LiveServer, subject: str) -> int:
    with live_server.app.app_context():  # the subject is encrypted: matched by its search terms
        query = (
            select(SupportRequest.id)
            .where(matches_terms(SupportRequest.search_terms, subject))
            .order_by(SupportRequest.id.desc())
        )
    return _id_of(live_server, query)


def _self_referral_id(live_server: LiveServer) -> int:
    return _id_of(live_server, select(Referral.id).where(Referral.source == ReferralSource.SELF))


def _nav_link_starting(page: Page, name: str) -> Locator:
    """A main-navigation link whose text may end with a count of unread alerts."""
    main = page.get_by_role("navigation", name="Main")
    return main.get_by_role("link", name=re.compile(rf"^{re.escape(name)}\b"))


def _user_id(live_server: LiveServer, email: str) -> int:
    return _id_of(live_server, select(User.id).where(User.email == email))


def _settled_widths(page: Page) -> list[int]:
    """[content width, window width] once the layout has settled after a resize: right
    after one, Chromium may briefly report the old layout's width."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    for _ in range(10):
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] <= widths[1]:
            break
        page.wait_for_timeout(100)
    return widths


# --- the camera --------------------------------------------------------------------------


@dataclass
class Camera:
    """Photographs the page on its URL at both sizes and checks the width each time."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    taken: list[Path] = field(default_factory=list)

    def shoot(
        self,
        page: Page,
        name: str,
        *,
        focus: Locator | None = None,
        phone_focus: Locator | None = None,
        desktop_full_page: bool = False,
        mask: list[Locator] | None = None,
    ) -> None:
        """``<name>-phone.png`` and ``<name>-desktop.png`` of the current page: the top of
        the page, or scrolled so that ``focus`` (both sizes) or ``phone_focus`` (the phone
        only) starts at the top of the screen. The phone shot is one screen; the desktop
        one too unless ``desktop_full_page``. ``mask`` hides secrets (a QR code)."""
        for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            target = focus or (phone_focus if size_name == "phone" else None)
            if target is None:
                page.evaluate("window.scrollTo(0, 0)")
            else:
                target.evaluate("element => element.scrollIntoView({block: 'start'})")
            widths = _settled_widths(page)
            if widths[0] > widths[1]:
                self.problems.append(
                    f"{name} ({page.url}) scrolls sideways on the {size_name}: "
                    f"{widths[0]} px of content in {widths[1]} px, past the edge: "
                    f"{page.evaluate(OVERFLOWING)}"
                )
            if size_name == "desktop" and (sticking_out := page.evaluate(TABLES_PAST_THEIR_BOX)):
                self.problems.append(f"{name} ({page.url}) on the desktop: {sticking_out}")
            path = self.folder / f"{name}-{size_name}.png"
            page.screenshot(
                path=path,
                full_page=desktop_full_page and size_name == "desktop",
                animations="disabled",
                caret="hide",
                mask=mask or [],
                mask_color="#cfd6df",
            )
            data = path.read_bytes()
            assert data.startswith(PNG_MAGIC) and len(data) > 2_000, f"{path} is empty"
            self.taken.append(path)
        page.set_viewport_size(DESKTOP)

    def check(self) -> None:
        """Fail if any page photographed so far scrolled sideways, or had a table wider
        than its box."""
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def camera(tmp_path: Path) -> Camera:
    if os.environ.get("LMS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        folder = DOCS_IMG
    else:
        folder = tmp_path
    return Camera(folder)


def assert_table_is_a_list_on_a_phone(page: Page, table: Locator) -> None:
    """On a phone the responsive table's header row is hidden and each cell shows its
    ``data-label`` before its content; on a desktop it is an ordinary table."""
    script = """table => {
        const head = table.querySelector('thead').getBoundingClientRect();
        const row = table.querySelector('tbody tr');
        const cells = [...row.querySelectorAll('td[data-label]')]
            .filter(cell => getComputedStyle(cell).display !== 'none');
        return {
            headWidth: head.width, headHeight: head.height,
            row: getComputedStyle(row).display,
            cells: cells.length,
            labels: cells.map(cell => [
                cell.dataset.label,
                getComputedStyle(cell, '::before').content,
            ]),
        };
    }"""
    expect(table).to_have_class(re.compile(r"\bresponsive\b"))
    page.set_viewport_size(PHONE)
    phone = table.evaluate(script)
    assert phone["headWidth"] <= 1 and phone["headHeight"] <= 1, phone
    assert phone["row"] == "block", phone
    assert phone["cells"] >= 3, phone
    for label, before in phone["labels"]:
        assert before == f'"{label}"', (label, before)
    page.set_viewport_size(DESKTOP)
    desktop = table.evaluate(script)
    assert desktop["headHeight"] > 10 and desktop["row"] == "table-row", desktop
    assert all(before in ("none", "normal") for _, before in desktop["labels"]), desktop


# --- logged out ---------------------------------------------------------------------------


def test_public_pages(page: Page, camera: Camera, live_server: LiveServer) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Train with the network")
    camera.shoot(page, "home")

    page.get_by_role("link", name="Log in").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    camera.shoot(page, "login")

    page.goto("/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply as a therapist")
    camera.shoot(page, "register")
    page.get_by_label("Full name").fill("Dana Whitfield")
    page.get_by_label("E-mail address").fill("dana.whitfield@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_label("Time zone").select_option(label="Pacific Time (US)")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    camera.shoot(page, "check-email")

    page.goto("/get-care")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "get-care")

    page.goto("/verify")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "verify-certificate")
    camera.check()


# --- therapists ---------------------------------------------------------------------------


def test_applicant_pages(page: Page, camera: Camera, live_server: LiveServer, demo: None) -> None:
    """Tess Therapist: enrolled in the course, a license awaiting verification."""
    log_in_ok(page, APPLICANT, DEMO_PASSWORD)
    checklist = page.get_by_role("region", name=re.compile("certification"))
    expect(checklist).to_contain_text("1 of 5")
    camera.shoot(page, "therapist-dashboard")

    nav_link(page, "Training").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "training-catalogue")

    page.goto(COURSE)
    expect(page.get_by_text("0% complete")).to_be_visible()
    camera.shoot(page, "course")

    page.get_by_role("link", name=re.compile(r"^(Start|Continue): ")).click()
    expect(page.get_by_role("button", name="Mark lesson complete")).to_be_visible()
    camera.shoot(page, "lesson")

    page.get_by_role("button", name="Mark lesson complete").click()
    page.get_by_role("button", name="Start the quiz").click()
    expect(page.get_by_role("button", name="Submit answers")).to_be_visible()
    camera.shoot(page, "quiz")  # before answering: the guide gives no answer away
    _answer(page, _latest_attempt(live_server))

    page.get_by_role("button", name="Submit answers").click()
    page.wait_for_url(re.compile(r"/result$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "quiz-result")

    nav_link(page, "Licensure").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Licensure")
    camera.shoot(page, "licensure")

    page.get_by_role("link", name="Add a license").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "license-form")

    page.goto("/agreement")
    expect(page.get_by_label("Type your full name to sign")).to_be_visible()
    camera.shoot(page, "agreement")

    # The partner tools stay closed until every requirement is met, and the page says why.
    nav_link(page, "Partner tools").click()
    expect(page).to_have_url(re.compile(r"/dashboard#certification$"))
    expect(page.get_by_role("status")).to_contain_text("Missing:")
    camera.shoot(page, "partner-tools-closed")
    camera.check()


def test_partner_pages(page: Page, camera: Camera, live_server: LiveServer, demo: None) -> None:
    """Pat Partner: certified, four referred patients, support requests, an offered patient."""
    with live_server.app.app_context():
        referral = db.session.get(Referral, _self_referral_id(live_server))
        clinician = db.session.scalar(select(User).where(User.email == CLINICIAN))
        practice.make_offer(referral, _user_id(live_server, PARTNER), clinician)
        db.session.commit()

    log_in_ok(page, PARTNER, DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="You are a certified partner")).to_be_visible()
    camera.shoot(page, "partner-dashboard")

    nav_link(page, "Partner tools").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Partner tools")
    camera.shoot(page, "partner-tools")

    page.goto("/referrals")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your referrals")
    camera.shoot(page, "referrals", phone_focus=page.get_by_role("table"))
    assert_table_is_a_list_on_a_phone(page, page.locator("table.responsive").first)

    page.get_by_role("link", name="Refer a patient").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refer a patient")
    camera.shoot(page, "referral-new")

    page.goto("/outcomes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Outcome tracking")
    camera.shoot(page, "outcomes")

    page.get_by_role("link", name="Maya Okafor").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Maya Okafor")
    chart = page.get_by_role("img", name=re.compile("GAD-7|PHQ-9|[Tt]rend")).first
    expect(chart).to_be_visible()
    camera.shoot(page, "outcome-chart", phone_focus=chart)

    page.get_by_role("link", name="Record a PHQ-9").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PHQ-9")
    camera.shoot(page, "outcome-questionnaire")

    page.goto("/resources")
    expect(page.get_by_role("heading", level=1)).to_have_text("Resource library")
    camera.shoot(page, "resources")

    page.goto("/practice/profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your practice profile")
    camera.shoot(page, "practice-profile")

    page.get_by_role("link", name="Patient matches").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patient matches")
    camera.shoot(page, "patient-matches")

    page.get_by_role("link", name=re.compile(r"^Offer #\d+")).first.click()
    expect(page.get_by_role("button", name=re.compile("^Accept"))).to_be_visible()
    camera.shoot(page, "patient-offer")

    _nav_link_starting(page, "Medical support").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Medical support")
    camera.shoot(page, "support-requests", phone_focus=page.get_by_role("table"))
    assert_table_is_a_list_on_a_phone(page, page.locator("table.responsive").first)

    page.goto("/support/new")
    banner = page.get_by_text("In a life-threatening emergency, call 911 first.")
    expect(banner).to_be_visible()
    camera.shoot(page, "support-new")

    page.goto(f"/support/{_request_id(live_server, ANSWERED_SUBJECT)}")
    conversation = page.get_by_role("region", name="Conversation")
    expect(conversation).to_contain_text("Thanks, I have read this.")
    camera.shoot(page, "support-request", phone_focus=conversation)

    nav_link(page, "Certificates").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "certificates")
    camera.check()


# --- clinicians ---------------------------------------------------------------------------


def test_clinician_pages(
    new_page: Callable[..., Page], camera: Camera, live_server: LiveServer, demo: None, make_user
) -> None:
    """Dr. Cal Clinician, on call: the live queue, a claimed request, referrals, metrics."""
    page = new_page()
    log_in_ok(page, CLINICIAN, DEMO_PASSWORD)
    _nav_link_starting(page, "Support queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support queue")
    queue = page.locator("table.responsive").first
    urgent = _request_id(live_server, URGENT_SUBJECT)
    expect(page.get_by_role("button", name=f"Claim #{urgent}")).to_be_visible()
    camera.shoot(page, "support-queue", phone_focus=queue, desktop_full_page=True)
    assert_table_is_a_list_on_a_phone(page, queue)

    page.get_by_role("button", name=f"Claim #{urgent}").click()
    expect(page.get_by_role("status")).to_contain_text(f"You claimed request #{urgent}")
    page.get_by_label("Reply to the therapist").fill(
        "I am calling you now on 303-555-0142. Keep the patient lying on their side, "
        "offer small sips of water, and check the pulse every 5 minutes."
    )
    page.get_by_role("button", name="Send the reply").click()
    expect(page.get_by_role("status")).to_contain_text("Reply sent")
    # By its region: the note's label points at the reply box (both fields have id="body").
    page.get_by_role("region", name="Internal note").get_by_role("textbox").fill(
        "Spoke with the therapist at the session: nausea settling, vitals stable."
    )
    page.get_by_role("button", name="Add the note").click()
    history = page.get_by_role("heading", name="History")
    expect(page.get_by_text("Spoke with the therapist at the session")).to_be_visible()
    camera.shoot(page, "support-request-claimed")
    camera.shoot(page, "support-request-history", focus=history)

    nav_link(page, "Referrals").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Referrals")
    pipeline = page.locator("table.responsive").first
    camera.shoot(page, "referral-pipeline", phone_focus=pipeline)
    assert_table_is_a_list_on_a_phone(page, pipeline)

    page.goto(f"/clinical/referrals/{_self_referral_id(live_server)}")
    expect(page.get_by_role("link", name="Find a partner")).to_be_visible()
    camera.shoot(page, "referral-review")

    page.get_by_role("link", name="Find a partner").click()
    expect(page.get_by_role("button", name="Offer to Pat Partner")).to_be_visible()
    camera.shoot(page, "referral-match")

    nav_link(page, "Support metrics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support metrics")
    camera.shoot(page, "support-metrics")

    # A new clinician sets up two-step verification before any staff page opens.
    newcomer = make_user(
        "noor.nurse@example.org", role="clinician", full_name="Noor Nurse", mfa=False
    )
    fresh = new_page()
    log_in(fresh, newcomer.email, newcomer.password)
    fresh.goto("/clinical/support")
    expect(fresh).to_have_url(re.compile(r"/account/two-step$"))
    expect(fresh.get_by_role("heading", level=1)).to_have_text("Set up two-step verification")
    secrets = [fresh.locator(".qr [role=img]"), fresh.locator(".secret-key")]
    expect(secrets[0]).to_be_visible()
    camera.shoot(fresh, "two-step-setup", mask=secrets)
    camera.check()


# --- admins -------------------------------------------------------------------------------


def test_admin_pages(page: Page, camera: Camera, live_server: LiveServer, demo: None) -> None:
    """Ada Admin: operations, the directory, verification, courses, payments, audit."""
    log_in_ok(page, ADMIN, DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
    camera.shoot(page, "admin-dashboard")

    nav_link(page, "Therapists").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Therapist directory")
    directory = page.locator("table.responsive").first
    camera.shoot(page, "therapist-directory", phone_focus=directory)
    assert_table_is_a_list_on_a_phone(page, directory)

    page.get_by_role("link", name="Tess Therapist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tess Therapist")
    camera.shoot(page, "therapist-detail")

    nav_link(page, "Licensure queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Licensure queue")
    camera.shoot(page, "licensure-queue", phone_focus=page.locator("table.responsive").first)

    page.get_by_role("link", name=re.compile(r"^Review LCSW license .* of Tess Therapist$")).click()
    expect(page.get_by_role("radio", name="Verify")).to_be_visible()
    camera.shoot(page, "licensure-review")

    nav_link(page, "Courses").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Courses")
    page.get_by_role("link", name=re.compile("^Foundations of Ketamine")).first.click()
    expect(page.get_by_role("heading", name="Question analysis")).to_be_visible()
    camera.shoot(page, "course-analytics")

    page.get_by_role("link", name=re.compile("^Questions of ")).first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "question-analysis")

    nav_link(page, "Payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    camera.shoot(page, "payments")

    page.get_by_role("link", name="Comp an enrolment").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "payments-comp")

    nav_link(page, "Certificates").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Certificates")
    camera.shoot(page, "admin-certificates")

    nav_link(page, "Staff invitations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff invitations")
    camera.shoot(page, "staff-invitations")

    nav_link(page, "Users").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    camera.shoot(page, "users")

    page.goto(f"/admin/users/{_user_id(live_server, CLINICIAN)}")
    expect(page.get_by_role("button", name="Reset two-step verification")).to_be_visible()
    camera.shoot(page, "staff-detail")

    page.goto("/admin/mail/previews")
    expect(page.get_by_role("heading", level=1)).to_have_text("E-mail previews")
    camera.shoot(page, "mail-previews")

    nav_link(page, "Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    camera.shoot(page, "audit-log", phone_focus=page.locator("table.responsive").first)
    camera.check()
