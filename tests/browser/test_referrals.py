"""A referral through the pipeline, in the browser: a certified partner refers a patient, a
clinician moves it from new to eligible, the partner follows it, and the e-mails carry no
clinical details."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.extensions import db
from lms.referrals.models import Referral, ReferralStatus
from tests.browser.conftest import LiveServer, MailSink, log_in_ok, nav_link
from tests.browser.test_certification import certify_partner

pytestmark = pytest.mark.browser

PATIENT = "Jane Quinn Doe"
PATIENT_EMAIL = "jane.patient@example.net"
# Clinical details: in the referral, never in an e-mail.
CONCERN = "Generalized anxiety"
PRIOR = "Two years of CBT with partial response"
MEDICATION = "Sertraline 50 mg daily"
NOTE = "Intake booked by phone; patient asks for morning appointments."
DATE_OF_BIRTH = "1985-04-02"
PHONE = "303-555-0100"


def _referrals(live_server: LiveServer) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(func.count()).select_from(Referral)) or 0


def _all_text(message: EmailMessage) -> str:
    parts = [
        str(part.get_content())
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    ]
    return "\n".join(parts) + "\n" + str(message["Subject"])


def _fill_referral(page: Page, state: str) -> None:
    page.get_by_label("Patient's full name").fill(PATIENT)
    page.get_by_label("Date of birth").fill(DATE_OF_BIRTH)
    page.get_by_label("State of residence").select_option(state)
    page.get_by_label("Patient's e-mail address").fill(PATIENT_EMAIL)
    page.get_by_label("Patient's phone").fill(PHONE)
    page.get_by_label("Primary concern").select_option(label=CONCERN)
    page.get_by_label("Prior treatments").fill(PRIOR)
    page.get_by_label("Current medications").fill(MEDICATION)
    page.get_by_label("Baseline GAD-7 (optional)").fill("15")
    page.get_by_label("Baseline PHQ-9 (optional)").fill("11")
    page.get_by_label("The patient consented").check()


def _move(clinician: Page, label: str, referral_id: int) -> None:
    clinician.get_by_label("New status").select_option(label=label)
    clinician.get_by_role("button", name="Save the status").click()
    expect(clinician.get_by_role("status")).to_contain_text(
        f"Referral #{referral_id} is now {label.lower()}."
    )
    expect(clinician.get_by_role("table")).to_contain_text(label)


def test_a_referral_moves_through_the_pipeline(
    new_page: Callable[..., Page], live_server: LiveServer, make_user, mailbox: MailSink
) -> None:
    therapist = make_user("pat.partner@example.org", full_name="Pat Partner")
    certify_partner(live_server, therapist, states=("CO",))
    clinician_user = make_user("cal.clinician@example.org", role="clinician", full_name="Cal Md")

    page = new_page()
    log_in_ok(page, therapist.email)
    nav_link(page, "Partner tools").click()
    page.get_by_role("link", name="Refer a patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refer a patient")

    # Unhappy path: the patient lives where the therapist holds no license.
    _fill_referral(page, "TX")
    page.get_by_role("button", name="Send the referral").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("You do not hold a verified license in Texas")
    expect(alert).to_contain_text("Nothing was sent.")
    expect(page.get_by_label("Patient's full name")).to_have_value(PATIENT)  # nothing lost
    expect(page.get_by_label("Current medications")).to_have_value(MEDICATION)
    assert _referrals(live_server) == 0

    # In Colorado, where the license is, the referral goes through.
    page.get_by_label("State of residence").select_option("CO")
    if not page.get_by_label("The patient consented").is_checked():
        page.get_by_label("The patient consented").check()
    page.get_by_role("button", name="Send the referral").click()
    expect(page.get_by_role("status")).to_contain_text("sent to the medical team")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Referral #\d+$"))
    referral_id = int(heading.inner_text().split("#")[1])
    referral_url = page.url
    history = page.get_by_role("table")
    expect(history.get_by_role("row")).to_have_count(2)  # header + "New"
    expect(history).to_contain_text("New")
    nav_link(page, "Partner tools").click()
    page.get_by_role("link", name="Referrals", exact=True).click()
    row = page.get_by_role("row").filter(has_text=f"#{referral_id}")
    expect(row).to_contain_text(PATIENT)
    expect(row).to_contain_text("New")

    # A clinician, in another browser, works the pipeline.
    clinician = new_page()
    log_in_ok(clinician, clinician_user.email)
    nav_link(clinician, "Referrals").click()
    clinician.get_by_role("link", name=f"#{referral_id}", exact=True).click()
    expect(clinician.get_by_role("heading", level=1)).to_have_text(f"Referral #{referral_id}")
    expect(clinician.get_by_text(MEDICATION)).to_be_visible()  # the clinicians see it all
    _move(clinician, "Contacted", referral_id)

    # The therapist sees the change on their referral page, and by e-mail.
    mailbox.wait_for_mail(therapist.email, f"Referral #{referral_id}: Contacted")
    page.goto(referral_url)
    expect(page.get_by_role("definition").filter(has_text="Contacted")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(3)

    _move(clinician, "Intake scheduled", referral_id)
    clinician.get_by_label("Note", exact=True).fill(NOTE)
    clinician.get_by_role("button", name="Add the note").click()
    expect(clinician.get_by_role("status")).to_contain_text("Note added.")
    expect(clinician.get_by_role("table")).to_contain_text(NOTE)
    _move(clinician, "Eligible", referral_id)
    expect(clinician.get_by_role("heading", name="Change the status")).to_have_count(0)  # final

    # The therapist's page: the whole path, no internal note.
    page.goto(referral_url)
    expect(page.get_by_role("definition").filter(has_text="Eligible")).to_be_visible()
    statuses = page.get_by_role("table").get_by_role("row").locator("td[data-label=Status]")
    expect(statuses).to_have_text(["New", "Contacted", "Intake scheduled", "Eligible"])
    expect(page.get_by_text(NOTE)).to_have_count(0)
    nav_link(page, "Partner tools").click()
    page.get_by_role("link", name="Referrals", exact=True).click()
    expect(page.get_by_role("row").filter(has_text=f"#{referral_id}")).to_contain_text("Eligible")
    with live_server.app.app_context():
        assert db.session.get(Referral, referral_id).status == ReferralStatus.ELIGIBLE

    # The e-mails: one per change to the therapist, a welcome to the patient, nothing clinical.
    therapist_mail = [
        mailbox.wait_for_mail(therapist.email, f"Referral #{referral_id}: {label}")
        for label in ("Contacted", "Intake scheduled", "Eligible")
    ]
    welcome = mailbox.wait_for_mail(PATIENT_EMAIL, "Welcome")
    assert "medical intake" in _all_text(welcome)
    for message in therapist_mail:
        text = _all_text(message)
        assert "J.Q.D." in text and f"/referrals/{referral_id}" in text
        assert PATIENT not in text and PATIENT_EMAIL not in text
    for message in [*therapist_mail, welcome]:
        text = _all_text(message)
        for secret in (CONCERN, PRIOR, MEDICATION, NOTE, DATE_OF_BIRTH, PHONE, "GAD-7", "PHQ-9"):
            assert secret.lower() not in text.lower(), (message["Subject"], secret)
    assert len(mailbox.messages_to(PATIENT_EMAIL)) == 1
    assert len(mailbox.messages_to(therapist.email)) == 3


def test_a_clinician_finds_a_referral_by_the_patients_name(
    new_page: Callable[..., Page], live_server: LiveServer, make_user
) -> None:
    """Names are encrypted at rest: the list is searched by whole words of the name."""
    from tests.referrals.conftest import referral_data

    therapist = make_user("pat.partner@example.org", full_name="Pat Partner")
    certify_partner(live_server, therapist, states=("CO",))
    clinician_user = make_user("cal.clinician@example.org", role="clinician", full_name="Cal Md")
    with live_server.app.app_context():
        from lms.referrals import services as referral_services

        partner = db.session.scalar(select(User).where(User.email == therapist.email))
        ids = {}
        for name in (PATIENT, "Robin Alvarez", "Zoë Lindqvist"):
            ids[name] = referral_services.create_referral(
                partner, referral_data(patient_name=name, state="CO")
            ).id
        db.session.commit()

    page = new_page()
    log_in_ok(page, clinician_user.email)
    nav_link(page, "Referrals").click()
    search = page.get_by_label("Patient name or referral number")
    expect(page.get_by_text("Whole words of the name")).to_be_visible()

    search.fill("quinn")  # any case
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(2)  # header + Jane Quinn Doe
    expect(rows.nth(1)).to_contain_text(PATIENT)
    expect(search).to_have_value("quinn")  # the search stays in the box

    search.fill("zoe")  # accents folded
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table")).to_contain_text("Zoë Lindqvist")

    # Unhappy path: part of a word finds nothing, and says so.
    search.fill("Alv")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No referrals match.")).to_be_visible()

    search.fill(f"#{ids['Robin Alvarez']}")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table")).to_contain_text("Robin Alvarez")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)


def test_a_partner_finds_a_patient_in_their_own_referrals(
    new_page: Callable[..., Page], live_server: LiveServer, make_user
) -> None:
    """A partner with years of referrals finds one patient by a word of the name or the
    referral's number, narrows by status, and is told when nothing matches."""
    from tests.referrals.conftest import referral_data

    therapist = make_user("lee.partner@example.org", full_name="Lee Partner")
    certify_partner(live_server, therapist, states=("CO",))
    with live_server.app.app_context():
        from lms.referrals import services as referral_services

        partner = db.session.scalar(select(User).where(User.email == therapist.email))
        names = [f"Patient Number{n:02d}" for n in range(27)] + ["Robin Alvarez"]
        ids = {
            name: referral_services.create_referral(
                partner, referral_data(patient_name=name, state="CO")
            ).id
            for name in names
        }
        db.session.commit()

    page = new_page()
    log_in_ok(page, therapist.email)
    page.goto(live_server.url + "/tools")
    page.get_by_role("link", name="Referrals", exact=True).first.click()
    expect(page.get_by_role("heading", name="Your referrals")).to_be_visible()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(26)  # header + a page of 25, the newest first
    expect(rows.nth(1)).to_contain_text("Robin Alvarez")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(rows).to_have_count(4)

    search = page.get_by_label("Patient name or referral number")
    search.fill("alvarez")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Robin Alvarez")
    expect(search).to_have_value("alvarez")

    search.fill(f"#{ids['Patient Number03']}")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Patient Number03")

    # Unhappy path: a status no referral has, then part of a word: said, not an empty table.
    search.fill("")
    page.get_by_label("Status").select_option(label="Eligible")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No referral matches these filters.")).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(26)
    search.fill("Alv")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No referral matches these filters.")).to_be_visible()
