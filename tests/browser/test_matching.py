"""Matching in the browser: a person asks for care through the public form, a clinician
takes the self-referral through the intake and offers it to a certified partner, and the
partner, who sees no name before accepting, accepts and finds the patient among their
referrals. Every page of the flow passes axe on a phone."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.extensions import db
from lms.practice import services
from lms.practice.models import MatchOffer, OfferStatus
from lms.referrals import services as referral_services
from lms.referrals.models import Referral, ReferralSource
from tests.browser.conftest import LiveServer, MailSink, UserInfo, log_in_ok, nav_link
from tests.browser.test_certification import certify_partner

pytestmark = pytest.mark.browser

PERSON = "Robin Quinn Alvarez"
PERSON_EMAIL = "robin.alvarez@example.net"
PERSON_PHONE = "720-555-0142"
CONSENT = "I agree that the network's medical team may contact me"

AXE = Axe()
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


@pytest.fixture(autouse=True)
def _quick_humans(live_server: LiveServer) -> Iterator[None]:
    """A person takes more than a second on the form; Playwright is quicker than 3 s."""
    live_server.app.config["INTAKE_MIN_SECONDS"] = 1
    yield
    live_server.app.config.pop("INTAKE_MIN_SECONDS", None)


def _all_text(message: EmailMessage) -> str:
    parts = [
        str(part.get_content())
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    ]
    return "\n".join(parts) + "\n" + str(message["Subject"])


def _move(clinician: Page, label: str, referral_id: int) -> None:
    clinician.get_by_label("New status").select_option(label=label)
    clinician.get_by_role("button", name="Save the status").click()
    expect(clinician.get_by_role("status")).to_contain_text(
        f"Referral #{referral_id} is now {label.lower()}."
    )


def _fill_intake(page: Page) -> None:
    page.get_by_label("Your full name").fill(PERSON)
    page.get_by_label("E-mail address").fill(PERSON_EMAIL)
    page.get_by_label("Phone number").fill(PERSON_PHONE)
    page.get_by_label("State where you live").select_option(label="Colorado")
    page.get_by_label("Your age").select_option(label="35 to 44")
    page.get_by_label("Panic", exact=True).check()
    page.get_by_label("Depression", exact=True).check()
    page.get_by_label("Telehealth (video)").check()
    page.get_by_label("City or ZIP code (optional)").fill("Denver")
    page.get_by_label("Preferred language").select_option(label="English")


def _partner(live_server: LiveServer, make_user, email: str, name: str) -> UserInfo:
    user = make_user(email, full_name=name, timezone="America/Denver")
    certify_partner(live_server, user, states=("CO",))
    return user


def test_a_person_is_matched_with_a_partner_who_accepts(
    new_page: Callable[..., Page], live_server: LiveServer, make_user, mailbox: MailSink
) -> None:
    partner_user = _partner(live_server, make_user, "pat.partner@example.org", "Pat Partner")
    clinician_user = make_user("cal.clinician@example.org", role="clinician", full_name="Cal Md")

    # The partner writes a practice profile.
    partner = new_page()
    log_in_ok(partner, partner_user.email)
    partner.goto("/practice/profile")
    expect(partner.get_by_role("heading", level=1)).to_have_text("Your practice profile")
    partner.get_by_label("Practice name").fill("Riverbend Counseling")
    partner.get_by_label("City", exact=True).fill("Denver")
    partner.get_by_label("State", exact=True).select_option("CO")
    partner.get_by_label("I offer telehealth (video)").check()
    partner.get_by_label("Panic", exact=True).check()
    partner.get_by_label("Depression", exact=True).check()
    partner.get_by_label("Internal Family Systems (IFS)").check()
    expect(partner.get_by_label("English")).to_be_checked()
    expect(partner.get_by_label("I accept new clients from the network")).to_be_checked()
    partner.get_by_role("button", name="Save the profile").click()
    expect(partner.get_by_role("status")).to_contain_text("Your practice profile is saved.")

    # A person without a therapist asks for care; first without agreeing to be contacted.
    person = new_page()
    person.goto("/get-care")
    shown_at = time.monotonic()
    expect(person.get_by_role("heading", level=1)).to_have_text("Ask for care")
    _fill_intake(person)
    person.get_by_role("button", name="Send my request").click()
    expect(person.get_by_role("alert").first).to_be_visible()
    expect(
        person.get_by_text("Agree to be contacted; without it we cannot help you.")
    ).to_be_visible()
    expect(person.get_by_label("Your full name")).to_have_value(PERSON)  # nothing lost
    expect(person.get_by_label("Panic", exact=True)).to_be_checked()
    expect(person.get_by_label("Telehealth (video)")).to_be_checked()
    expect(person.get_by_label("City or ZIP code (optional)")).to_have_value("Denver")
    with live_server.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Referral)) == 0
    person.get_by_label(CONSENT).check()
    time.sleep(max(0.0, 1.2 - (time.monotonic() - shown_at)))  # INTAKE_MIN_SECONDS is 1 here
    person.get_by_role("button", name="Send my request").click()
    expect(person.get_by_role("heading", level=1)).to_have_text(
        "Thank you: we received your request"
    )
    received = mailbox.wait_for_mail(PERSON_EMAIL, "We received your request")
    assert "medical intake" in _all_text(received)
    with live_server.app.app_context():
        referral = db.session.scalars(select(Referral)).one()
        assert referral.source == ReferralSource.SELF and referral.therapist_id is None
        referral_id = referral.id

    # A clinician takes it through the intake to eligible, then finds a partner.
    clinician = new_page()
    log_in_ok(clinician, clinician_user.email)
    nav_link(clinician, "Referrals").click()
    clinician.get_by_label("Source").select_option(label="Self-referral")
    clinician.get_by_role("button", name="Filter").click()
    row = clinician.get_by_role("row").filter(has_text=f"#{referral_id}")
    expect(row).to_contain_text(PERSON)
    expect(row).to_contain_text("Self-referral")
    row.get_by_role("link", name=f"#{referral_id}").click()
    expect(clinician.get_by_role("heading", level=1)).to_have_text(f"Referral #{referral_id}")
    for label in ("Contacted", "Intake scheduled", "Eligible"):
        _move(clinician, label, referral_id)
    mailbox.wait_for_mail(PERSON_EMAIL, "finding you a therapist")
    clinician.get_by_role("link", name="Find a partner").click()
    expect(clinician.get_by_role("heading", level=1)).to_have_text(
        f"Find a partner for referral #{referral_id}"
    )
    card = clinician.get_by_role("listitem").filter(has_text="Riverbend Counseling")
    expect(card).to_contain_text("Ranked 1 of 1")
    expect(card).to_contain_text("Works with Panic and Depression")
    expect(card).to_contain_text("Offers telehealth, as the patient asked")
    card.get_by_role("button", name="Offer to Pat Partner").click()  # confirm dialog accepted
    expect(clinician.get_by_role("status")).to_contain_text("Offered to Pat Partner.")
    expect(clinician.get_by_text("waiting for their answer")).to_be_visible()

    # The partner sees the offer without the person's name or contact details, and accepts.
    offered = mailbox.wait_for_mail(partner_user.email, "patient match")
    link = re.search(r"https?://\S+/practice/offers/\d+", _all_text(offered))
    assert link, _all_text(offered)
    for secret in (PERSON, PERSON_EMAIL, PERSON_PHONE, "Panic", "Depression"):
        assert secret.lower() not in _all_text(offered).lower(), secret
    partner.goto(link.group(0))
    expect(partner.get_by_role("heading", level=1)).to_have_text(re.compile(r"Match offer #\d+"))
    expect(partner.get_by_text("Colorado")).to_be_visible()
    expect(partner.get_by_text("Panic and Depression")).to_be_visible()
    content = partner.locator("main").inner_text()
    for secret in (PERSON, "Robin", PERSON_EMAIL, PERSON_PHONE):
        assert secret not in content, secret
    partner.get_by_role("button", name="Accept the patient").click()
    expect(partner.get_by_role("status")).to_contain_text("You accepted the match.")
    expect(partner.get_by_role("heading", level=1)).to_have_text(f"Referral #{referral_id}")
    expect(partner.get_by_text(PERSON_PHONE)).to_be_visible()
    nav_link(partner, "Partner tools").click()
    partner.get_by_role("link", name="Referrals", exact=True).click()
    row = partner.get_by_role("row").filter(has_text=f"#{referral_id}")
    expect(row).to_contain_text(PERSON)
    expect(row).to_contain_text("Matched by the network")

    # Everyone is told; the clinician's page shows the outcome.
    mailbox.wait_for_mail(clinician_user.email, "Offer accepted")
    matched = mailbox.wait_for_mail(PERSON_EMAIL, "Your therapist")
    assert "Pat Partner" in _all_text(matched) and "Riverbend Counseling" in _all_text(matched)
    clinician.goto(f"/clinical/referrals/{referral_id}")
    expect(clinician.get_by_text("Pat Partner accepted this patient")).to_be_visible()
    with live_server.app.app_context():
        assert db.session.get(Referral, referral_id).therapist_id == partner_user.id
        offer = db.session.scalars(select(MatchOffer)).one()
        assert offer.status == OfferStatus.ACCEPTED


def _audit(page: Page, path: str, problems: list[str]) -> None:
    page.goto(path)
    page.wait_for_load_state()
    for violation in AXE.run(page, options=WCAG).response["violations"]:
        targets = [node["target"] for node in violation["nodes"][:3]]
        problems.append(f"{path}: {violation['id']} ({violation['help']}) at {targets}")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        problems.append(f"{path}: scrolls sideways at {width[1]} px ({width[0]} px wide)")


def test_the_matching_pages_are_accessible_on_a_phone(
    new_context, live_server: LiveServer, make_user
) -> None:
    partner_user = _partner(live_server, make_user, "pat.partner@example.org", "Pat Partner")
    clinician_user = make_user("cal.clinician@example.org", role="clinician", full_name="Cal Md")
    with live_server.app.app_context():
        partner = db.session.get(User, partner_user.id)
        clinician = db.session.get(User, clinician_user.id)
        services.save_profile(
            partner,
            {
                "practice_name": "Riverbend Counseling",
                "city": "Denver",
                "state": "CO",
                "zip_code": "80205",
                "in_person": True,
                "telehealth": True,
                "conditions": ["panic", "depression", "ocd"],
                "approaches": ["ifs", "act"],
                "other_approaches": "Narrative therapy with a very long description of it",
                "languages": ["en", "es"],
                "fees": "$160 per session; sliding scale; out-of-network superbills.",
                "accepting_new_clients": True,
            },
        )
        referral = referral_services.create_self_referral(
            {
                "patient_name": PERSON,
                "email": PERSON_EMAIL,
                "phone": PERSON_PHONE,
                "state": "CO",
                "age_band": "35_44",
                "conditions": ["panic", "ocd"],
                "modality": "in_person",
                "language": "es",
                "location": "80218",
                "consent": True,
            }
        )
        for status in ("contacted", "intake_scheduled", "eligible"):
            referral_services.change_status(referral, status, clinician)
        offer = services.make_offer(referral, partner.id, clinician)
        db.session.commit()
        referral_id, offer_id = referral.id, offer.id

    def phone() -> Page:
        page = new_context().new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        return page

    problems: list[str] = []
    anonymous = phone()
    for path in ("/get-care", "/get-care/thanks"):
        _audit(anonymous, path, problems)
    anonymous.goto("/get-care")
    anonymous.get_by_role("button", name="Send my request").click()  # the page with errors
    expect(anonymous.get_by_text("Enter your name.")).to_be_visible()
    for violation in AXE.run(anonymous, options=WCAG).response["violations"]:
        problems.append(f"/get-care with errors: {violation['id']} ({violation['help']})")

    staff = phone()
    log_in_ok(staff, clinician_user.email)
    for path in (
        "/clinical/referrals",
        f"/clinical/referrals/{referral_id}",
        f"/clinical/referrals/{referral_id}/match",
    ):
        _audit(staff, path, problems)

    therapist = phone()
    log_in_ok(therapist, partner_user.email)
    for path in ("/practice/profile", "/practice/offers", f"/practice/offers/{offer_id}"):
        _audit(therapist, path, problems)
    assert problems == []
