"""Uploads: checked by content and size, stored under random names, served only to the owner
and admins with headers that keep the bytes from running in our origin."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.licensure.demo import tiny_pdf
from lms.licensure.models import Document, License, RecordStatus
from lms.storage import storage
from tests.licensure.conftest import (
    license_form,
    pdf_file,
    png_file,
    post_multipart,
    submit_license,
)

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="5"/></svg>'
SCRIPT = b"#!/bin/sh\nrm -rf /\n"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_license_with_a_pdf_is_stored_with_its_hash(app, client, login, therapist) -> None:
    login(therapist)
    response = submit_license(client)
    assert response.status_code == 302
    lic = db.session.scalars(select(License)).one()
    assert lic.status == RecordStatus.PENDING
    assert (lic.number, lic.state, lic.npi) == ("LMFT 12345", "CA", "1234567893")
    [doc] = lic.documents
    assert doc.sha256 == hashlib.sha256(tiny_pdf()).hexdigest()
    assert doc.content_type == "application/pdf" and doc.original_name == "license.pdf"
    path = Path(app.config["UPLOAD_FOLDER"]) / doc.storage_key[:2] / doc.storage_key
    stored = path.read_bytes()  # encrypted at rest: neither the PDF nor any of its text
    # "%PDF" (the file's signature) cannot occur in the ciphertext's base64 by chance, as
    # "PDF" alone did once in a few hundred runs.
    assert stored.startswith(b"LMS-ENCRYPTED-1\n") and b"%PDF" not in stored
    assert tiny_pdf() not in stored
    assert storage().read(doc.storage_key) == tiny_pdf()
    static = Path(app.static_folder).resolve()
    assert static not in path.resolve().parents


@pytest.mark.parametrize("payload", [HTML, SVG, SCRIPT], ids=["html", "svg", "script"])
def test_a_non_document_renamed_pdf_is_refused_and_nothing_is_saved(
    client, login, therapist, payload: bytes
) -> None:
    login(therapist)
    response = submit_license(client, files=[(io.BytesIO(payload), "license.pdf")])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "is not a PDF, JPEG or PNG file" in page
    assert 'value="LMFT 12345"' in page  # what was typed is kept
    assert count(License) == 0 and count(Document) == 0


def test_a_bad_file_added_later_keeps_the_saved_record(client, login, therapist) -> None:
    login(therapist)
    submit_license(client)
    lic = db.session.scalars(select(License)).one()
    data = license_form(number="CHANGED 1")
    data["documents"] = [png_file(), (io.BytesIO(HTML), "scan.png")]
    response = post_multipart(client, f"/licensure/licenses/{lic.id}/edit", data)
    assert response.status_code == 422
    db.session.expire_all()
    assert lic.number == "LMFT 12345" and len(lic.documents) == 1 and count(Document) == 1


def test_an_11_mb_file_gets_a_friendly_413(client, login, therapist) -> None:
    login(therapist)
    big = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)
    response = submit_license(client, files=[(io.BytesIO(big), "huge.pdf")])
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than 10 MB" in page and "Nothing was saved" in page
    assert 'value="LMFT 12345"' in page
    assert count(License) == 0


def test_two_files_of_nearly_10_mb_pass(client, login, therapist) -> None:
    login(therapist)
    nine = b"%PDF-1.4\n" + b"0" * (9 * 1024 * 1024 + 900 * 1024)
    response = submit_license(
        client, files=[(io.BytesIO(nine), "a.pdf"), (io.BytesIO(nine), "b.pdf")]
    )
    assert response.status_code == 302
    assert count(Document) == 2


def test_a_request_beyond_max_content_length_gets_the_413_page(app, client, login, therapist):
    login(therapist)
    assert app.config["MAX_CONTENT_LENGTH"] == 31 * 1024 * 1024
    blob = b"%PDF-1.4\n" + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = submit_license(client, files=[(io.BytesIO(blob), "x.pdf")])
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)


def test_a_file_name_with_dot_dot_is_harmless(app, client, login, therapist) -> None:
    login(therapist)
    response = submit_license(client, files=[pdf_file("../../../etc/passwd.pdf")])
    assert response.status_code == 302
    doc = db.session.scalars(select(Document)).one()
    assert doc.original_name == "etc_passwd.pdf"
    assert len(doc.storage_key) == 32 and "/" not in doc.storage_key
    root = Path(app.config["UPLOAD_FOLDER"]).resolve()
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert all(root in p.resolve().parents for p in stored)
    response = client.get(f"/licensure/documents/{doc.id}")
    assert response.headers["Content-Disposition"] == 'inline; filename="etc_passwd.pdf"'


def test_the_owner_gets_the_document_with_safe_headers(client, login, therapist) -> None:
    login(therapist)
    submit_license(client, files=[png_file("front.png")])
    doc = db.session.scalars(select(Document)).one()
    response = client.get(f"/licensure/documents/{doc.id}")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == 'inline; filename="front.png"'
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    download = client.get(f"/licensure/documents/{doc.id}?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_other_therapists_and_clinicians_get_404_admins_get_the_file(
    client, login, therapist, make_user, client_for
) -> None:
    login(therapist)
    submit_license(client)
    doc = db.session.scalars(select(Document)).one()
    url = f"/licensure/documents/{doc.id}"
    assert client_for(make_user("therapist")).get(url).status_code == 404
    assert client_for(make_user("clinician")).get(url).status_code == 404
    assert client_for(make_user("admin")).get(url).status_code == 200
    assert client_for(make_user("therapist")).get("/licensure/documents/99999").status_code == 404


def test_documents_are_never_public(app) -> None:
    anonymous = app.test_client()
    response = anonymous.get("/licensure/documents/1")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_other_therapists_records_answer_404(client, login, therapist, client_for, make_user):
    login(therapist)
    submit_license(client)
    lic = db.session.scalars(select(License)).one()
    other = client_for(make_user("therapist"))
    assert other.get(f"/licensure/licenses/{lic.id}/edit").status_code == 404
    assert other.post(f"/licensure/licenses/{lic.id}/edit", data={}).status_code == 404
    clinician = client_for(make_user("clinician"))
    assert clinician.get("/licensure").status_code == 403
    assert clinician.get("/admin/licensure").status_code == 403
    assert other.get(f"/admin/licensure/licenses/{lic.id}").status_code == 403
