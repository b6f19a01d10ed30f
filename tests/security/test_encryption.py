"""Encryption at rest (lms.crypto, lms.key_rotation): what the database and the storage
folder hold is ciphertext; the pages still show and find the patients; production needs a
key; a key rotation re-encrypts everything, survives being stopped, and keeps the support
history append-only."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lms import create_app, key_rotation
from lms.accounts.models import User
from lms.config import ConfigError
from lms.crypto import (
    FILE_HEADER,
    DecryptionError,
    EncryptedDate,
    Keyring,
    fingerprint,
    matches_terms,
    new_key,
    words,
)
from lms.extensions import db
from lms.licensure.documents import read as read_document
from lms.licensure.models import Document, License
from lms.outcomes import services as outcome_services
from lms.referrals.models import Referral
from lms.storage import storage
from lms.support import services as support_services
from lms.support.models import SupportEvent, SupportRequest
from tests.conftest import make_config
from tests.referrals.conftest import referral_data
from tests.support.conftest import DESCRIPTION, PHONE, SUBJECT

GOOD_SECRET = "a-production-secret-key-of-enough-length-0123456789"
PATIENT = "Zoë Marchetti-Lindqvist"


def _raw(sql: str, **params: Any) -> list[Any]:
    """What the database itself holds, read past the column types."""
    return list(db.session.execute(text(sql), params).one())


@pytest.fixture
def keys(app: Flask) -> Iterator[Callable[[list[str]], Keyring]]:
    """Swap the app's keys for a test (as a deployment changing ENCRYPTION_KEYS would)."""
    original = app.extensions["lms.crypto"]

    def use(new: list[str]) -> Keyring:
        ring = Keyring(new)
        app.extensions["lms.crypto"] = ring
        return ring

    try:
        yield use
    finally:
        app.extensions["lms.crypto"] = original


# --- what is stored ---------------------------------------------------------------------------


def test_a_referral_is_ciphertext_in_the_database_and_plain_on_the_page(
    client, make_certified, login
) -> None:
    partner = make_certified()
    login(partner)
    form = {
        **referral_data(patient_name=PATIENT),
        "date_of_birth": "1985-04-02",
        "consent": "y",
    }
    response = client.post("/referrals/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    referral = db.session.scalars(select(Referral)).one()
    stored = _raw(
        "SELECT patient_name, date_of_birth, email, phone, prior_treatments, "
        "current_medications, search_terms FROM referrals WHERE id = :id",
        id=referral.id,
    )
    # Long enough that random ciphertext cannot contain them by chance.
    for plain in (PATIENT, "1985-04-02", form["email"], form["phone"], "CBT for two", "Sertraline"):
        assert not any(plain in str(value) for value in stored), plain
    assert all(str(value).startswith("gAAAAA") for value in stored[:6])
    assert re.fullmatch(r"( [0-9a-f]{16})+ ", stored[6])  # hashes of the words, not the words
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert PATIENT in page and "Sertraline" in page
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).date_of_birth == date(1985, 4, 2)


def test_support_requests_messages_and_outcome_answers_are_ciphertext(
    make_certified, make_request, make_referral
) -> None:
    partner = make_certified()
    request = make_request(partner)
    support_services.therapist_reply(request, partner, "Now she is dizzy, pulse 112.")
    db.session.commit()
    subject, description, phone = _raw(
        "SELECT subject, description, callback_phone FROM support_requests WHERE id = :id",
        id=request.id,
    )
    for plain, value in ((SUBJECT, subject), (DESCRIPTION, description), (PHONE, phone)):
        assert plain not in value and value.startswith("gAAAAA")
    bodies = db.session.execute(
        text("SELECT body FROM support_events WHERE request_id = :id AND body IS NOT NULL"),
        {"id": request.id},
    ).scalars()
    assert all("dizzy" not in body and body.startswith("gAAAAA") for body in bodies)

    referral = make_referral(partner)
    answers = [3, 2, 3, 2, 2, 2, 2]
    outcome_services.record_measurement(referral, "gad7", answers, date(2026, 11, 1), partner)
    db.session.commit()
    [stored] = _raw(
        "SELECT answers FROM outcome_measurements WHERE referral_id = :id", id=referral.id
    )
    assert stored.startswith("gAAAAA") and "[3" not in stored and "3," not in stored
    db.session.expire_all()
    assert db.session.get(SupportRequest, request.id).subject == SUBJECT


