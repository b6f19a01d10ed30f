"""Log-in: wrong credentials, unconfirmed or deactivated accounts, ended sessions, CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import (
    PASSWORD,
    MailSink,
    UserInfo,
    first_link,
    log_in,
    log_in_ok,
    nav_link,
)

pytestmark = pytest.mark.browser

WRONG = "The e-mail address or password is not correct."


def test_wrong_password_and_unknown_address_get_the_same_answer(
    page: Page, make_user: Callable[..., UserInfo]
) -> None:
    make_user("tess@example.org")

    log_in(page, "tess@example.org", "not the right password")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(WRONG)
    expect(page.get_by_label("E-mail address")).to_have_value("tess@example.org")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    wrong_password_page = page.get_by_role("main").inner_text()

    log_in(page, "nobody@example.org", "not the right password")
    expect(page.get_by_role("alert")).to_have_text(WRONG)
    expect(page.get_by_label("E-mail address")).to_have_value("nobody@example.org")
    # Nothing on the page tells the two cases apart, except the address typed in.
    assert page.get_by_role("main").inner_text().replace("nobody@", "tess@") == wrong_password_page

    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_empty_log_in_form_says_what_is_missing(page: Page) -> None:
    page.goto("/login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("E-mail address")).to_have_accessible_description(
        "Enter your e-mail address."
    )
    expect(page.get_by_label("Password", exact=True)).to_have_accessible_description(
        "Enter your password."
    )


def test_unconfirmed_account_asks_for_confirmation_and_can_resend_the_link(
    page: Page, mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("una@example.org", full_name="Una Unverified", verified=False)

    log_in(page, "una@example.org", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(
        "Confirm your e-mail address before logging in"
    )
    expect(page.get_by_text("We will send a new link to")).to_contain_text("una@example.org")
    assert mailbox.messages_to("una@example.org") == []

    page.get_by_role("button", name="Send a new confirmation link").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("a new confirmation link is on its way")

    message = mailbox.wait_for_mail("una@example.org", "Confirm your e-mail address")
    page.goto(first_link(message))
    expect(page.get_by_role("status")).to_contain_text("Your e-mail address is confirmed")

    log_in_ok(page, "una@example.org")
    expect(page.get_by_text("Una Unverified", exact=True)).to_be_visible()


def test_confirmation_link_that_was_tampered_with_is_refused(
    page: Page, mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("una@example.org", verified=False)
    log_in(page, "una@example.org", PASSWORD)
    page.get_by_role("button", name="Send a new confirmation link").click()
    link = first_link(mailbox.wait_for_mail("una@example.org", "Confirm"))

    # The signature's first character: its last one carries unused bits.
    head, signature = link.rsplit(".", 1)
    page.goto(f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}")
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("This link is not valid")

    log_in(page, "una@example.org", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Confirm your e-mail address")


def test_deactivated_account_cannot_log_in(page: Page, make_user: Callable[..., UserInfo]) -> None:
    make_user("gone@example.org", active=False)

    log_in(page, "gone@example.org", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("This account has been deactivated.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    # The state of the account is only revealed to someone holding the password.
    log_in(page, "gone@example.org", "a wrong password here")
    expect(page.get_by_role("alert")).to_have_text(WRONG)


def test_admin_deactivation_ends_the_open_session(
    new_page: Callable[..., Page], make_user: Callable[..., UserInfo]
) -> None:
    make_user("ops@example.org", role="admin", full_name="Olga Ops")
    make_user("tess@example.org", full_name="Tess Therapist")

    therapist = new_page()
    log_in_ok(therapist, "tess@example.org")
    expect(therapist.get_by_text("Tess Therapist", exact=True)).to_be_visible()

    admin = new_page(accept_dialogs=False)
    questions: list[str] = []
    answer = {"accept": False}

    def on_dialog(dialog: Dialog) -> None:
        questions.append(dialog.message)
        if answer["accept"]:
            dialog.accept()
        else:
            dialog.dismiss()

    admin.on("dialog", on_dialog)
    log_in_ok(admin, "ops@example.org")
    nav_link(admin, "Users").click()
    expect(admin.get_by_role("heading", name="Users")).to_be_visible()
    admin.get_by_label("Search name or e-mail").fill("tess@")
    admin.get_by_role("button", name="Search").click()
    expect(admin).to_have_url(re.compile(r"/admin/users\?q=tess%40"))
    expect(admin.get_by_role("link", name="Olga Ops")).to_have_count(0)
    admin.get_by_role("link", name="Tess Therapist").click()
    expect(admin.get_by_role("heading", name="Tess Therapist")).to_be_visible()

    # Declining the confirmation changes nothing.
    with admin.expect_event("dialog"):
        admin.get_by_role("button", name="Deactivate account").click()
    assert questions == ["Deactivate Tess Therapist?"]
    expect(admin.get_by_role("button", name="Deactivate account")).to_be_visible()
    expect(admin.get_by_role("status")).to_have_count(0)
    therapist.reload()
    expect(therapist).to_have_url(re.compile(r"/dashboard$"))

    answer["accept"] = True
    admin.get_by_role("button", name="Deactivate account").click()
    expect(admin.get_by_role("status")).to_contain_text(
        "Tess Therapist is deactivated and has been logged out everywhere."
    )
    assert questions == ["Deactivate Tess Therapist?"] * 2
    expect(admin.get_by_role("button", name="Reactivate account")).to_be_visible()

    therapist.reload()
    expect(therapist).to_have_url(re.compile(r"/login\?next=(%2F|/)dashboard$"))
    expect(therapist.get_by_role("status")).to_contain_text("Please log in to continue.")
    expect(therapist.get_by_text("Tess Therapist", exact=True)).to_have_count(0)

    log_in(therapist, "tess@example.org", PASSWORD)
    expect(therapist.get_by_role("alert")).to_contain_text("This account has been deactivated.")

    # Reactivated, the account works again.
    admin.get_by_role("button", name="Reactivate account").click()
    expect(admin.get_by_role("status")).to_contain_text("Tess Therapist can log in again.")
    assert questions[-1] == "Reactivate Tess Therapist?"
    log_in_ok(therapist, "tess@example.org")


def test_form_without_its_csrf_token_is_refused(
    page: Page, make_user: Callable[..., UserInfo]
) -> None:
    make_user("tess@example.org")
    page.goto("/login")
    page.get_by_label("E-mail address").fill("tess@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.evaluate(
        "document.querySelectorAll('input[name=csrf_token]').forEach(i => { i.value = '' })"
    )
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Bad request")).to_be_visible()
    expect(page.get_by_text("Your form expired or was sent from another site.")).to_be_visible()
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    # A fresh form (with its token) works.
    log_in_ok(page, "tess@example.org")


def test_form_from_an_expired_session_is_refused(
    page: Page, make_user: Callable[..., UserInfo]
) -> None:
    """The token in the page no longer matches once the session cookie is gone."""
    make_user("tess@example.org")
    page.goto("/login")
    page.context.clear_cookies()
    page.get_by_label("E-mail address").fill("tess@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Bad request")).to_be_visible()
    expect(page.get_by_text("Your form expired")).to_be_visible()
