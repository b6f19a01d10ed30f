"""Forgotten password: ask for a link, get it by e-mail, choose a new password, link used once."""

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
    log_in,
    log_in_ok,
    log_out,
    text_body,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "copper kettle meadow 77"  # noqa: S105 - test credential


def ask_for_reset_link(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="E-mail me a reset link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()


def test_password_reset_end_to_end(
    new_page: Callable[..., Page],
    mailbox: MailSink,
    live_server: LiveServer,
    make_user: Callable[..., UserInfo],
) -> None:
    make_user("tess@example.org", full_name="Tess Therapist")
    # Logged in on another device all along; the reset must end that session.
    elsewhere = new_page()
    log_in_ok(elsewhere, "tess@example.org")

    page = new_page()

    # An unknown address gets the same answer, and no e-mail goes anywhere.
    ask_for_reset_link(page, "nobody@example.org")
    unknown_answer = page.get_by_role("main").inner_text()
    assert "If an account uses nobody@example.org" in unknown_answer

    ask_for_reset_link(page, "Tess@Example.org")
    known_answer = page.get_by_role("main").inner_text()
    assert known_answer.replace("Tess@Example.org", "nobody@example.org") == unknown_answer

    message = mailbox.wait_for_mail("tess@example.org", "Reset your password")
    assert "Hello Tess Therapist" in text_body(message)
    assert mailbox.messages_to("nobody@example.org") == []
    assert len(mailbox.messages) == 1
    link = first_link(message)
    assert link.startswith(live_server.url + "/password/reset/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    expect(page.get_by_text("For the account")).to_contain_text("tess@example.org")

    # The policy applies here too.
    page.get_by_label("New password").fill("password1234")
    page.get_by_label("Repeat the password").fill("password1234")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_label("New password")).to_have_accessible_description(
        re.compile("one of the most commonly used")
    )

    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD + " typo")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_label("Repeat the password")).to_have_accessible_description(
        "The two passwords do not match."
    )

    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("Your password has been changed.")
    mailbox.wait_for_mail("tess@example.org", "Your password was changed")

    elsewhere.reload()
    expect(elsewhere).to_have_url(re.compile(r"/login\?next="))

    log_in(page, "tess@example.org", PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("The e-mail address or password is not correct.")

    log_in_ok(page, "tess@example.org", NEW_PASSWORD)
    expect(page.get_by_text("Tess Therapist", exact=True)).to_be_visible()
    log_out(page)

    page.goto(link)
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("This link has already been used.")
    page.get_by_role("link", name="Ask for a new link").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()


def test_forgot_password_form_checks_the_address(page: Page, mailbox: MailSink) -> None:
    page.goto("/password/forgot")
    page.get_by_label("E-mail address").fill("not an address")
    page.get_by_role("button", name="E-mail me a reset link").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_accessible_description(
        "Enter a valid e-mail address."
    )
    expect(page.get_by_label("E-mail address")).to_have_value("not an address")
    assert mailbox.messages == []


def test_a_tampered_reset_link_is_refused(
    page: Page, mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("tess@example.org")
    ask_for_reset_link(page, "tess@example.org")
    link = first_link(mailbox.wait_for_mail("tess@example.org", "Reset your password"))
    page.goto(link.rsplit("/", 1)[0] + "/not-a-real-token")
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("This link is not valid.")
