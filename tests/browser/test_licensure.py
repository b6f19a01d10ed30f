"""A therapist uploads a license; an admin views the document in the queue and verifies it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lms.licensure.demo import tiny_png
from lms.licensure.services import today
from tests.browser.conftest import log_in_ok, nav_link

pytestmark = pytest.mark.browser


def test_therapist_uploads_admin_views_and_verifies(
    new_page: Callable[..., Page], make_user, mailbox, tmp_path: Path
) -> None:
    therapist = make_user("tess.licensed@example.org", full_name="Tess Licensed")
    admin = make_user("ops@example.org", role="admin", full_name="Ops Admin")
    scan = tmp_path / "lmft-card.png"
    scan.write_bytes(tiny_png(120, 80))

    page = new_page()
    log_in_ok(page, therapist.email)
    page.get_by_role("link", name="Add a license").click()
    page.get_by_label("License type").select_option("lmft")
    page.get_by_label("Issuing state").select_option("CA")
    page.get_by_label("License number").fill("LMFT 54321")
    page.get_by_label("Issue date").fill((today() - timedelta(days=900)).isoformat())
    page.get_by_label("Expiry date").fill((today() + timedelta(days=300)).isoformat())
    page.get_by_label("NPI (optional)").fill("1245319599")
    page.get_by_label("License documents").set_input_files(str(scan))
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.get_by_role("status")).to_contain_text("An admin will verify it")
    expect(page.get_by_role("row", name=re.compile("LMFT 54321"))).to_contain_text(
        "Awaiting verification"
    )

    admin_page = new_page()
    log_in_ok(admin_page, admin.email)
    nav_link(admin_page, "Licensure queue").click()
    admin_page.get_by_role("link", name=re.compile("Review .*Tess Licensed")).click()
    image = admin_page.get_by_role("img", name=re.compile("Document 1: lmft-card.png"))
    expect(image).to_be_visible()
    expect(image).to_have_js_property("naturalWidth", 120)  # the file really loaded
    expect(admin_page.get_by_text("LMFT 54321").first).to_be_visible()
    admin_page.get_by_role("radio", name="Verify").check()
    admin_page.get_by_label("How it was checked").fill("CA BBS website, checked today")
    admin_page.get_by_role("button", name="Record decision").click()
    expect(admin_page.get_by_role("status")).to_contain_text("verified")

    mail = mailbox.wait_for_mail(therapist.email, "Verified")
    assert "LMFT 54321" in str(mail.get_body(preferencelist=("plain",)).get_content())
    nav_link(page, "Dashboard").click()
    card = page.get_by_role("region", name="Licensure")
    expect(card).to_contain_text("LMFT license LMFT 54321")
    expect(card).to_contain_text("Verified")
