"""Staff join by invitation: an admin invites, the e-mailed link creates the account once."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from lms.accounts.mfa import current_code
from tests.browser.conftest import (
    PASSWORD,
    LiveServer,
    MailSink,
    UserInfo,
    authenticator_code,
    first_link,
    log_in_ok,
    log_out,
    nav_link,
    text_body,
)

pytestmark = pytest.mark.browser

CLINICIAN_PASSWORD = "granite orchard pelican 19"  # noqa: S105 - test credential


def invite(admin: Page, email: str, role_label: str) -> None:
    nav_link(admin, "Staff invitations").click()
    expect(admin.get_by_role("heading", name="Staff invitations")).to_be_visible()
    admin.get_by_label("E-mail address").fill(email)
    admin.get_by_label("Role").select_option(label=role_label)
    admin.get_by_role("button", name="Send invitation").click()


def test_invited_clinician_creates_an_account_once(
    new_page: Callable[..., Page],
    mailbox: MailSink,
    live_server: LiveServer,
    make_user: Callable[..., UserInfo],
) -> None:
    make_user("ops@example.org", role="admin", full_name="Olga Ops")
    admin = new_page()
    log_in_ok(admin, "ops@example.org")
    invite(admin, "Cal.Clinician@Example.org", "Clinician")

    expect(admin.get_by_role("status")).to_contain_text(
        "Invitation sent to cal.clinician@example.org."
    )
    row = admin.get_by_role("row").filter(has_text="cal.clinician@example.org")
    expect(row).to_contain_text("Clinician")
    expect(row).to_contain_text("Pending")

    message = mailbox.wait_for_mail(
        "cal.clinician@example.org", "invited to join the Partner LMS as clinician"
    )
    assert "Olga Ops invited you" in text_body(message)
    link = first_link(message)
    assert link.startswith(live_server.url + "/invitations/")

    invitee = new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Create your staff account")).to_be_visible()
    expect(invitee.get_by_text("You were invited as")).to_contain_text("clinician")
    expect(invitee.get_by_text("You were invited as")).to_contain_text("cal.clinician@example.org")

    # A weak password is refused; what was typed stays.
    invitee.get_by_label("Full name").fill("Dr. Cal Clinician")
    invitee.get_by_label("Password", exact=True).fill("short")
    invitee.get_by_label("Repeat the password").fill("short")
    invitee.get_by_label("Time zone").select_option(label="Central Time (US)")
    invitee.get_by_role("button", name="Create staff account").click()
    expect(invitee.get_by_label("Password", exact=True)).to_have_accessible_description(
        re.compile("Use at least 12 characters")
    )
    expect(invitee.get_by_label("Full name")).to_have_value("Dr. Cal Clinician")
    expect(invitee.get_by_label("Time zone")).to_have_value("America/Chicago")

    invitee.get_by_label("Password", exact=True).fill(CLINICIAN_PASSWORD)
    invitee.get_by_label("Repeat the password").fill(CLINICIAN_PASSWORD)
    invitee.get_by_role("button", name="Create staff account").click()

    # Staff set up two-step verification before anything else opens.
    expect(invitee).to_have_url(re.compile(r"/account/two-step$"))
    expect(invitee.get_by_role("status")).to_contain_text(
        "Welcome, Dr. Cal Clinician. Your clinician account is ready."
    )
    secret = invitee.locator("code.secret-key").inner_text()
    invitee.get_by_label("6-digit code from the app").fill(current_code(secret))
    invitee.get_by_role("button", name="Turn on two-step verification").click()
    invitee.get_by_role("link", name="I have saved my codes").click()
    expect(invitee).to_have_url(re.compile(r"/dashboard$"))
    expect(invitee.get_by_role("heading", name="Medical team")).to_be_visible()
    expect(invitee.get_by_text("Your time zone is America/Chicago")).to_be_visible()
    # Staff, but not admin: no admin pages in the menu.
    expect(nav_link(invitee, "Users")).to_have_count(0)

    # The same link again, logged in or not, cannot be used.
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="This invitation cannot be used")).to_be_visible()
    expect(invitee.get_by_role("alert")).to_have_text("This link has already been used.")

    # The new account logs in with its own password.
    invitee.goto("/dashboard")
    log_out(invitee)
    log_in_ok(invitee, "cal.clinician@example.org", CLINICIAN_PASSWORD)

    admin.reload()
    expect(admin.get_by_role("row").filter(has_text="cal.clinician@example.org")).to_contain_text(
        "Accepted"
    )


def test_withdrawn_invitation_cannot_be_used(
    new_page: Callable[..., Page], mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("ops@example.org", role="admin")
    admin = new_page()
    log_in_ok(admin, "ops@example.org")
    invite(admin, "ann.admin@example.org", "Admin")
    link = first_link(mailbox.wait_for_mail("ann.admin@example.org", "as admin"))

    row = admin.get_by_role("row").filter(has_text="ann.admin@example.org")
    row.get_by_role("button", name="Withdraw").click()
    expect(admin.get_by_role("status")).to_contain_text(
        "The invitation to ann.admin@example.org was withdrawn."
    )
    expect(admin.get_by_role("row").filter(has_text="ann.admin@example.org")).to_contain_text(
        "Revoked"
    )

    invitee = new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="This invitation cannot be used")).to_be_visible()
    expect(invitee.get_by_role("alert")).to_have_text("This invitation was withdrawn.")


def test_inviting_an_existing_account_is_refused(
    new_page: Callable[..., Page], mailbox: MailSink, make_user: Callable[..., UserInfo]
) -> None:
    make_user("ops@example.org", role="admin")
    make_user("tess@example.org")
    admin = new_page()
    log_in_ok(admin, "ops@example.org")
    invite(admin, "TESS@example.org", "Clinician")

    email = admin.get_by_label("E-mail address")
    expect(email).to_have_accessible_description(
        re.compile("An account with this e-mail already exists")
    )
    expect(email).to_have_value("TESS@example.org")
    assert mailbox.messages == []


def test_therapist_cannot_open_admin_pages(page: Page, make_user: Callable[..., UserInfo]) -> None:
    make_user("tess@example.org")
    log_in_ok(page, "tess@example.org")
    expect(nav_link(page, "Users")).to_have_count(0)
    expect(nav_link(page, "Staff invitations")).to_have_count(0)

    for path in ("/admin/users", "/admin/invitations", "/admin/audit"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        expect(page.get_by_text("Your account does not have access to this page.")).to_be_visible()


def test_anonymous_visitor_is_sent_to_log_in_from_admin_pages(
    page: Page, make_user: Callable[..., UserInfo]
) -> None:
    make_user("ops@example.org", role="admin")
    page.goto("/admin/invitations")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("status")).to_contain_text("Please log in to continue.")
    page.get_by_label("E-mail address").fill("ops@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/verify$"))  # staff: the second step
    page.get_by_label("Authentication code").fill(authenticator_code("ops@example.org"))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/invitations$"))
    expect(page.get_by_role("heading", name="Staff invitations")).to_be_visible()
