"""Resource library pages: who may open them, search and filter, downloads and links audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lms.audit import AuditEvent
from lms.certification.services import KEYS, certification_status
from lms.extensions import db
from lms.resources.content import DEFAULT_ROOT, load_library
from tests.resources.conftest import CONSENT

ROUTES = (
    "/resources",
    "/resources/consent-template",
    "/resources/consent-template/download",
    "/resources/lifeline/open",
)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- who may open the library ------------------------------------------------------------------


@pytest.mark.usefixtures("small_library")
def test_anonymous_visitors_are_sent_to_log_in(client) -> None:
    for url in ROUTES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url
    assert _events("resource.downloaded") == [] and _events("resource.link_opened") == []


@pytest.mark.usefixtures("small_library")
@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_staff_are_refused(client, make_user, login, role: str) -> None:
    login(make_user(role))
    for url in ROUTES:
        assert client.get(url).status_code == 403, url
    assert _events("resource.downloaded") == [] and _events("resource.link_opened") == []


@pytest.mark.usefixtures("small_library")
@pytest.mark.parametrize("missing", KEYS)
def test_an_uncertified_therapist_is_sent_to_the_checklist(
    client, make_certified, login, missing: str
) -> None:
    user = make_certified(skip=() if missing == "account" else (missing,))
    login(user)
    if missing == "account":
        from lms.accounts.models import User

        db.session.get(User, user.id).email_verified_at = None
        db.session.commit()
    label = certification_status(user).get(missing).label
    for url in ROUTES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/dashboard#certification"), url
        dashboard = _text(client.get("/dashboard")).replace("&#39;", "'")
        assert f"Missing: {label}" in dashboard, url
    assert _events("resource.downloaded") == [] and _events("resource.link_opened") == []


# --- browsing and search -----------------------------------------------------------------------


@pytest.fixture
def partner(make_certified, login):
    user = make_certified()
    login(user)
    return user


@pytest.mark.usefixtures("small_library")
def test_the_index_lists_everything_grouped_by_category(client, partner) -> None:
    response = client.get("/resources")
    assert response.status_code == 200
    page = _text(response)
    assert "3 resources in 3 categories." in page
    headings = re.findall(r'<h2 id="group-\d+" class="resource-group">([^<]+)</h2>', page)
    assert headings == ["Consent templates", "Patient handouts", "Crisis lines"]
    for slug in ("consent-template", "aftercare-handout", "lifeline"):
        assert f'href="/resources/{slug}"' in page
    assert "External link · 988lifeline.org" in page
    assert "Updated Oct 1, 2026" in page
    assert 'href="/resources?category=handouts"' in page  # the category pills


@pytest.mark.usefixtures("small_library")
def test_filter_by_category(client, partner) -> None:
    page = _text(client.get("/resources?category=handouts"))
    assert "1 resource in Patient handouts." in page
    assert 'href="/resources/aftercare-handout"' in page
    assert 'href="/resources/consent-template"' not in page
    assert re.search(r'href="/resources\?category=handouts"\s+aria-current="true"', page)


@pytest.mark.usefixtures("small_library")
def test_search_over_title_summary_category_and_text(client, partner) -> None:
    page = _text(client.get("/resources?q=zephyrine"))
    assert "1 resource matches “zephyrine”." in page
    assert 'href="/resources/consent-template"' in page
    assert "<mark>zephyrine</mark>" in page  # the passage of the document that matched
    assert 'href="/resources/aftercare-handout"' not in page
    page = _text(client.get("/resources?q=Patient+handouts"))
    assert "1 resource matches" in page and 'href="/resources/aftercare-handout"' in page
    page = _text(client.get("/resources?q=988&category=crisis"))
    assert "1 resource matches “988” in Crisis lines." in page


@pytest.mark.usefixtures("small_library")
def test_a_search_with_no_match_shows_a_helpful_empty_state(client, partner) -> None:
    response = client.get("/resources?q=xylophone&category=consent")
    assert response.status_code == 200
    page = _text(response)
    assert "0 resources match “xylophone” in Consent templates." in page
    assert "No resources match “xylophone” in Consent templates." in page
    assert "browse all 3 resources" in page
    assert 'class="resource-list"' not in page


@pytest.mark.usefixtures("small_library")
def test_the_query_is_escaped(client, partner) -> None:
    page = _text(client.get("/resources?q=<script>x</script>"))
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


@pytest.mark.usefixtures("small_library")
def test_bad_filters_are_explained_with_422(client, partner) -> None:
    response = client.get("/resources?category=nope")
    assert response.status_code == 422
    page = _text(response)
    assert "Choose a category from the list." in page
    assert "3 resources in 3 categories." in page  # the bad filter is not applied
    response = client.get("/resources?q=" + "a" * 201)
    assert response.status_code == 422
    assert "Use at most 200 characters." in _text(response)


def test_more_than_twenty_resources_are_paginated(client, partner, use_library) -> None:
    entries = "".join(
        f'\n[[resources]]\nslug = "link-{n:02d}"\ntitle = "Reference {n:02d}"\n'
        f'category = "crisis"\nkind = "link"\nurl = "https://example.org/{n}"\n'
        f'summary = "Reference number {n}."\n'
        for n in range(1, 26)
    )
    use_library('[categories]\ncrisis = "Crisis lines"\n' + entries, files={})
    first = _text(client.get("/resources"))
    assert "25 resources in 1 category." in first
    assert first.count('class="card resource-card"') == 20
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Reference 20" in first and "Reference 21" not in first
    second = _text(client.get("/resources?page=2"))
    assert second.count('class="card resource-card"') == 5
    assert "Reference 21" in second and "Reference 25" in second and "Reference 20" not in second
    searched = _text(client.get("/resources?q=reference&page=2"))
    assert searched.count('class="card resource-card"') == 5
    assert "Results, page 2 of 2" in searched
    assert _text(client.get("/resources?page=99")).count('class="card resource-card"') == 5


# --- one resource ------------------------------------------------------------------------------


@pytest.mark.usefixtures("small_library")
def test_a_document_page_shows_the_sanitised_document(client, partner) -> None:
    response = client.get("/resources/consent-template")
    assert response.status_code == 200
    page = _text(response)
    assert "<h1>Consent template</h1>" in page
    assert "<h2>Risks</h2>" in page and "zephyrine" in page
    assert '<li class="task">☐ Patient has read the form</li>' in page
    assert 'href="/resources/consent-template/download"' in page
    assert _events("resource.downloaded") == []  # reading is not downloading


def test_a_hostile_document_is_rendered_harmless(client, partner, use_library) -> None:
    hostile = '## Hi\n\n<script>alert(1)</script>\n\n<a href="javascript:alert(2)">x</a>\n'
    use_library(files={"consent.md": hostile, "aftercare.md": CONSENT})
    page = _text(client.get("/resources/consent-template"))
    assert "<script>alert(1)" not in page and "javascript:" not in page


@pytest.mark.usefixtures("small_library")
def test_a_link_page_offers_the_audited_redirect(client, partner) -> None:
    page = _text(client.get("/resources/lifeline"))
    assert 'href="/resources/lifeline/open"' in page
    assert "https://988lifeline.org/" not in page  # only through the audited route
    assert "/download" not in page


@pytest.mark.usefixtures("small_library")
@pytest.mark.parametrize(
    "url",
    [
        "/resources/no-such-thing",
        "/resources/no-such-thing/download",
        "/resources/no-such-thing/open",
        "/resources/lifeline/download",  # a link has nothing to download
        "/resources/consent-template/open",  # a document is not an outside link
    ],
)
def test_unknown_slugs_and_wrong_kinds_answer_404(client, partner, url: str) -> None:
    assert client.get(url).status_code == 404
    assert _events("resource.downloaded") == [] and _events("resource.link_opened") == []


# --- downloads and links, audited --------------------------------------------------------------


@pytest.mark.usefixtures("small_library")
def test_a_download_is_audited(client, partner) -> None:
    response = client.get("/resources/consent-template/download")
    assert response.status_code == 200
    assert response.mimetype == "text/markdown" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="consent-template.md"'
    assert _text(response) == "# Consent template\n\n" + CONSENT
    [event] = _events("resource.downloaded")
    assert event.actor_id == partner.id and event.actor_email == partner.email
    assert (event.object_type, event.object_id) == ("resource", "consent-template")
    assert event.details == {"title": "Consent template", "format": "md"}
    client.get("/resources/consent-template/download")
    assert len(_events("resource.downloaded")) == 2  # every download, not the first only
    assert client.head("/resources/consent-template/download").status_code == 200
    assert client.head("/resources/lifeline/open").status_code == 302
    assert len(_events("resource.downloaded")) == 2  # a HEAD request is not a download
    assert _events("resource.link_opened") == []


@pytest.mark.usefixtures("small_library")
@pytest.mark.parametrize(
    "query",
    ["", "?url=https://evil.example/", "?next=https://evil.example/", "?to=//evil.example"],
)
def test_open_redirects_only_to_the_configured_url(client, partner, query: str) -> None:
    response = client.get("/resources/lifeline/open" + query)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://988lifeline.org/"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    [event] = _events("resource.link_opened")
    assert event.actor_id == partner.id
    assert (event.object_type, event.object_id) == ("resource", "lifeline")
    assert event.details == {"url": "https://988lifeline.org/"}


def test_the_shipped_library_pages_all_open(client, partner, app) -> None:
    """With the real content: every resource's page opens, documents download."""
    assert not app.config.get("RESOURCES_PATH")
    library = load_library(DEFAULT_ROOT)
    page = _text(client.get("/resources"))
    assert f"{len(library.resources)} resources in {len(library.categories)} categories." in page
    for resource in library.resources:
        assert client.get(f"/resources/{resource.slug}").status_code == 200, resource.slug
        if resource.is_document:
            download = client.get(f"/resources/{resource.slug}/download")
            assert download.status_code == 200 and _text(download).startswith(
                f"# {resource.title}\n"
            )
        else:
            assert client.get(f"/resources/{resource.slug}/open").headers["Location"] == (
                resource.url
            )
    page = _text(client.get("/resources?q=consent"))
    assert "kap-informed-consent" in page
