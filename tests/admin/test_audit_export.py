"""The audit log's export over years of history: read and written as it goes (a worker holds
about the same memory for many rows as for few), and refused with a message, the filters
kept, when the filters match more events than an export holds (docs/PERFORMANCE.md, "The
nineteenth round")."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from lms import exports
from lms.admin import views
from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db


def _events(admin: Any, n: int, action: str = "license.verified") -> None:
    now = utcnow()
    db.session.execute(
        insert(AuditEvent),
        [
            {
                "created_at": now - timedelta(minutes=i),
                "actor_id": admin.id,
                "actor_email": admin.email,
                "action": action,
                "object_type": "license",
                "object_id": str(i),
                "details": {"how": f"state board lookup {i}", "note": "=checked"},
            }
            for i in range(n)
        ],
    )
    db.session.commit()


def _exports_recorded() -> list[dict[str, Any]]:
    return [
        e.details
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.exported")
        )
    ]


def test_more_events_than_an_export_holds_bring_the_page_back_with_a_message(
    client, login, make_user, monkeypatch
) -> None:
    admin = make_user("admin")
    _events(admin, 6)
    _events(admin, 2, action="account.role_changed")
    login(admin)
    monkeypatch.setattr(views, "AUDIT_EXPORT_LIMIT", 5)

    page = client.get("/admin/audit?action=license.").get_data(as_text=True)
    assert "Up to 5 events, newest first." in page
    response = client.get("/admin/audit.csv?action=license.&date_to=2100-01-01")
    assert response.status_code == 303
    assert response.location == "/admin/audit?action=license.&date_to=2100-01-01"
    page = client.get(response.location).get_data(as_text=True)
    assert "These filters match more than 5 events, more than one export holds." in page
    assert 'value="license."' in page  # the filters are still filled in
    assert _exports_recorded() == []  # nothing was exported

    # Exactly as many as an export holds: exported, newest first, every one.
    monkeypatch.setattr(views, "AUDIT_EXPORT_LIMIT", 6)
    response = client.get("/admin/audit.csv?action=license.")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["When", "Action", "Actor", "Object", "IP", "Details"]
    assert [row[3] for row in rows[1:]] == [f"license {i}" for i in range(6)]
    assert rows[1][5] == "how: state board lookup 0; note: =checked"
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    assert [d["rows"] for d in _exports_recorded()] == [6]


def test_no_export_link_while_a_filter_needs_correcting(client, login, make_user) -> None:
    """The link (a plain link, so that the too-many message can show) would only answer
    with the filter's error: the page shows the error and no link until it is corrected."""
    admin = make_user("admin")
    _events(admin, 3)
    login(admin)
    page = client.get("/admin/audit?date_from=notadate").get_data(as_text=True)
    assert "Not a valid date value." in page
    assert "Export these events (CSV)" not in page
    page = client.get("/admin/audit?date_from=2020-01-01").get_data(as_text=True)
    assert "Export these events (CSV)" in page


def _peak_while_exporting(client: Any) -> tuple[int, int]:
    """The most memory Python held while the export was made, and its number of rows."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        response = client.get("/admin/audit.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    body = response.get_data()
    assert int(response.headers["Content-Length"]) == len(body)
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][0] == "When" and rows[-1][1] == "license.verified"
    return peak, len(rows) - 1


def test_an_export_holds_about_the_same_memory_for_many_rows_as_for_few(
    client, login, make_user, monkeypatch
) -> None:
    """Read in batches and written to a file as it goes: 3,000 rows cost the worker about
    what 300 do (built in memory first, they cost ten times as much)."""
    monkeypatch.setattr(views, "AUDIT_EXPORT_BATCH", 50)
    monkeypatch.setattr(exports, "SPOOL_BYTES", 16 * 1024)
    admin = make_user("admin")
    login(admin)
    _events(admin, 300)
    few, few_rows = _peak_while_exporting(client)
    _events(admin, 2_700)
    many, many_rows = _peak_while_exporting(client)
    assert many_rows >= 3_000 > few_rows >= 300
    assert many < 1.5 * few, (few, many)


def test_a_long_export_abandoned_before_it_is_sent_leaves_no_file_open(
    client, login, make_user, monkeypatch
) -> None:
    """A file longer than what is kept in memory is sent from disk; when the download is
    dropped first (the server closes the response unread), the file is closed and removed
    (an unclosed one fails this suite: warnings are errors)."""
    monkeypatch.setattr(exports, "SPOOL_BYTES", 1024)
    admin = make_user("admin")
    login(admin)
    _events(admin, 40)
    logged = db.session.scalar(select(func.count()).select_from(AuditEvent))  # and the log-in
    response = client.get("/admin/audit.csv")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 1024
    assert response.is_streamed  # sent from the file, in blocks
    response.close()
    assert [d["rows"] for d in _exports_recorded()] == [logged]
