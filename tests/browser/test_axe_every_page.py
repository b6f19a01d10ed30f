"""Every page of the URL map passes axe-core's WCAG 2.1 A/AA rules and fits a 390 px phone,
logged out and as each role (issue #11).

The walk is generated from ``app.url_map``: each endpoint that answers GET is audited for
every role that may open it (tests/security/conftest.py: AUDIENCES, narrowed by OPENED_BY),
or is listed in EXCLUDED with the reason. A new page is thus audited automatically, or the
guard test fails until someone says why it is not a page; a page a role should open but
cannot (an error, a redirect) fails the walk. The pages show real data: the demo data set
(``flask seed-demo``) plus what the demo lacks (tests/browser/pages.py), seeded once per
module and put back before each test. One browser context per role, on a phone.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.browser import pages
from tests.browser.conftest import TIMEOUT_MS, LiveServer, authenticator_code
from tests.payments.localstripe import run_localstripe, stripe_settings
from tests.security.conftest import AUDIENCES, ROLES, audience

pytestmark = pytest.mark.browser

AXE = Axe()
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
PHONE = {"width": 390, "height": 844}

# GET endpoints that are not pages a person reads, each with the reason.
EXCLUDED: dict[str, str] = {
    "main.healthz": "JSON for the load balancer",
    "admin.audit_csv": "CSV download",
    "admin.certificates_csv": "CSV download",
    "admin.therapists_csv": "CSV download",
    "admin.users_csv": "CSV download",
    "analytics.course_csv": "CSV download",
    "analytics.index_csv": "CSV download",
    "analytics.module_csv": "CSV download",
    "licensure.queue_csv": "CSV download",
    "payments.admin_csv": "CSV download",
    "licensure.document": "file download (an uploaded licence or insurance document)",
    "training.certificate_pdf": "PDF download",
    "training.asset": "course image or file, shown inside a lesson",
    "resources.download": "Markdown download",
    "resources.open_link": "records the click, then redirects to the outside library",
    "payments.status": "JSON, or the htmx fragment the return page polls (audited there)",
    "support.thread": "htmx fragment the request page polls (audited there)",
    "support.queue_live": "htmx fragment the queue page polls (audited there)",
}

# Pages that only some of the roles allowed in can open: endpoint -> (the roles that open
# it, why the others do not). Every other page opens for every role in its audience
# (tests/security/conftest.py: AUDIENCES).
ANONYMOUS = {"anonymous"}
THERAPISTS = {"therapist", "certified"}
LICENSURE = "a therapist's own credentials (staff get 403; admins review them under /admin)"
PAYMENT = "the applicant's payment waiting for a card: a payment is its payer's alone"
OPENED_BY: dict[str, tuple[set[str], str]] = {
    "main.index": (ANONYMOUS, "people who are logged in are sent to their home page"),
    "accounts.login": (ANONYMOUS, "people who are logged in are sent to their home page"),
    "accounts.register": (ANONYMOUS, "people who are logged in are sent to their home page"),
    "accounts.check_email": (ANONYMOUS, "the step after registering"),
    "accounts.forgot_password": (ANONYMOUS, "for people who cannot log in"),
    "accounts.reset_password": (ANONYMOUS, "for people who cannot log in"),
    "accounts.verify_email": (ANONYMOUS, "the link in the sign-up e-mail"),
    "accounts.accept_invitation": (ANONYMOUS, "accepting creates an account: logs out first"),
    "accounts.mfa_challenge": (
        {"clinician", "admin"},
        "the second step of the staff's log-in; others are sent to the log-in page",
    ),
    "main.dashboard": (
        {"therapist", "certified", "clinician"},
        "the admin's home page is the operations page",
    ),
    "training.attempt_result": (THERAPISTS, "a quiz result is its learner's alone"),
    "training.lesson": (THERAPISTS, "for the enrolled; staff are sent to the course page"),
    "training.evaluation": (THERAPISTS, "for the enrolled; staff are sent to the course page"),
    "certification.agreement": (THERAPISTS, "the partner agreement is signed by therapists"),
    "licensure.overview": (THERAPISTS, LICENSURE),
    "licensure.add_license": (THERAPISTS, LICENSURE),
    "licensure.edit_license": (THERAPISTS, LICENSURE),
    "licensure.add_insurance": (THERAPISTS, LICENSURE),
    "licensure.edit_insurance": (THERAPISTS, LICENSURE),
    "licensure.attestation": (THERAPISTS, LICENSURE),
    "payments.pay": ({"therapist"}, PAYMENT),
    "payments.return_page": ({"therapist"}, PAYMENT),
    "training.attempt": (
        {"therapist"},
        "the applicant's quiz in progress; finished attempts redirect to their result",
    ),
}

# Audited by log_in, on the way in (staff only).
IN_LOG_IN = {"accounts.mfa_challenge"}

# E-mails as HTML documents, served with a CSP sandbox that stops all scripts, axe's too
# (its evaluation never returns): audited as the same HTML loaded into a blank page.
SANDBOXED = {"admin.mail_message_html", "admin.mail_preview_html"}

# Pages that answer with another status than 200 on purpose.
STATUS = {"accounts.verify_email": 400}  # the "link already used" page


@pytest.fixture(scope="module")
def world(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[pages.World, Path]]:
    """Seed once per module; yield the world and a snapshot of the seeded database."""
    folder = tmp_path_factory.mktemp("axe-every-page")
    config = live_server.app.config
    with run_localstripe(folder) as stripe_base:
        changes = {
            "COURSES_PATH": str(pages.course_folder(folder / "courses")),
            "MAIL_BACKEND": "file",  # the admin's development mail pages read these files
            "MAIL_FOLDER": str(folder / "mail"),
        }
        payments = stripe_settings(stripe_base)
        saved = {key: config.get(key) for key in {**changes, **payments}}
        config.update(changes)
        try:
            live_server.restore_database()
            seeded = pages.seed(live_server.app)
            # Only now: with Stripe on, seed-demo cannot enrol the applicant in the paid
            # demo course (services.enroll refuses: "Enrol in the course first.").
            config.update(payments)
            live_server.app.extensions["lms.db"].engine.dispose()
            snapshot = folder / "seeded.sqlite3"
            shutil.copyfile(live_server.db_path, snapshot)
            yield seeded, snapshot
        finally:
            config.update(saved)


@pytest.fixture
def seeded(live_server: LiveServer, world: tuple[pages.World, Path]) -> pages.World:
    """The seeded database, fresh for this test. Runs after conftest's autouse _fresh_state
    (autouse fixtures come first), which puts back the empty database."""
    live_server.wsgi.wait_idle()
    live_server.app.extensions["lms.db"].engine.dispose()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{live_server.db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(world[1], live_server.db_path)
    return world[0]


def plan(app: Flask, world: pages.World, role: str) -> tuple[dict[str, str], list[str]]:
    """The pages ``role`` opens (endpoint -> URL), and the parameters that cannot be filled."""
    planned: dict[str, str] = {}
    unfilled = []
    for rule in pages.get_rules(app):
        if rule.endpoint in EXCLUDED or role not in AUDIENCES[audience(app, rule)]:
            continue
        if rule.endpoint in OPENED_BY and role not in OPENED_BY[rule.endpoint][0]:
            continue
        url, missing = pages.build_url(app, rule, world.values(role))
        if url is None:
            unfilled.append(f"{rule.endpoint} ({rule.rule}): no value for {missing}")
        else:
            planned[rule.endpoint] = url
    return planned, unfilled


def audit(page: Page, label: str, problems: list[str]) -> None:
    """axe's WCAG 2.1 A/AA rules, and no sideways scrolling at 390 px."""
    for violation in AXE.run(page, options=WCAG).response["violations"]:
        targets = [node["target"] for node in violation["nodes"][:3]]
        problems.append(f"{label}: {violation['id']} ({violation['help']}) at {targets}")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        problems.append(f"{label}: scrolls sideways at {width[1]} px ({width[0]} px wide)")


