"""An admin finds a therapist in the directory and verifies a pending license from their page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import License, RecordStatus
from lms.licensure.services import today
from tests.browser.conftest import LiveServer, log_in_ok, nav_link

pytestmark = pytest.mark.browser


def _pending_license(live_server: LiveServer, user_id: int, state: str, number: str) -> None:
    with live_server.app.app_context():
        db.session.add(
            License(
                user_id=user_id,
                license_type=LicenseType.LPC,
                state=state,
                number=number,
                issued_on=today() - timedelta(days=800),
                expires_on=today() + timedelta(days=400),
                status=RecordStatus.PENDING,
            )
        )
        db.session.commit()


def test_admin_finds_a_therapist_and_verifies_their_license(
    new_page: Callable[..., Page], make_user, live_server: LiveServer, mailbox
) -> None:
    wanted = make_user("priya.patel@example.org", full_name="Priya Patel")
    other = make_user("pat.other@example.org", full_name="Pat Other")
    _pending_license(live_server, wanted.id, "TX", "LPC-77001")
    _pending_license(live_server, other.id, "OR", "LPC-88002")
    admin = make_user("ops@example.org", role="admin", full_name="Ops Admin")

    page = new_page()
    log_in_ok(page, admin.email)
    expect(page.get_by_role("region", name="Onboarding funnel")).to_contain_text("Registered: 2")
    nav_link(page, "Therapists").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Therapist directory")

    # Unhappy path first: a search that matches nobody says so.
    page.get_by_label("Search name or e-mail").fill("nobody-like-this")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No therapists match these filters.")).to_be_visible()

    page.get_by_label("Search name or e-mail").fill("")
    page.get_by_label("License state").select_option("TX")
    page.get_by_label("Certification").select_option("missing_license")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(2)  # the header and Priya
    expect(page.get_by_role("cell", name=re.compile("missing training, license"))).to_be_visible()
    page.get_by_role("link", name="Priya Patel").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Priya Patel")
    checklist = page.get_by_role("region", name="Certification")
    expect(checklist).to_contain_text("Missing: A verified license that has not expired")
    page.get_by_role("link", name="TX · LPC-77001").click()
    page.get_by_role("radio", name="Verify").check()
    page.get_by_label("How it was checked").fill("Texas BHEC license lookup, checked today")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_contain_text("verified")

    nav_link(page, "Therapists").click()
    page.get_by_label("Search name or e-mail").fill("priya")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="TX", exact=True)).to_be_visible()
    page.get_by_role("link", name="Priya Patel").click()
    expect(page.get_by_role("region", name="Certification")).to_contain_text(
        "Met: A verified license that has not expired"
    )
    mail = mailbox.wait_for_mail(wanted.email, "Verified")
    assert "LPC-77001" in str(mail.get_body(preferencelist=("plain",)).get_content())


def test_on_a_phone_the_directory_folds_its_filters_until_asked(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    """The directory's four filters fold behind "More filters" below 560 px; the search box
    stays. Opened, they filter as on a desktop, and a filter set in the address shows."""
    make_user("priya.patel@example.org", full_name="Priya Patel")
    other = make_user("pat.other@example.org", full_name="Pat Other")
    _pending_license(live_server, other.id, "OR", "LPC-88002")
    admin = make_user("ops@example.org", role="admin", full_name="Ops Admin")

    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in_ok(page, admin.email)
    page.goto("/admin/therapists")
    form = page.get_by_role("search", name="Filter therapists")
    more = form.get_by_role("button", name="More filters")
    expect(form.get_by_label("Search name or e-mail")).to_be_visible()
    expect(form.get_by_label("License state")).to_be_hidden()
    expect(page.get_by_role("link", name="Priya Patel")).to_be_visible()

    more.click()
    form.get_by_label("License state").select_option("OR")
    form.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Pat Other")).to_be_visible()
    expect(page.get_by_role("link", name="Priya Patel")).to_have_count(0)
    expect(form.get_by_label("License state")).to_have_value("OR")
    expect(more).to_have_attribute("aria-expanded", "true")


def test_on_a_phone_the_funnel_labels_stay_readable(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    """The dashboard's funnel is a drawing scaled to the screen: on a 390 px phone its labels
    are drawn larger, so that they show at 11 px or more (they were under 8)."""
    make_user("priya.patel@example.org", full_name="Priya Patel")
    admin = make_user("ops@example.org", role="admin", full_name="Ops Admin")
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in_ok(page, admin.email)
    page.goto("/admin/")
    labels = page.locator(".chart-funnel .chart-label")
    expect(labels.first).to_contain_text("Registered: 1")
    for index in range(labels.count()):
        shown = labels.nth(index).evaluate(
            "e => e.getScreenCTM().a * parseFloat(getComputedStyle(e).fontSize)"
        )
        assert shown >= 11, (index, shown)  # CSS pixels on the screen
        box = labels.nth(index).bounding_box()
        card = page.get_by_role("region", name="Onboarding funnel").bounding_box()
        assert box is not None and card is not None
        assert box["x"] + box["width"] <= card["x"] + card["width"], index  # inside its card
