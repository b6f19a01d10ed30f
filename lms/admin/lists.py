"""The text of each admin list's rows, shared by the page and its CSV export.

A template decorates these values (links, badges) but shows exactly this text, and the
CSV route writes exactly these values, so an export always matches the screen; the test
suite compares the two for every list.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.licensure.models import InsurancePolicy, License
from lms.timezones import localdate, localtime
from lms.training.models import Certificate

USER_COLUMNS = ["Name", "E-mail", "Role", "Status", "Joined"]


def user_status(user: User) -> str:
    if not user.is_active:
        return "Deactivated"
    if not user.email_verified:
        return "E-mail not confirmed"
    return "Active"


def user_row(user: User) -> list[str]:
    return [
        user.full_name,
        user.email,
        user.role.label,
        user_status(user),
        localdate(user.created_at),
    ]


CERTIFICATE_COLUMNS = ["Holder", "Course", "Code", "Issued", "Valid until", "Status"]


def certificate_status(certificate: Certificate, now: datetime) -> str:
    status = certificate.status(now).capitalize()
    return f"{status}: {certificate.revoked_reason}" if certificate.revoked_reason else status


def certificate_row(certificate: Certificate, now: datetime) -> list[str]:
    return [
        certificate.holder_name,
        certificate.course_title,
        certificate.code,
        localdate(certificate.issued_at),
        localdate(certificate.expires_at),
        certificate_status(certificate, now),
    ]


AUDIT_COLUMNS = ["When", "Action", "Actor", "Object", "IP", "Details"]


# What a row of the audit log shows, read for an export without the rest of the event.
AUDIT_EXPORT_FIELDS = (
    AuditEvent.created_at,
    AuditEvent.action,
    AuditEvent.actor_email,
    AuditEvent.object_type,
    AuditEvent.object_id,
    AuditEvent.ip_address,
    AuditEvent.details,
)


def audit_object(event: AuditEvent | Row[Any]) -> str:
    if not event.object_type:
        return ""
    return f"{event.object_type} {event.object_id or ''}".strip()


def audit_details(event: AuditEvent | Row[Any]) -> str:
    return "; ".join(f"{key}: {value}" for key, value in (event.details or {}).items())


def audit_row(event: AuditEvent | Row[Any], zone: ZoneInfo | None = None) -> list[str]:
    """The event's cells: the event itself, or a row of :data:`AUDIT_EXPORT_FIELDS`; times
    in ``zone`` (default: the viewer's; an export passes it once for all its rows)."""
    return [
        localtime(event.created_at, zone=zone),
        event.action,
        event.actor_email or "system",
        audit_object(event),
        event.ip_address or "",
        audit_details(event),
    ]


LICENSE_QUEUE_COLUMNS = [
    "Submitted",
    "Therapist",
    "E-mail",
    "License",
    "State",
    "Number",
    "Expires",
    "Status",
]
INSURANCE_QUEUE_COLUMNS = [
    "Submitted",
    "Therapist",
    "E-mail",
    "Carrier",
    "Policy",
    "Expires",
    "Status",
]


def record_status(record: License | InsurancePolicy, day: date) -> str:
    text = record.status.label
    return f"{text}, re-verification due" if record.reverification_due(day) else text


def queue_row(record: License | InsurancePolicy, day: date) -> list[str]:
    head = [localtime(record.submitted_at), record.user.full_name, record.user.email]
    if isinstance(record, License):
        kind = " ".join(filter(None, (record.license_type.short, record.license_type.taxonomy)))
        middle = [kind, record.state, record.number]
    else:
        middle = [record.carrier, record.policy_number]
    return [*head, *middle, record.expires_on.strftime("%b %-d, %Y"), record_status(record, day)]
