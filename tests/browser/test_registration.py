"""A therapist registers, confirms the e-mail address from a real e-mail, logs in and out."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PASSWORD,
    LiveServer,
    MailSink,
    UserInfo,
    first_link,
    log_in_ok,
    log_out,
    text_body,
)

pytestmark = pytest.mark.browser


def fill_registration(
    page: Page,
    *,
    full_name: str = "Dana Whitfield",
    email: str = "dana.whitfield@example.org",
    password: str = PASSWORD,
    confirm: str | None = None,
    zone_label: str = "Pacific Time (US)",
) -> None:
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password if confirm is None else confirm)
    page.get_by_label("Time zone").select_option(label=zone_label)
    page.get_by_role("button", name="Create account").click()


def test_register_confirm_log_in_and_out(
    page: Page, mailbox: MailSink, live_server: LiveServer
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Apply as a therapist").first.click()
    expect(page.get_by_role("heading", name="Apply as a therapist")).to_be_visible()

    fill_registration(page, email="  Dana.Whitfield@Example.org ")

    expect(page).to_have_url(re.compile(r"/register/check-email$"))
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.get_by_text("We sent a confirmation link to")).to_contain_text(
        "dana.whitfield@example.org"
    )

    message = mailbox.wait_for_mail("dana.whitfield@example.org", "Confirm your e-mail address")
    assert "Hello Dana Whitfield" in text_body(message)
    link = first_link(message)
    assert link.startswith(live_server.url + "/verify-email/")

    page.goto(link)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("Your e-mail address is confirmed")

    log_in_ok(page, "dana.whitfield@example.org")
    expect(page.get_by_role("heading", name="Welcome, Dana")).to_be_visible()
    expect(page.get_by_text("Dana Whitfield", exact=True)).to_be_visible()
    expect(page.get_by_text("dana.whitfield@example.org confirmed.")).to_be_visible()

    log_out(page)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You have logged out.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)dashboard$"))
    expect(page.get_by_role("status")).to_contain_text("Please log in to continue.")

    # The link has done its job; opening it again says so instead of failing obscurely.
    page.goto(link)
    expect(page.get_by_role("heading", name="Already confirmed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("already confirmed")

    # Logging in from the ?next= page goes back where the user wanted to be.
    page.goto("/dashboard")
    page.get_by_label("E-mail address").fill("dana.whitfield@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def expect_kept_input(page: Page, full_name: str, email: str) -> None:
    expect(page.get_by_label("Full name")).to_have_value(full_name)
    expect(page.get_by_label("E-mail address")).to_have_value(email)


@pytest.mark.parametrize(
    ("password", "confirm", "field", "message"),
    [
        ("short words", None, "Password", "Use at least 12 characters"),
        ("password1234", None, "Password", "one of the most commonly used"),
        ("qwertyuiopas", None, "Password", "one of the most commonly used"),
        (PASSWORD, PASSWORD + "x", "Repeat the password", "The two passwords do not match."),
    ],
    ids=["too-short", "common-padded", "common-keyboard", "mismatch"],
)
def test_registration_refuses_bad_passwords(
    page: Page, mailbox: MailSink, password: str, confirm: str | None, field: str, message: str
) -> None:
    page.goto("/register")
    fill_registration(
        page,
        full_name="Rosa Lindqvist",
        email="rosa@example.org",
        password=password,
        confirm=confirm,
    )

    expect(page.get_by_role("heading", name="Apply as a therapist")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Please correct the error below.")
    input_ = page.get_by_label(field, exact=True)
    expect(input_).to_have_attribute("aria-invalid", "true")
    expect(input_).to_have_accessible_description(re.compile(re.escape(message)))
    expect(page.get_by_text(message)).to_be_visible()
    expect_kept_input(page, "Rosa Lindqvist", "rosa@example.org")
    expect(page.get_by_label("Time zone")).to_have_value("America/Los_Angeles")
    assert mailbox.messages == []


def test_registration_refuses_an_address_already_registered(
    page: Page, mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("existing@example.org")
    page.goto("/register")
    fill_registration(page, full_name="Eli Existing", email="Existing@Example.org")

    expect(page.get_by_role("heading", name="Apply as a therapist")).to_be_visible()
    email_input = page.get_by_label("E-mail address")
    expect(email_input).to_have_attribute("aria-invalid", "true")
    expect(email_input).to_have_accessible_description(
        re.compile("An account with this e-mail address already exists")
    )
    expect_kept_input(page, "Eli Existing", "Existing@Example.org")
    assert mailbox.messages == []


def test_registration_requires_every_field(page: Page) -> None:
    page.goto("/register")
    page.get_by_label("Full name").fill("   ")
    page.get_by_label("E-mail address").fill("not-an-address")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("alert")).to_contain_text("Please correct the errors below.")
    expect(page.get_by_label("Full name")).to_have_accessible_description("Enter your full name.")
    expect(page.get_by_label("E-mail address")).to_have_accessible_description(
        "Enter a valid e-mail address."
    )
    expect(page.get_by_label("Password", exact=True)).to_have_accessible_description(
        re.compile("Choose a password.")
    )
    expect(page.get_by_label("E-mail address")).to_have_value("not-an-address")