def log_in(page: Page, role: str, problems: list[str]) -> None:
    """Log in as the role's demo account; audit the two-step page on the way (staff)."""
    email = pages.LOGINS[role]
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(pages.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if role in OPENED_BY["accounts.mfa_challenge"][0]:
        expect(page).to_have_url(re.compile(r"/login/verify$"))
        audit(page, f"{role} accounts.mfa_challenge /login/verify", problems)
        page.get_by_label("Authentication code").fill(authenticator_code(email))
        page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/(dashboard|admin/)$"))


def test_every_get_endpoint_is_audited_or_excluded(
    live_server: LiveServer, seeded: pages.World
) -> None:
    """The guard: a GET endpoint nobody audits is excluded, with a reason; every URL
    parameter is filled from the seeded world."""
    app = live_server.app
    endpoints = {rule.endpoint for rule in pages.get_rules(app)}
    assert set(EXCLUDED) <= endpoints, f"stale EXCLUDED: {set(EXCLUDED) - endpoints}"
    assert set(OPENED_BY) <= endpoints, f"stale OPENED_BY: {set(OPENED_BY) - endpoints}"
    assert not set(EXCLUDED) & set(OPENED_BY)
    audited: set[str] = set()
    problems = []
    for role in ROLES:
        planned, unfilled = plan(app, seeded, role)
        audited |= set(planned)
        problems += [f"{role}: {line}" for line in unfilled]
    forgotten = sorted(endpoints - audited - set(EXCLUDED))
    problems += [f"neither audited nor excluded: {endpoint}" for endpoint in forgotten]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_passes_axe(
    role: str, live_server: LiveServer, browser: Browser, seeded: pages.World
) -> None:
    """Open each page planned for ``role``; it must answer as expected, pass axe and fit."""
    planned, unfilled = plan(live_server.app, seeded, role)
    problems = [f"{role}: {line}" for line in unfilled]
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        timezone_id="America/Chicago",
        reduced_motion="reduce",
        viewport=PHONE,
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        if role != "anonymous":
            log_in(page, role, problems)
        for endpoint, url in planned.items():
            if endpoint in IN_LOG_IN:
                continue
            if endpoint in SANDBOXED:
                fetched = page.request.get(url, max_redirects=0)
                status, landed = fetched.status, url
                page.goto("about:blank")
                page.set_content(fetched.text())
            else:
                response = page.goto(url)
                assert response is not None
                status, landed = response.status, page.url.removeprefix(live_server.url)
            expected = STATUS.get(endpoint, 200)
            if status != expected or landed != url:
                problems.append(
                    f"{role} {endpoint} {url}: answered {status} at {landed}, "
                    f"expected {expected} at {url}"
                )
                continue
            audit(page, f"{role} {endpoint} {url}", problems)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_the_audit_finds_what_it_looks_for(browser: Browser) -> None:
    """The walk passing means something: a page with known faults fails the audit."""
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.set_content(
            "<html><head><title>Faults</title></head><body><main>"
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
            '<p style="color:#bbb;background:#fff">Pale text</p>'
            '<div style="width:600px">Too wide for a phone</div>'
            "</main></body></html>"
        )
        problems: list[str] = []
        audit(page, "faults", problems)
    finally:
        context.close()
    found = "\n".join(problems)
    assert "html-has-lang" in found
    assert "image-alt" in found
    assert "color-contrast" in found
    assert "scrolls sideways at 390 px" in found
