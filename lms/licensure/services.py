"""Licensure rules: add and edit records, the admin's decisions, validity, the queue.

Services flush; the view (or the job) commits once. Every state change is in the
audit log, and the therapist's e-mails go out after the commit (``send_email``).
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, bindparam, exists, or_, select
from sqlalchemy.orm import contains_eager

from lms import audit
from lms.accounts import sessions
from lms.accounts.models import User
from lms.db import matches_any, utcnow
from lms.extensions import db
from lms.licensure.data import LicenseType, state_name
from lms.licensure.documents import Upload, store
from lms.licensure.models import (
    Attestation,
    Document,
    InsurancePolicy,
    License,
    RecordStatus,
)
from lms.mail import external_url, send_email

Record = License | InsurancePolicy

LICENSE_FIELDS = ("license_type", "state", "number", "issued_on", "expires_on", "npi")
INSURANCE_FIELDS = ("carrier", "policy_number", "per_claim_cents", "aggregate_cents", "expires_on")

# States in which an admin may decide; a rejection or expiry waits for the therapist's edit.
DECIDABLE = (RecordStatus.PENDING, RecordStatus.CHANGES_REQUESTED, RecordStatus.VERIFIED)


class LicensureError(Exception):
    """A rule refused the action; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def today() -> date:
    """Today's date in UTC: a record expiring on D stops counting at 00:00 UTC on D."""
    return utcnow().date()


def add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def default_reverify_on(day: date | None = None) -> date:
    return add_months(day or today(), int(current_app.config["LICENSE_REVERIFY_MONTHS"]))


def _audit_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, LicenseType):
        return value.value
    return value


