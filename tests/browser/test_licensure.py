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
    page.get_by_label("NPI (optional)").fill("1245319599")
    # A year typed short (0202): refused in the page, with what was written kept.
    page.get_by_label("Expiry date").fill("0202-03-01")
    page.get_by_label("License documents").set_input_files(str(scan))
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.get_by_text("Enter a date between 1900 and 2199.")).to_be_visible()
    expect(page.get_by_label("License number")).to_have_value("LMFT 54321")
    page.get_by_label("Expiry date").fill((today() + timedelta(days=300)).isoformat())
    page.get_by_label("License documents").set_input_files(str(scan))
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.get_by_role("status")).to_contain_text("An admin will verify it")
    expect(page.get_by_role("row", name=re.compile("LMFT 54321"))).to_contain_text(
        "Awaiting verification"
    )

    admin_page = new_page()
    log_in_ok(admin_page, admin.email)
    nav_link(admin_page, "Licensure queue").click()
    # The admin looks the therapist up: a name nobody has first, then part of the number.
    search = admin_page.get_by_label("Therapist, e-mail or number")
    search.fill("Nobody Here")
    admin_page.get_by_role("button", name="Filter").click()
    expect(admin_page.get_by_text("Nothing matches these filters.")).to_be_visible()
    search.fill("54321")
    admin_page.get_by_role("button", name="Filter").click()
    expect(admin_page.get_by_role("table").get_by_role("row")).to_have_count(2)
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


def test_therapist_signs_the_attestation_from_the_dashboard(
    new_page: Callable[..., Page], make_user
) -> None:
    """The dashboard asks for the attestation until it is signed; a signature that is not
    the account's name is refused with a message, and the answers already given stay."""
    therapist = make_user("ana.attests@example.org", full_name="Ana Attests")
    page = new_page()
    log_in_ok(page, therapist.email)
    card = page.get_by_role("region", name="Licensure")
    expect(card).to_contain_text("You have not signed the attestation yet.")
    card.get_by_role("link", name="attestation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Attestation")
    for question, answer in (
        ("disciplined you", "No"),
        ("restricted, on probation", "No"),
        ("convicted of a felony", "No"),
        ("impairs your ability", "No"),
        ("currently hold malpractice insurance", "Yes"),
    ):
        page.get_by_role("group", name=re.compile(question)).get_by_label(answer).check()
    page.get_by_label("Your full name (signature)").fill("Somebody Else")
    page.get_by_label("Date").fill(today().isoformat())
    page.get_by_role("button", name="Sign the attestation").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Type your full name exactly as on your account: Ana Attests."
    )
    felony = page.get_by_role("group", name=re.compile("convicted of a felony"))
    expect(felony.get_by_label("No")).to_be_checked()  # what was answered is kept

    page.get_by_label("Your full name (signature)").fill("Ana Attests")
    page.get_by_role("button", name="Sign the attestation").click()
    expect(page.get_by_role("status")).to_contain_text("Attestation signed.")
    expect(page.get_by_role("region", name="Attestation")).to_contain_text("Signed by Ana Attests")
    nav_link(page, "Dashboard").click()
    card = page.get_by_role("region", name="Licensure")
    expect(card).to_be_visible()
    expect(card).not_to_contain_text("You have not signed the attestation")
