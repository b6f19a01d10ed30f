"""Certificates: codes, public verification, expiry, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.training import services
from lms.training.certificates import add_months, issue_certificate, new_code, normalise_code
from lms.training.models import Certificate, Enrollment


@pytest.fixture
def certificate(mini_course, make_user) -> Certificate:
    user = make_user(full_name="Casey Holder")
    enrollment = services.enroll(user, mini_course)
    db.session.flush()
    cert = issue_certificate(db.session.get(Enrollment, enrollment.id))
    db.session.commit()
    return cert


def test_codes_are_random_and_well_formed() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 24 and c.count("-") == 4 for c in codes)
    assert normalise_code(" abcd efgh-ijkl mnop qrst ") == "ABCD-EFGH-IJKL-MNOP-QRST"


def test_add_months_clamps_to_month_end() -> None:
    from datetime import UTC, datetime

    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 24) == datetime(2028, 11, 15, tzinfo=UTC)


def test_verification_page_is_public_and_shows_only_what_it_should(app, certificate) -> None:
    anonymous = app.test_client()
    page = anonymous.get(f"/verify/{certificate.code}").get_data(as_text=True)
    assert "Valid" in page and "Casey Holder" in page and "Mini course" in page
    assert certificate.issued_at.strftime("%B") in page
    assert "@example.org" not in page  # no e-mail, nothing else
    lower = anonymous.get(f"/verify/{certificate.code.lower().replace('-', '')}")
    assert lower.status_code == 200


def test_verify_form_redirects_and_unknown_codes_are_404(app, certificate) -> None:
    anonymous = app.test_client()
    response = anonymous.get("/verify", query_string={"code": certificate.code.lower()})
    assert response.status_code == 302 and response.headers["Location"].endswith(certificate.code)
    missing = anonymous.get("/verify/AAAA-AAAA-AAAA-AAAA-AAAA")
    assert missing.status_code == 404 and "No certificate has this code" in missing.get_data(
        as_text=True
    )
    assert anonymous.get("/verify/not-a-code").status_code == 404
    empty = anonymous.get("/verify", query_string={"code": ""})
    assert empty.status_code == 422


def test_expired_certificate_shows_expired(app, certificate) -> None:
    certificate = db.session.get(Certificate, certificate.id)
    certificate.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert "Expired" in app.test_client().get(f"/verify/{certificate.code}").get_data(as_text=True)


def test_admin_revokes_with_a_reason_and_it_is_audited(
    app, client, certificate, make_user, login
) -> None:
    admin = make_user("admin")
    login(admin)
    no_reason = client.post(f"/admin/certificates/{certificate.id}/revoke", data={"reason": ""})
    assert db.session.get(Certificate, certificate.id).revoked_at is None
    assert no_reason.status_code in (302, 422)
    client.post(f"/admin/certificates/{certificate.id}/revoke", data={"reason": "Issued in error"})
    revoked = db.session.get(Certificate, certificate.id)
    assert revoked.revoked_at is not None and revoked.revoked_reason == "Issued in error"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "certificate.revoked"))
    assert event.details["reason"] == "Issued in error" and event.actor_id == admin.id
    assert "Revoked" in app.test_client().get(f"/verify/{revoked.code}").get_data(as_text=True)


def test_pdf_is_for_the_holder_and_admins_only(app, certificate, make_user) -> None:
    from tests.conftest import log_in

    other = app.test_client()
    log_in(other, make_user())
    assert other.get(f"/certificates/{certificate.id}.pdf").status_code == 404
    admin = app.test_client()
    log_in(admin, make_user("admin"))
    assert admin.get(f"/certificates/{certificate.id}.pdf").status_code == 200
    anonymous = app.test_client().get(f"/certificates/{certificate.id}.pdf")
    assert anonymous.status_code == 302


def _pdf_text(pdf: bytes) -> str:
    """The text drawn on the page (ReportLab streams are ASCII85 + Flate encoded)."""
    import base64
    import re
    import zlib

    chunks = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = raw.strip()
        try:
            if data.endswith(b"~>"):
                data = base64.a85decode(data[:-2])
            chunks.append(zlib.decompress(data).decode("latin-1"))
        except (ValueError, zlib.error):
            continue
    return "\n".join(chunks)


def test_pdf_carries_every_detail_and_the_verification_link(certificate) -> None:
    from lms.training.certificates import render_pdf

    url = f"https://partners.example.org/verify/{certificate.code}"
    text = _pdf_text(render_pdf(certificate, url))
    for expected in (
        "Casey Holder",
        "Mini course",
        certificate.code,
        "1.5 continuing-education hours",
        "Approved for 1.5 test hours.",
        certificate.issued_at.strftime("Issued %B %-d, %Y"),
        certificate.expires_at.strftime("Valid until %B %-d, %Y"),
        f"Verify: {url}",
    ):
        assert expected in text, expected