def _apply(record: Record, values: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Set ``fields`` from ``values``; return {field: [old, new]} for those that changed."""
    changed = {}
    for name in fields:
        old, new = getattr(record, name), values[name]
        if old != new:
            changed[name] = [_audit_value(old), _audit_value(new)]
            setattr(record, name, new)
    return changed


def _attach(record: Record, uploads: list[Upload]) -> list[Document]:
    owner = {record.kind if record.kind == "license" else "insurance": record}
    documents = [store(u, record.user_id, **owner) for u in uploads]
    db.session.flush()
    for document in documents:
        audit.record(
            f"{record.kind}.document_added",
            record,
            object_type=record.kind,
            document_id=document.id,
            sha256=document.sha256,
            size_bytes=document.size_bytes,
            content_type=document.content_type,
        )
    return documents


# --- the therapist's side -------------------------------------------------------------------


def _check_dates(values: dict[str, Any]) -> None:
    if values.get("issued_on") and values["issued_on"] > today():
        raise LicensureError("The issue date cannot be in the future.")
    if values.get("issued_on") and values["expires_on"] <= values["issued_on"]:
        raise LicensureError("The expiry date must be after the issue date.")
    if values["expires_on"] <= today():
        raise LicensureError(
            "This has already expired. Add the renewed record with its new expiry date."
        )


def add_license(user: User, values: dict[str, Any], uploads: list[Upload]) -> License:
    """A new license, waiting for verification, with at least one document."""
    _check_dates(values)
    if not uploads:
        raise LicensureError("Add the license document (PDF, JPEG or PNG).")
    duplicate = db.session.scalar(
        select(License.id).where(
            License.user_id == user.id,
            License.state == values["state"],
            License.license_type == values["license_type"],
            License.number == values["number"],
        )
    )
    if duplicate:
        raise LicensureError("You already added this license; edit it instead.")
    lic = License(user_id=user.id, status=RecordStatus.PENDING, submitted_at=utcnow())
    _apply(lic, values, LICENSE_FIELDS)
    db.session.add(lic)
    db.session.flush()
    audit.record(
        "license.submitted",
        lic,
        actor=user,
        license_type=lic.license_type.value,
        state=lic.state,
        number=lic.number,
        expires_on=lic.expires_on.isoformat(),
    )
    _attach(lic, uploads)
    return lic


def add_insurance(user: User, values: dict[str, Any], uploads: list[Upload]) -> InsurancePolicy:
    _check_dates(values)
    if not uploads:
        raise LicensureError("Add the certificate of insurance (PDF, JPEG or PNG).")
    policy = InsurancePolicy(user_id=user.id, status=RecordStatus.PENDING, submitted_at=utcnow())
    _apply(policy, values, INSURANCE_FIELDS)
    db.session.add(policy)
    db.session.flush()
    audit.record(
        "insurance.submitted",
        policy,
        actor=user,
        object_type="insurance",
        carrier=policy.carrier,
        policy_number=policy.policy_number,
        expires_on=policy.expires_on.isoformat(),
    )
    _attach(policy, uploads)
    return policy


def update_record(
    record: Record, user: User, values: dict[str, Any], uploads: list[Upload]
) -> bool:
    """Apply the therapist's edit. Any change to a record that is not waiting for an admin
    (verified, rejected, changes requested, expired) sends it back to the queue.
    False when nothing changed."""
    fields = LICENSE_FIELDS if isinstance(record, License) else INSURANCE_FIELDS
    old_expiry = record.expires_on
    _check_dates(values)
    changed = _apply(record, values, fields)
    if not changed and not uploads:
        return False
    if record.expires_on != old_expiry:
        record.reminded_days = None  # a renewed record gets its reminders again
    record.revision += 1
    previous = record.status
    audit.record(
        f"{record.kind}.updated",
        record,
        actor=user,
        object_type=record.kind,
        changes=changed or None,
        documents_added=len(uploads) or None,
        status=previous.value,
    )
    if previous != RecordStatus.PENDING:
        record.status = RecordStatus.PENDING
        record.submitted_at = utcnow()
        record.decision_note = None
        audit.record(
            f"{record.kind}.resubmitted",
            record,
            actor=user,
            object_type=record.kind,
            previous_status=previous.value,
        )
    _attach(record, uploads)
    db.session.flush()
    return True


def sign_attestation(user: User, answers: dict[str, Any]) -> Attestation:
    """Record the therapist's signed answers (kept alongside every earlier signature)."""
    expected = " ".join(user.full_name.split()).casefold()
    if " ".join(answers["signed_name"].split()).casefold() != expected:
        raise LicensureError(f"Type your full name exactly as on your account: {user.full_name}.")
    if abs((answers["signed_on"] - today()).days) > 1:
        raise LicensureError("Date the attestation today.")
    row = Attestation(user_id=user.id, **answers)
    if row.needs_attention and not (answers.get("explanation") or "").strip():
        raise LicensureError("Explain each answer that needs it in the box below.")
    db.session.add(row)
    db.session.flush()
    audit.record(
        "attestation.signed",
        row,
        actor=user,
        object_type="attestation",
        needs_attention=row.needs_attention,
    )
    return row


# --- reading --------------------------------------------------------------------------------


@dataclass
class Overview:
    """``attestation``: the latest one signed, or None (always None when the overview was
    read without it; ``signed`` then still says whether one is)."""

    licenses: list[License]
    policies: list[InsurancePolicy]
    attestation: Attestation | None
    signed: bool


@functools.cache
def _attestations_newest_first() -> Select[Any]:
    """A therapist's attestations, newest first (built once per process)."""
    return (
        select(Attestation)
        .where(Attestation.user_id == bindparam("user_id"))
        .order_by(Attestation.id.desc())
    )


def latest_attestation(user_id: int) -> Attestation | None:
    return db.session.scalar(_attestations_newest_first(), {"user_id": user_id})


# Whether the therapist has signed an attestation, read with the log-in session on the
# dashboard, which only says whether one is signed (not what it says).
ATTESTATION_SIGNED = "attestation_signed"
sessions.load_with_session_on(
    ATTESTATION_SIGNED,
    sessions.PageRider.on_page(
        "main.dashboard", lambda: exists().where(Attestation.user_id == User.id)
    ),
)


def attestation_signed(user_id: int) -> bool:
    """Has the therapist signed an attestation (read with the session where it rides)?"""
    signed = sessions.loaded(ATTESTATION_SIGNED, user_id)
    if signed is None:
        signed = db.session.scalar(select(exists().where(Attestation.user_id == user_id)))
    return bool(signed)


@functools.cache
def _licenses_and_policies() -> Select[Any]:
    """A therapist's licenses and insurance policies in one statement: each license beside
    each policy (a therapist holds a few of each), from the therapist's own row so that
    either list may be empty. Built once per process."""
    return (
        select(License, InsurancePolicy)
        .select_from(User)
        .outerjoin(License, License.user_id == User.id)
        .outerjoin(InsurancePolicy, InsurancePolicy.user_id == User.id)
        .where(User.id == bindparam("user_id"))
        .order_by(License.id, InsurancePolicy.id)
    )


def overview(user: User, *, with_attestation: bool = True) -> Overview:
    """The therapist's records, for their licensure page and dashboard; without
    ``with_attestation``, only whether one is signed (the dashboard)."""
    rows = db.session.execute(_licenses_and_policies(), {"user_id": user.id}).all()
    # Each record once (the session holds one object per row of the table), in id order.
    licenses = list(dict.fromkeys(r[0] for r in rows if r[0] is not None))
    policies = sorted({r[1] for r in rows if r[1] is not None}, key=lambda p: p.id)
    attestation = latest_attestation(user.id) if with_attestation else None
    return Overview(
        licenses=licenses,
        policies=policies,
        attestation=attestation,
        signed=attestation is not None if with_attestation else attestation_signed(user.id),
    )


def holds_verified_license(user: User | int, state: str, on: date | None = None) -> bool:
    """Does the therapist hold a verified license in ``state`` that has not expired on ``on``
    (default today)? Expiry counts from the date itself, whether or not the daily job ran."""
    user_id = user if isinstance(user, int) else user.id
    day = on or today()
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    License.user_id == user_id,
                    License.state == state.upper(),
                    License.status == RecordStatus.VERIFIED,
                    License.expires_on > day,
                )
            )
        )
    )


