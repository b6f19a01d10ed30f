"""Support fixtures: certified therapists (certification fixtures), requests, staff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.extensions import db
from lms.support import services
from lms.support.models import SupportRequest
from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)
from tests.referrals.conftest import make_referral  # noqa: F401 - fixture

SUBJECT = "Patient dizzy after the second dose"
DESCRIPTION = "BP 150/95, ketamine 40 mg IM at 14:05, patient reports chest tightness."
PHONE = "303-555-0199"
CLINICAL = (SUBJECT, DESCRIPTION, PHONE, "ketamine", "chest tightness", "dizzy")


def request_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": "acute_dosing",
        "urgency": "urgent",
        "subject": SUBJECT,
        "description": DESCRIPTION,
        "callback_phone": PHONE,
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_request(db_session: Any) -> Callable[..., SupportRequest]:
    """File a request through the service (as the page does) and commit."""

    def make(therapist: User, now: datetime | None = None, **overrides: Any) -> SupportRequest:
        request = services.file_request(therapist, request_data(**overrides), now=now)
        db.session.commit()
        return request

    return make


@pytest.fixture
def on_call(db_session: Any) -> Callable[[User], User]:
    def put(user: User) -> User:
        services.set_on_call(user, True)
        db.session.commit()
        return user

    return put


def audit_count(action: str, object_id: Any = None, actor: User | None = None) -> int:
    stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == str(object_id))
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor.id)
    return db.session.scalar(stmt) or 0


def leaks_clinical_details(text: str) -> list[str]:
    lowered = text.lower()
    return [c for c in CLINICAL if c.lower() in lowered]