def test_an_uploaded_document_is_ciphertext_in_storage(app, make_certified) -> None:
    from lms.licensure.demo import tiny_pdf

    key = storage().save(tiny_pdf(), "application/pdf")
    path = Path(app.config["UPLOAD_FOLDER"]) / key[:2] / key
    on_disk = path.read_bytes()
    assert on_disk.startswith(FILE_HEADER) and b"%PDF" not in on_disk
    assert storage().read(key) == tiny_pdf()


def test_a_date_column_refuses_what_is_not_a_date() -> None:
    with pytest.raises(TypeError):
        EncryptedDate().dump("1985-04-02")


# --- finding what is encrypted ----------------------------------------------------------------


def test_words_fold_case_and_accents() -> None:
    assert words(PATIENT) == ["zoe", "marchetti", "lindqvist"]
    assert words("  ", None) == []


def test_staff_find_a_patient_by_a_word_of_the_name(
    client, make_certified, make_referral, make_user, login
) -> None:
    partner = make_certified()
    wanted = make_referral(partner, patient_name=PATIENT)
    other = make_referral(partner, patient_name="Robin Alvarez")
    login(make_user("clinician", email="nurse@example.org"))

    def found(query: str) -> set[int]:
        page = client.get("/clinical/referrals", query_string={"q": query})
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        return {r.id for r in (wanted, other) if f'href="/clinical/referrals/{r.id}"' in html}

    assert found("zoe") == {wanted.id}  # any case, accents folded
    assert found("LINDQVIST marchetti") == {wanted.id}  # every word, any order
    assert found("marchetti alvarez") == set()
    assert found("marche") == set()  # whole words only: the index holds no fragments
    assert found(f"#{other.id}") == {other.id}


def test_the_support_queue_finds_a_word_of_the_encrypted_subject(
    client, make_certified, make_request, make_user, login
) -> None:
    partner = make_certified()
    wanted = make_request(partner, subject="Nausea after the second session")
    make_request(partner, subject="Question about dosing schedule")
    login(make_user("clinician", email="nurse@example.org"))
    html = client.get("/clinical/support", query_string={"q": "nausea"}).get_data(as_text=True)
    assert f"#{wanted.id}" in html and "Question about dosing" not in html


# --- keys -------------------------------------------------------------------------------------