def verified_license_states(user: User, on: date | None = None) -> list[str]:
    """The states in which the therapist is verified as licensed on ``on`` (default today)."""
    day = on or today()
    return sorted(
        set(
            db.session.scalars(
                select(License.state).where(
                    License.user_id == user.id,
                    License.status == RecordStatus.VERIFIED,
                    License.expires_on > day,
                )
            )
        )
    )


# --- the admin's side -----------------------------------------------------------------------

QUEUE_STATUSES = [
    ("awaiting", "Awaiting review"),
    ("changes_requested", "Changes requested"),
    ("verified", "Verified"),
    ("rejected", "Rejected"),
    ("expired", "Expired"),
    ("all", "Any status"),
]


def queue_query(
    kind: str = "license",
    status: str = "awaiting",
    state: str | None = None,
    license_type: str | None = None,
    min_age_days: int | None = None,
    search: str | None = None,
) -> Select[Any]:
    """Records for the review queue, oldest submission first. "awaiting" is every pending
    record plus verified ones whose re-verification date has come. ``search``: part of the
    therapist's name or e-mail, or of the record's number."""
    model: Any = License if kind == "license" else InsurancePolicy
    # Each row shows its therapist: read in the same statement, not one query a row.
    stmt = select(model).join(User, User.id == model.user_id).options(contains_eager(model.user))
    if status == "awaiting":
        stmt = stmt.where(
            or_(
                model.status == RecordStatus.PENDING,
                and_(model.status == RecordStatus.VERIFIED, model.reverify_on <= today()),
            )
        )
    elif status != "all":
        stmt = stmt.where(model.status == RecordStatus(status))
    if model is License:
        if state:
            stmt = stmt.where(License.state == state)
        if license_type:
            stmt = stmt.where(License.license_type == LicenseType(license_type))
    if min_age_days:
        stmt = stmt.where(model.submitted_at <= utcnow() - timedelta(days=min_age_days))
    if search:
        number = License.number if model is License else InsurancePolicy.policy_number
        stmt = stmt.where(matches_any(search, User.full_name, User.email, number))
    return stmt.order_by(model.submitted_at, model.id)


def describe(record: Record) -> str:
    """How the therapist's e-mails name the record."""
    if isinstance(record, License):
        return (
            f"your {record.license_type.short} license {record.number} "
            f"in {state_name(record.state)}"
        )
    return f"your malpractice insurance policy {record.policy_number} with {record.carrier}"


def _notify(record: Record, template: str, subject: str, **context: Any) -> None:
    send_email(
        record.user.email,
        subject,
        template,
        reason="You keep licensure records on the Partner LMS.",
        user=record.user,
        record=record,
        what=describe(record),
        link=external_url("licensure.overview"),
        **context,
    )


