"""An admin exports the audit log: too broad a filter brings the page back with a message
and the filters kept; narrowed, the CSV downloads with the events shown."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert

from lms.admin import views
from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from tests.browser.conftest import LiveServer, log_in_ok, nav_link

pytestmark = pytest.mark.browser


def _events(live_server: LiveServer, action: str, n: int) -> None:
    now = utcnow()
    with live_server.app.app_context():
        db.session.execute(
            insert(AuditEvent),
            [
                {
                    "created_at": now - timedelta(hours=i + 1),
                    "actor_email": "ops.board@example.org",
                    "action": action,
                    "object_type": "license",
                    "object_id": f"TX-{i}",
                    "details": {"checked": "Texas BHEC lookup"},
                }
                for i in range(n)
            ],
        )
        db.session.commit()


def test_admin_exports_the_audit_log_narrowing_a_filter_that_matches_too_many(
    new_page: Callable[..., Page],
    make_user,
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(views, "AUDIT_EXPORT_LIMIT", 4)
    _events(live_server, "license.verified", 3)
    _events(live_server, "license.rejected", 3)
    admin = make_user("audit.admin@example.org", role="admin", full_name="Audit Admin")

    page = new_page()
    log_in_ok(page, admin.email)
    nav_link(page, "Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    expect(page.get_by_text("Up to 4 events, newest first.")).to_be_visible()

    # A day too far off to filter by: said in the page (it failed with a 500), no export.
    page.get_by_label("To", exact=True).fill("9999-12-31")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Enter a date between 1900 and 2199.")).to_be_visible()
    expect(page.get_by_role("link", name="Export these events (CSV)")).to_have_count(0)
    page.get_by_label("To", exact=True).fill("")

    # Unhappy path: six license events are more than an export holds here.
    page.get_by_label("Action").fill("license.")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Export these events (CSV)").click()
    expect(page.get_by_role("alert")).to_have_text(
        "These filters match more than 4 events, more than one export holds. Narrow the "
        "dates (From, To) and export each part."
    )
    expect(page.get_by_label("Action")).to_have_value("license.")

    # Narrowed to the verifications: the file downloads with exactly those events.
    page.get_by_label("Action").fill("license.verified")
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export these events (CSV)").click()
    download = info.value
    assert download.suggested_filename.startswith("audit-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0] == ["When", "Action", "Actor", "Object", "IP", "Details"]
    assert [(r[1], r[3], r[5]) for r in rows[1:]] == [
        ("license.verified", f"license TX-{i}", "checked: Texas BHEC lookup") for i in range(3)
    ]
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")  # still here
