"""The account page: name and time zone, and changing the password."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PASSWORD,
    MailSink,
    UserInfo,
    log_in,
    log_in_ok,
    log_out,
    nav_link,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "saffron bicycle glacier 58"  # noqa: S105 - test credential


def open_account_page(page: Page) -> None:
    nav_link(page, "Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def test_change_name_and_time_zone(page: Page, make_user: Callable[..., UserInfo]) -> None:
    make_user("tess@example.org", full_name="Tess Therapist", timezone="America/New_York")
    log_in_ok(page, "tess@example.org")
    open_account_page(page)

    profile = page.get_by_role("region", name="Profile")
    expect(profile.get_by_text("tess@example.org")).to_be_visible()
    # A saved choice is shown as it is, not replaced by the browser's zone.
    expect(profile.get_by_label("Time zone")).to_have_value("America/New_York")
    expect(profile.get_by_label("Full name")).to_have_value("Tess Therapist")

    profile.get_by_label("Full name").fill("Tess Marlowe")
    profile.get_by_label("Time zone").select_option(label="Europe/Berlin")
    profile.get_by_role("button", name="Save profile").click()

    expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
    profile = page.get_by_role("region", name="Profile")
    expect(profile.get_by_label("Full name")).to_have_value("Tess Marlowe")
    expect(profile.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    expect(page.get_by_text("Tess Marlowe", exact=True)).to_be_visible()

    nav_link(page, "Dashboard").click()
    expect(page.get_by_role("heading", name="Welcome, Tess")).to_be_visible()

    # Still there after logging in again.
    log_out(page)
    log_in_ok(page, "tess@example.org")
    open_account_page(page)
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")


def test_profile_needs_a_name(page: Page, make_user: Callable[..., UserInfo]) -> None:
    make_user("tess@example.org", full_name="Tess Therapist")
    log_in_ok(page, "tess@example.org")
    open_account_page(page)

    profile = page.get_by_role("region", name="Profile")
    profile.get_by_label("Full name").fill("  ")
    profile.get_by_role("button", name="Save profile").click()
    expect(page.get_by_label("Full name")).to_have_accessible_description("Enter your full name.")
    expect(page.get_by_role("status")).to_have_count(0)
    expect(page.get_by_text("Tess Therapist", exact=True)).to_be_visible()


def test_change_password_needs_the_current_one(
    new_page: Callable[..., Page], mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("tess@example.org", full_name="Tess Therapist")
    elsewhere = new_page()
    log_in_ok(elsewhere, "tess@example.org")

    page = new_page()
    log_in_ok(page, "tess@example.org")
    open_account_page(page)
    section = page.get_by_role("region", name="Change password")

    section.get_by_label("Current password").fill("this is not it at all")
    section.get_by_label("New password").fill(NEW_PASSWORD)
    section.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    section.get_by_role("button", name="Change password").click()

    section = page.get_by_role("region", name="Change password")
    current = section.get_by_label("Current password")
    expect(current).to_have_attribute("aria-invalid", "true")
    expect(current).to_have_accessible_description("Your current password is not correct.")
    expect(page.get_by_text("Your current password is not correct.")).to_be_visible()
    # The profile form next to it is left alone.
    expect(page.get_by_role("region", name="Profile").get_by_role("alert")).to_have_count(0)
    assert mailbox.messages == []

    section = page.get_by_role("region", name="Change password")
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_label("New password").fill(NEW_PASSWORD)
    section.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    section.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Your password has been changed. Other sessions have been logged out."
    )
    mailbox.wait_for_mail("tess@example.org", "Your password was changed")

    # This session goes on; the other one has ended.
    page.reload()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    elsewhere.reload()
    expect(elsewhere).to_have_url(re.compile(r"/login\?next="))

    log_in(elsewhere, "tess@example.org", PASSWORD)
    expect(elsewhere.get_by_role("alert")).to_have_text(
        "The e-mail address or password is not correct."
    )
    log_in_ok(elsewhere, "tess@example.org", NEW_PASSWORD)