def test_production_refuses_to_start_without_a_key(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/x")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS is not set"):
        create_app()
    assert not (tmp_path / "encryption.keys").exists()  # no key made up in production
    monkeypatch.setenv("ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ConfigError, match="Fernet keys"):
        create_app()


def test_development_makes_a_private_key_file_once(tmp_path) -> None:
    config = make_config(INSTANCE_PATH=str(tmp_path), DATABASE_URL="sqlite://")
    first = create_app(config)
    path = tmp_path / "encryption.keys"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = create_app(config)
    assert first.extensions["lms.crypto"].keys == second.extensions["lms.crypto"].keys


def test_a_value_under_an_unknown_key_is_an_error_not_garbage() -> None:
    token = Keyring([new_key()]).encrypt_text("Jane Doe")
    with pytest.raises(DecryptionError, match="cannot be decrypted"):
        Keyring([new_key()]).decrypt_text(token)
    for plain in ("Zoë Marchetti", "Jane Doe"):  # text that was never encrypted
        with pytest.raises(DecryptionError):
            Keyring([new_key()]).decrypt_text(plain)


# --- rotation ---------------------------------------------------------------------------------


def _everything(partner, make_referral, make_request) -> tuple[Referral, SupportRequest, str]:
    from lms.licensure.demo import tiny_pdf

    referral = make_referral(partner, patient_name=PATIENT)
    outcome_services.record_measurement(referral, "phq9", [1] * 9, date(2026, 11, 2), partner)
    request = make_request(partner)
    support_services.therapist_reply(request, partner, "Pulse back to 80.")
    key = storage().save(tiny_pdf(), "application/pdf")
    _document(partner, key)
    db.session.commit()
    return referral, request, key


def _document(owner, key: str) -> Document:
    """A Document row for bytes already stored under ``key``, on the owner's license."""
    license_ = db.session.scalars(select(License).where(License.user_id == owner.id)).first()
    document = Document(
        user_id=owner.id,
        license_id=license_.id,
        storage_key=key,
        original_name="license.pdf",
        content_type="application/pdf",
        size_bytes=1,
        sha256="0" * 64,
    )
    db.session.add(document)
    return document


def _held(ring: Keyring) -> dict[str, int]:
    """Values per key holder, over every table and the documents."""
    out: dict[str, int] = {}
    for (_where, holder), count in key_rotation.status(ring).held.items():
        out[holder] = out.get(holder, 0) + count
    return out


def test_rotation_moves_everything_to_the_new_key_and_keeps_it_readable(
    app, keys, make_certified, make_referral, make_request, make_user
) -> None:
    old = app.extensions["lms.crypto"].primary
    partner = make_certified()
    referral, request, document_key = _everything(partner, make_referral, make_request)
    clinician = make_user("clinician")  # with two-step verification: an encrypted secret
    secret = clinician.mfa_secret
    assert secret

    new = new_key()
    ring = keys([new, old])
    before = _held(ring)
    assert not any("newest" in holder for holder in before), before  # all under the old key

    report = key_rotation.rotate(ring, echo=lambda _line: None)
    assert report.problems == []
    assert report.rewritten["referrals"] >= 1 and report.rewritten["documents"] >= 1
    assert report.rewritten["users"] >= 1
    after = _held(ring)
    assert set(after) == {f"key {fingerprint(new)} (newest)"}, after

    keys([new])  # the old key is gone: everything must still read, and be found
    db.session.expire_all()
    again = db.session.get(Referral, referral.id)
    assert again.patient_name == PATIENT
    assert db.session.get(SupportRequest, request.id).description == DESCRIPTION
    assert db.session.get(User, clinician.id).mfa_secret == secret
    assert [e.body for e in db.session.get(SupportRequest, request.id).events if e.body]
    assert storage().read(document_key).startswith(b"%PDF")
    found = db.session.scalars(
        select(Referral.id).where(matches_terms(Referral.search_terms, "lindqvist"))
    ).all()
    assert found == [referral.id]
    # The audit log says a rotation happened, and how much it did (never what).
    assert (
        db.session.execute(
            text("SELECT count(*) FROM audit_events WHERE action = 'encryption.rotated'")
        ).scalar_one()
        >= 1
    )


def test_a_stopped_rotation_resumes_where_it_stopped(
    app, keys, make_certified, make_referral, make_request, monkeypatch
) -> None:
    old = app.extensions["lms.crypto"].primary
    partner = make_certified()
    for n in range(5):
        make_referral(partner, patient_name=f"Patient Number{n}")
    ring = keys([new_key(), old])
    monkeypatch.setattr(key_rotation, "BATCH", 2)
    # The referrals' batches only (the users' two-step secrets would come first).
    referrals = [t for t in key_rotation.encrypted_tables() if t.name == "referrals"]
    monkeypatch.setattr(key_rotation, "encrypted_tables", lambda: referrals)

    calls = {"n": 0}
    real_commit = db.session.commit

    def crash_on_the_second_batch() -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or the machine going down
        real_commit()

    monkeypatch.setattr(db.session, "commit", crash_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        key_rotation.rotate(ring, echo=lambda _line: None)
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()
    first = sum(1 for r in _rows("referrals") if ring.is_current(r.encode()))
    assert first == 2  # the first batch was kept

    report = key_rotation.rotate(ring, echo=lambda _line: None)
    assert report.rewritten["referrals"] == 3  # only what the first run had not done
    assert all(ring.is_current(r.encode()) for r in _rows("referrals"))


def _rows(table: str) -> list[str]:
    return list(db.session.execute(text(f"SELECT patient_name FROM {table}")).scalars())  # noqa: S608


def test_the_support_history_stays_append_only_after_a_rotation(
    app, keys, make_certified, make_request
) -> None:
    old = app.extensions["lms.crypto"].primary
    partner = make_certified()
    request = make_request(partner)
    key_rotation.rotate(keys([new_key(), old]), echo=lambda _line: None)
    event_id = db.session.scalars(
        select(SupportEvent.id).where(SupportEvent.request_id == request.id)
    ).first()
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(
            text("UPDATE support_events SET body = NULL WHERE id = :id"), {"id": event_id}
        )


def test_a_document_stored_before_encryption_is_read_then_encrypted_by_rotate(
    app, make_certified
) -> None:
    partner = make_certified()
    backend = storage().backend
    key = backend.save(b"%PDF-1.4 scanned before encryption", "application/pdf")
    document = _document(partner, key)
    db.session.commit()
    assert read_document(document) == b"%PDF-1.4 scanned before encryption"
    assert _held(app.extensions["lms.crypto"]).get("not encrypted") == 1

    key_rotation.rotate(echo=lambda _line: None)
    assert backend.read(key).startswith(FILE_HEADER)
    assert read_document(document) == b"%PDF-1.4 scanned before encryption"


def test_the_cli_reports_and_rotates(app, keys, make_certified, make_referral) -> None:
    old = app.extensions["lms.crypto"].primary
    make_referral(make_certified(), patient_name=PATIENT)
    keys([new_key(), old])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["encryption", "status"])
    assert "not under the newest key" in result.output and "(older #1)" in result.output
    result = runner.invoke(args=["encryption", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted" in result.output
    result = runner.invoke(args=["encryption", "status"])
    assert "Everything is under the newest key" in result.output
    keys([new_key()])  # a key that opens nothing: the status says so and fails
    result = runner.invoke(args=["encryption", "status"])
    assert result.exit_code == 1 and "unreadable" in result.output
    key = runner.invoke(args=["encryption", "new-key"]).output.strip()
    assert Keyring([key]).primary == key


def test_a_value_changed_during_the_rotation_is_kept(
    app, keys, make_certified, make_referral
) -> None:
    """The app may write a row while its batch is being re-encrypted: the rotation must not
    put the old text back over the new one."""
    old = app.extensions["lms.crypto"].primary
    referral = make_referral(make_certified(), patient_name=PATIENT)
    ring = keys([new_key(), old])
    real_rotate = ring.rotate
    edited = []

    def rotate_while_a_clinician_edits(token: bytes) -> bytes:
        if not edited:  # the clinician saves a status reason between the read and the write
            edited.append(True)
            db.session.execute(
                text("UPDATE referrals SET status_reason = :v WHERE id = :id"),
                {"v": ring.encrypt_text("Edited meanwhile"), "id": referral.id},
            )
        return real_rotate(token)

    ring.rotate = rotate_while_a_clinician_edits  # type: ignore[method-assign]
    report = key_rotation.rotate(ring, echo=lambda _line: None)
    assert any("changed while being re-encrypted" in p for p in report.problems)
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status_reason == "Edited meanwhile"
    assert db.session.get(Referral, referral.id).patient_name == PATIENT

    ring.rotate = real_rotate  # type: ignore[method-assign]
    again = key_rotation.rotate(ring, echo=lambda _line: None)  # the next run finishes the row
    assert again.problems == [] and again.rewritten["referrals"] == 1
    assert all(ring.is_current(v.encode()) for v in _rows("referrals"))
