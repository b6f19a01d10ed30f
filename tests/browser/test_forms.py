"""How forms behave in a real browser: optional fields, error announcements, time zone detection."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import UserInfo, log_in_ok, nav_link

pytestmark = pytest.mark.browser

ANY_VALUE = re.compile(r".*")


def test_optional_filters_do_not_block_the_search(
    page: Page, make_user: Callable[..., UserInfo]
) -> None:
    """Searching users by name alone, leaving Role and Status at 'Any', works."""
    make_user("ops@example.org", role="admin", full_name="Olga Ops")
    make_user("tess@example.org", full_name="Tess Therapist")
    log_in_ok(page, "ops@example.org")
    page.goto("/admin/users")

    for label in ("Search name or e-mail", "Role", "Status"):
        expect(page.get_by_label(label)).not_to_have_attribute("required", ANY_VALUE)

    page.get_by_label("Search name or e-mail").fill("Tess")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/admin/users\?q=Tess"))
    expect(page.get_by_role("link", name="Tess Therapist")).to_be_visible()
    expect(page.get_by_role("link", name="Olga Ops")).to_have_count(0)
    expect(page.get_by_text("1 result")).to_be_visible()


def test_fields_without_errors_are_not_announced_as_invalid(page: Page) -> None:
    page.goto("/login")
    email = page.get_by_label("E-mail address")
    password = page.get_by_label("Password", exact=True)
    for input_ in (email, password):
        expect(input_).not_to_have_attribute("aria-invalid", ANY_VALUE)
        expect(input_).not_to_have_attribute("aria-describedby", ANY_VALUE)
        expect(input_).to_have_accessible_description("")

    email.fill("someone@example.org")
    page.get_by_role("button", name="Log in").click()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description("Enter your password.")
    expect(email).not_to_have_attribute("aria-invalid", ANY_VALUE)
    # The error summary takes the focus, so screen readers read it out.
    expect(page.get_by_role("alert")).to_be_focused()


def test_registration_preselects_the_browsers_time_zone(page: Page) -> None:
    """The contexts run in America/Chicago; a fresh form offers that zone."""
    page.goto("/register")
    expect(page.get_by_label("Time zone")).to_have_value("America/Chicago")


def test_small_screen_menu_opens_and_closes(page: Page) -> None:
    page.set_viewport_size({"width": 380, "height": 800})
    page.goto("/")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav_link(page, "Log in")).to_be_visible()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "false")
