"""Referral rules: who may refer whom, self-referrals from the public form, the pipeline, notes.

Services flush; the view commits once. Every change is in the audit log (with no
clinical details), and the e-mails go out after the commit and carry no clinical details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lms import audit
from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.data import state_name
from lms.licensure.services import holds_verified_license
from lms.mail import external_url, send_email
from lms.referrals.models import (
    TRANSITIONS,
    AgeBand,
    CareModality,
    EventKind,
    PrimaryConcern,
    Referral,
    ReferralEvent,
    ReferralSource,
    ReferralStatus,
)


class ReferralError(Exception):
    """A rule refused the action; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_licensed_message(state: str) -> str:
    return (
        f"You do not hold a verified license in {state_name(state.upper())}, so you cannot "
        "refer a patient who lives there. Nothing was sent."
    )


def create_referral(therapist: User, data: dict[str, Any]) -> Referral:
    """Record a referral; refused unless the therapist is licensed in the patient's state."""
    state = (data.get("state") or "").upper()
    if not holds_verified_license(therapist, state):
        raise ReferralError(not_licensed_message(state))
    if not data.get("consent"):
        raise ReferralError("Confirm the patient's consent; without it nothing is sent.")
    referral = Referral(
        therapist_id=therapist.id,
        source=ReferralSource.THERAPIST,
        patient_name=data["patient_name"],
        date_of_birth=data["date_of_birth"],
        email=data["email"],
        phone=data["phone"],
        state=state,
        primary_concern=PrimaryConcern(data["primary_concern"]),
        prior_treatments=data.get("prior_treatments") or "",
        current_medications=data.get("current_medications") or "",
        gad7=data.get("gad7"),
        phq9=data.get("phq9"),
        consent_confirmed_at=utcnow(),
        status=ReferralStatus.NEW,
    )
    db.session.add(referral)
    db.session.flush()
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            actor_id=therapist.id,
            kind=EventKind.STATUS,
            to_status=ReferralStatus.NEW,
        )
    )
    audit.record("referral.created", referral, actor=therapist, state=state)
    db.session.flush()
    return referral


def create_self_referral(data: dict[str, Any], now: datetime | None = None) -> Referral:
    """A person without a therapist asks for care through the public form.

    It enters the pipeline like any referral (status new), with no therapist until a
    partner accepts the network's match offer. The person is told what happens next.
    """
    if not data.get("consent"):
        raise ReferralError("Agree to be contacted; without it we cannot help you.")
    now = now or utcnow()
    state = (data.get("state") or "").upper()
    referral = Referral(
        therapist_id=None,
        source=ReferralSource.SELF,
        patient_name=data["patient_name"],
        date_of_birth=None,
        email=data["email"],
        phone=data["phone"],
        state=state,
        primary_concern=None,
        age_band=AgeBand(data["age_band"]),
        conditions=list(dict.fromkeys(data.get("conditions") or [])),
        modality=CareModality(data["modality"]),
        language=data.get("language") or None,
        location=(data.get("location") or "").strip() or None,
        consent_confirmed_at=now,
        status=ReferralStatus.NEW,
        created_at=now,
        updated_at=now,
    )
    db.session.add(referral)
    db.session.flush()
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            actor_id=None,
            kind=EventKind.STATUS,
            to_status=ReferralStatus.NEW,
            created_at=now,
        )
    )
    audit.record("referral.self_referred", referral, actor=None, state=state)
    db.session.flush()
    send_email(
        referral.email,
        "We received your request for care",
        "practice_intake_received",
        reason="You receive this e-mail because you asked the network for care on our website.",
        patient_name=referral.patient_name,
        state=state_name(state),
    )
    return referral


def change_status(
    referral: Referral, new_status: ReferralStatus | str, actor: User, reason: str | None = None
) -> ReferralEvent:
    """Move the referral along; tell the therapist, and welcome a patient found eligible."""
    try:
        target = ReferralStatus(new_status)
    except ValueError:
        raise ReferralError("Choose a status from the list.") from None
    current = referral.status
    if target not in TRANSITIONS[current]:
        raise ReferralError(
            f"A referral that is {current.label.lower()} cannot become {target.label.lower()}."
        )
    reason = (reason or "").strip() or None
    if target == ReferralStatus.NOT_ELIGIBLE and not reason:
        raise ReferralError("Give the reason the patient is not eligible.")
    referral.status = target
    referral.status_reason = reason if target == ReferralStatus.NOT_ELIGIBLE else None
    referral.updated_at = utcnow()
    row = ReferralEvent(
        referral_id=referral.id,
        actor_id=actor.id,
        kind=EventKind.STATUS,
        from_status=current,
        to_status=target,
        body=reason,
    )
    db.session.add(row)
    audit.record(
        "referral.status_changed",
        referral,
        actor=actor,
        from_status=current.value,
        to_status=target.value,
    )
    db.session.flush()
    if referral.therapist is not None:
        _notify_therapist(referral)
    if target == ReferralStatus.ELIGIBLE:
        _welcome_patient(referral)
    return row


def add_note(referral: Referral, actor: User, body: str) -> ReferralEvent:
    body = (body or "").strip()
    if not body:
        raise ReferralError("Write a note.")
    row = ReferralEvent(referral_id=referral.id, actor_id=actor.id, kind=EventKind.NOTE, body=body)
    db.session.add(row)
    audit.record("referral.note_added", referral, actor=actor)
    db.session.flush()
    return row


def _notify_therapist(referral: Referral) -> None:
    """Status only: no concern, medications, scores, reasons or notes."""
    therapist = referral.therapist
    send_email(
        therapist.email,
        f"Referral #{referral.id}: {referral.status.label}",
        "referral_status_changed",
        reason="You receive this e-mail because you referred a patient to the network.",
        user=therapist,
        referral_id=referral.id,
        initials=referral.patient_initials,
        status_label=referral.status.label,
        link=external_url("referrals.detail", referral_id=referral.id),
    )


def _welcome_patient(referral: Referral) -> None:
    """Next steps only: the medical intake (or, for a self-referral, finding a therapist).
    No clinical details."""
    if referral.is_self_referral:
        send_email(
            referral.email,
            "Next step: we are finding you a therapist",
            "practice_self_referral_eligible",
            reason="You receive this e-mail because you asked the network for care and "
            "agreed to be contacted.",
            patient_name=referral.patient_name,
            state=state_name(referral.state),
        )
        return
    send_email(
        referral.email,
        "Welcome: your next step is the medical intake",
        "referral_welcome",
        reason="You receive this e-mail because your therapist referred you to the network, "
        "with your consent.",
        patient_name=referral.patient_name,
    )
