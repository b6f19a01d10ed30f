"""Staff set up two-step verification before any staff page opens, then log in with a code;
an idle session warns before it ends and can be kept open."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from lms.accounts.mfa import current_code
from tests.browser.conftest import LiveServer, authenticator_code, log_in, log_out, nav_link

pytestmark = pytest.mark.browser


def test_a_new_clinician_sets_up_two_step_and_logs_in_with_a_code(
    new_page: Callable[..., Page], make_user
) -> None:
    clinician = make_user("nora.nurse@example.org", role="clinician", mfa=False)
    page = new_page()
    log_in(page, clinician.email)
    expect(page).to_have_url(re.compile(r"/account/two-step$"))
    expect(
        page.get_by_text("Set up two-step verification to open the staff pages.")
    ).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.locator("code.secret-key").inner_text()

    # Unhappy path: a wrong code is refused and nothing is turned on.
    page.get_by_label("6-digit code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    nav_link(page, "Referrals").click()
    expect(page).to_have_url(re.compile(r"/account/two-step$"))  # still locked out

    page.get_by_label("6-digit code from the app").fill(current_code(secret))
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.get_by_role("heading", name="Two-step verification is on")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    page.get_by_role("link", name="I have saved my codes").click()
    nav_link(page, "Referrals").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Referral")

    log_out(page)
    page.get_by_label("E-mail address").fill(clinician.email)
    page.get_by_label("Password", exact=True).fill(clinician.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/verify$"))
    page.get_by_label("Authentication code").fill("123456")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right, or was already used.")).to_be_visible()
    page.get_by_label("Authentication code").fill(authenticator_code(clinician.email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def test_an_idle_session_warns_and_can_be_kept_open(
    new_page: Callable[..., Page], make_user, live_server: LiveServer
) -> None:
    therapist = make_user("idle.therapist@example.org")
    config = live_server.app.config
    saved = config["SESSION_IDLE_MINUTES"], config["SESSION_IDLE_WARNING_SECONDS"]
    config["SESSION_IDLE_MINUTES"], config["SESSION_IDLE_WARNING_SECONDS"] = 1, 58
    try:
        page = new_page()
        log_in(page, therapist.email)
        warning = page.get_by_role("alertdialog")
        expect(warning).to_be_visible(timeout=10_000)
        expect(warning).to_contain_text("you will be logged out in")
        page.get_by_role("button", name="Stay logged in").click()
        expect(warning).to_be_hidden()
        nav_link(page, "Account").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    finally:
        config["SESSION_IDLE_MINUTES"], config["SESSION_IDLE_WARNING_SECONDS"] = saved
