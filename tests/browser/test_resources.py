"""The resource library in the browser: find a document, read it, download it (audited), follow
an outside link (audited), and get a helpful answer when nothing matches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from lms.audit import AuditEvent
from lms.extensions import db
from lms.resources.content import DEFAULT_ROOT, load_library
from tests.browser.conftest import LiveServer, UserInfo, log_in_ok, nav_link
from tests.browser.test_certification import certify_partner

pytestmark = pytest.mark.browser

LIBRARY = load_library(DEFAULT_ROOT)
WORKSHEET = LIBRARY.get("integration-session-worksheet")
LIFELINE = LIBRARY.get("988-suicide-and-crisis-lifeline")
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


@pytest.fixture
def partner(live_server: LiveServer, make_user) -> UserInfo:
    user = make_user("pat.partner@example.org", full_name="Pat Partner")
    certify_partner(live_server, user)
    return user


def _events(live_server: LiveServer, action: str) -> list[tuple[int | None, str | None]]:
    with live_server.app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [(e.actor_id, e.object_id) for e in rows]


def _search(page: Page, words: str) -> None:
    page.get_by_label("Search the library").fill(words)
    page.get_by_role("button", name="Search").click()


def test_a_partner_finds_reads_and_downloads_a_document(
    page: Page, live_server: LiveServer, partner: UserInfo, tmp_path: Path
) -> None:
    log_in_ok(page, partner.email)
    nav_link(page, "Partner tools").click()
    page.get_by_role("link", name="Resource library").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resource library")
    total = len(LIBRARY.resources)
    expect(page.get_by_role("status")).to_have_text(
        f"{total} resources in {len(LIBRARY.categories)} categories."
    )
    expect(page.get_by_role("heading", name="Consent templates", level=2)).to_be_visible()

    # Search: words from the text, not only the title.
    _search(page, "themes next steps")
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^\d+ resources? match(es)? “themes next steps”\.$")
    )
    results = page.get_by_role("listitem").filter(has=page.get_by_role("heading", level=3))
    expect(results.first).to_contain_text(WORKSHEET.title)
    page.get_by_role("link", name=WORKSHEET.title).click()

    # The document, rendered in the page.
    expect(page.get_by_role("heading", level=1)).to_have_text(WORKSHEET.title)
    document = page.get_by_role("article")
    expect(document.get_by_role("heading", name="4. Next steps")).to_be_visible()
    expect(document).to_contain_text("Template: review before use.")
    expect(document.get_by_role("table").first).to_be_visible()

    # The download, and its audit row.
    assert _events(live_server, "resource.downloaded") == []
    with page.expect_download() as info:
        page.get_by_role("link", name="Download (Markdown)").click()
    download = info.value
    assert download.suggested_filename == f"{WORKSHEET.slug}.md"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith(f"# {WORKSHEET.title}\n\n> **Template: review before use.**")
    assert "## 4. Next steps" in text
    assert _events(live_server, "resource.downloaded") == [(partner.id, WORKSHEET.slug)]

    # Back to the list by its category, then an outside link through the audited route.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name=WORKSHEET.category.label
    ).click()
    expect(page.get_by_role("status")).to_contain_text(f"in {WORKSHEET.category.label}.")
    page.get_by_role("navigation", name="Categories").get_by_role(
        "link", name=re.compile(f"^{LIFELINE.category.label}")
    ).click()
    page.get_by_role("link", name=LIFELINE.title).click()

    def outside(route: Route) -> None:  # the test never leaves the machine
        route.fulfill(
            status=200, content_type="text/html", body="<title>Stand-in</title><h1>Outside</h1>"
        )

    page.context.route(re.compile(r"^https://988lifeline\.org/"), outside)
    page.get_by_role("link", name=f"Open the page on {LIFELINE.host}").click()
    expect(page).to_have_url(LIFELINE.url)
    expect(page.get_by_role("heading", name="Outside")).to_be_visible()
    assert _events(live_server, "resource.link_opened") == [(partner.id, LIFELINE.slug)]


def test_a_search_with_no_match_shows_a_helpful_empty_state(
    page: Page, live_server: LiveServer, partner: UserInfo
) -> None:
    log_in_ok(page, partner.email)
    page.goto("/resources")
    page.get_by_label("Category").select_option(label="Consent templates")
    _search(page, "xylophone")
    expect(page.get_by_role("status")).to_have_text(
        "0 resources match “xylophone” in Consent templates."
    )
    expect(page.get_by_text("No resources match “xylophone” in Consent templates.")).to_be_visible()
    expect(page.get_by_text("Try fewer or different words")).to_be_visible()
    expect(page.get_by_label("Search the library")).to_have_value("xylophone")  # kept
    page.get_by_role("link", name=f"browse all {len(LIBRARY.resources)} resources").click()
    expect(page.get_by_role("status")).to_have_text(
        f"{len(LIBRARY.resources)} resources in {len(LIBRARY.categories)} categories."
    )
    expect(page.get_by_label("Search the library")).to_have_value("")


def test_library_pages_are_accessible_on_a_phone(
    new_context, live_server: LiveServer, partner: UserInfo
) -> None:
    page = new_context().new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in_ok(page, partner.email)
    problems: list[str] = []
    for path in (
        "/resources",
        "/resources?q=consent",
        "/resources?q=xylophone",
        "/resources?category=nope",
        f"/resources/{WORKSHEET.slug}",
        "/resources/kap-informed-consent",
        f"/resources/{LIFELINE.slug}",
    ):
        page.goto(path)
        page.wait_for_load_state()
        for violation in Axe().run(page, options=WCAG).response["violations"]:
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"{path}: {violation['id']} ({violation['help']}) at {targets}")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            problems.append(f"{path}: scrolls sideways at {width[1]} px ({width[0]} px wide)")
    assert problems == []
