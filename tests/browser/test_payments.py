"""A therapist pays in Chromium with localstripe's Stripe.js stand-in and lands in the course."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, log_in_ok
from tests.payments.localstripe import (
    register_webhook,
    run_localstripe,
    stripe_settings,
    sync_paid_course,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_localstripe(tmp_path_factory.mktemp("localstripe-browser")) as base:
        yield base


@pytest.fixture
def paid_course(live_server: LiveServer, localstripe: str, tmp_path: Path) -> Iterator[None]:
    config = live_server.app.config
    saved = {key: config.get(key) for key in [*stripe_settings(localstripe), "COURSES_PATH"]}
    config.update(stripe_settings(localstripe))
    sync_paid_course(live_server.app, tmp_path)
    register_webhook(localstripe, f"{live_server.url}/stripe/webhook")
    try:
        yield
    finally:
        config.update(saved)


@pytest.mark.parametrize(
    "card", ["4242424242424242", "4000002500003155"], ids=["plain", "3d-secure"]
)
def test_therapist_pays_by_card_and_lands_in_the_course(
    page: Page, make_user, paid_course: None, card: str
) -> None:
    user = make_user("payer@example.org")
    log_in_ok(page, user.email)
    page.goto("/courses/mini-course")
    page.get_by_role("button", name="Enrol and pay 250.00 USD").click()
    expect(page).to_have_url(re.compile(r"/payments/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay for Mini course")

    # A declined card first: Stripe's reason is shown and the form stays usable.
    card_box = page.locator("#card-element")
    card_box.get_by_placeholder("number").fill("4000000000000341")
    card_box.get_by_placeholder("exp_month").fill("12")
    card_box.get_by_placeholder("exp_year").fill("34")
    card_box.get_by_placeholder("cvc").fill("123")
    card_box.get_by_placeholder("postal_code").fill("10001")
    page.get_by_role("button", name="Pay 250.00 USD").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")

    card_box.get_by_placeholder("number").fill(card)
    page.get_by_role("button", name="Pay 250.00 USD").click()
    if card == "4000002500003155":  # the stand-in's 3-D Secure prompt (confirmCardPayment)
        page.get_by_role("button", name="Complete authentication").click()

    # The return page waits for the webhook, then takes the therapist into the course.
    expect(page).to_have_url(re.compile(r"/courses/mini-course$"))
    expect(page.get_by_text("Payment received. Welcome to Mini course.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your progress")).to_be_visible()