def decide(
    record: Record,
    admin: User,
    action: str,
    *,
    revision: int,
    method: str = "",
    message: str = "",
    reverify_on: date | None = None,
) -> None:
    """Verify, reject or request changes. ``revision`` is the one the admin reviewed: if the
    therapist changed the record since, nothing happens and the admin looks again."""
    method, message = (method or "").strip(), (message or "").strip()
    if revision != record.revision:
        raise LicensureError(
            "The therapist changed this record while you were reviewing it. "
            "Look at the current details and decide again."
        )
    if record.status not in DECIDABLE:
        raise LicensureError(f"This record is {record.status.label.lower()}; nothing to decide.")
    day = today()
    now = utcnow()
    if action == "verify":
        if not method:
            raise LicensureError("Say how you checked it (for example the state board website).")
        if record.expires_on <= day:
            raise LicensureError("This record has expired; it cannot be verified.")
        reverify_on = reverify_on or default_reverify_on(day)
        if reverify_on <= day:
            raise LicensureError("The re-verification date must be in the future.")
        record.status = RecordStatus.VERIFIED
        record.reverify_on = reverify_on
        record.decision_note = message or None
    elif action in ("reject", "request_changes"):
        if not message:
            raise LicensureError(
                "Give the reason for the rejection."
                if action == "reject"
                else "Say what the therapist should change."
            )
        record.status = (
            RecordStatus.REJECTED if action == "reject" else RecordStatus.CHANGES_REQUESTED
        )
        record.decision_note = message
        record.reverify_on = None
    else:
        raise LicensureError("Choose verify, reject or request changes.")
    record.decided_at = now
    record.decided_by_id = admin.id
    record.decision_method = method or None
    past = {"verify": "verified", "reject": "rejected", "request_changes": "changes_requested"}
    audit.record(
        f"{record.kind}.{past[action]}",
        record,
        actor=admin,
        object_type=record.kind,
        user_id=record.user_id,
        revision=record.revision,
        method=method or None,
        message=message or None,
        reverify_on=reverify_on.isoformat() if action == "verify" and reverify_on else None,
    )
    subjects = {
        "verify": "Verified: ",
        "reject": "Not accepted: ",
        "request_changes": "Changes needed: ",
    }
    name = "license" if isinstance(record, License) else "malpractice insurance"
    _notify(
        record,
        f"license_{past[action]}",
        f"{subjects[action]}your {name}",
        message=message or None,
    )
    db.session.flush()


def history(record: Record) -> list[audit.AuditEvent]:
    """The record's audit trail, newest first."""
    return list(
        db.session.scalars(
            select(audit.AuditEvent)
            .where(
                audit.AuditEvent.object_type == record.kind,
                audit.AuditEvent.object_id == str(record.id),
            )
            .order_by(audit.AuditEvent.id.desc())
        )
    )


# --- expiry watch ---------------------------------------------------------------------------

REMINDER_DAYS = (90, 30, 7)
WATCHED = (RecordStatus.PENDING, RecordStatus.CHANGES_REQUESTED, RecordStatus.VERIFIED)


def due_reminder(record: Record, day: date) -> int | None:
    """The reminder (days before expiry) due on ``day`` and not yet sent, if any.

    Only the most urgent one is sent: a job that did not run for a while does not
    send the 90-day reminder a week before expiry.
    """
    left = (record.expires_on - day).days
    if left <= 0:
        return None
    due = next((d for d in sorted(REMINDER_DAYS) if left <= d), None)
    if due is None or (record.reminded_days is not None and record.reminded_days <= due):
        return None
    return due


def watch_expiry(day: date | None = None) -> dict[str, int]:
    """Send due reminders and mark records expired on their expiry date (the daily job)."""
    day = day or today()
    counts = {"reminded": 0, "expired": 0}
    for model in (License, InsurancePolicy):
        rows = db.session.scalars(
            select(model)
            .where(
                model.status.in_(WATCHED),
                model.expires_on <= day + timedelta(days=max(REMINDER_DAYS)),
            )
            .order_by(model.id)
        ).all()
        for record in rows:
            if record.expires_on <= day:
                _expire(record)
                counts["expired"] += 1
                continue
            due = due_reminder(record, day)
            if due is not None:
                record.reminded_days = due
                audit.record(
                    f"{record.kind}.expiry_reminder",
                    record,
                    object_type=record.kind,
                    days_before=due,
                    expires_on=record.expires_on.isoformat(),
                )
                _notify(
                    record,
                    "license_expiry_reminder",
                    f"Renewal reminder: expires in {(record.expires_on - day).days} days",
                    days_left=(record.expires_on - day).days,
                )
                counts["reminded"] += 1
    db.session.flush()
    return counts


def _expire(record: Record) -> None:
    previous = record.status
    record.status = RecordStatus.EXPIRED
    audit.record(
        f"{record.kind}.expired",
        record,
        object_type=record.kind,
        previous_status=previous.value,
        expires_on=record.expires_on.isoformat(),
    )
    _notify(record, "license_expired", "Expired: " + describe(record).removeprefix("your "))
