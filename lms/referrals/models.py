"""A referral of one patient by a certified therapist, and its append-only history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, utcnow


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=24,
        create_constraint=True,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class PrimaryConcern(enum.StrEnum):
    GENERALIZED_ANXIETY = "generalized_anxiety"
    SOCIAL_ANXIETY = "social_anxiety"
    PANIC = "panic"
    DEPRESSION = "depression"
    PTSD = "ptsd"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "generalized_anxiety": "Generalized anxiety",
            "social_anxiety": "Social anxiety",
            "panic": "Panic",
            "depression": "Depression",
            "ptsd": "PTSD",
            "other": "Other",
        }[self.value]


class ReferralStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    INTAKE_SCHEDULED = "intake_scheduled"
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "new": "New",
            "contacted": "Contacted",
            "intake_scheduled": "Intake scheduled",
            "eligible": "Eligible",
            "not_eligible": "Not eligible",
            "withdrawn": "Withdrawn",
        }[self.value]

    @property
    def tone(self) -> str:
        """The ``status-*`` CSS modifier."""
        return {"eligible": "ok", "not_eligible": "bad", "withdrawn": "muted"}.get(
            self.value, "warn"
        )


# The pipeline: which status may follow which. Eligible, not eligible and withdrawn are final.
TRANSITIONS: dict[ReferralStatus, tuple[ReferralStatus, ...]] = {
    ReferralStatus.NEW: (
        ReferralStatus.CONTACTED,
        ReferralStatus.NOT_ELIGIBLE,
        ReferralStatus.WITHDRAWN,
    ),
    ReferralStatus.CONTACTED: (
        ReferralStatus.INTAKE_SCHEDULED,
        ReferralStatus.NOT_ELIGIBLE,
        ReferralStatus.WITHDRAWN,
    ),
    ReferralStatus.INTAKE_SCHEDULED: (
        ReferralStatus.ELIGIBLE,
        ReferralStatus.NOT_ELIGIBLE,
        ReferralStatus.WITHDRAWN,
    ),
    ReferralStatus.ELIGIBLE: (),
    ReferralStatus.NOT_ELIGIBLE: (),
    ReferralStatus.WITHDRAWN: (),
}


class EventKind(enum.StrEnum):
    STATUS = "status"
    NOTE = "note"


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    patient_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(2))
    primary_concern: Mapped[PrimaryConcern] = mapped_column(
        _enum(PrimaryConcern, "referral_primary_concern")
    )
    prior_treatments: Mapped[str] = mapped_column(Text, default="")
    current_medications: Mapped[str] = mapped_column(Text, default="")
    gad7: Mapped[int | None]
    phq9: Mapped[int | None]
    consent_confirmed_at: Mapped[datetime]
    status: Mapped[ReferralStatus] = mapped_column(
        _enum(ReferralStatus, "referral_status"), default=ReferralStatus.NEW, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    therapist: Mapped[User] = relationship()
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", order_by="ReferralEvent.id"
    )

    @property
    def patient_initials(self) -> str:
        return "".join(f"{part[0].upper()}." for part in self.patient_name.split() if part)

    @property
    def allowed_next(self) -> tuple[ReferralStatus, ...]:
        return TRANSITIONS[self.status]


class ReferralEvent(Base):
    """A status change or a clinician's note. Never updated, never deleted."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "referral_event_kind"))
    from_status: Mapped[ReferralStatus | None] = mapped_column(
        _enum(ReferralStatus, "referral_event_from_status")
    )
    to_status: Mapped[ReferralStatus | None] = mapped_column(
        _enum(ReferralStatus, "referral_event_to_status")
    )
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    referral: Mapped[Referral] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class ReferralHistoryIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_event_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, ReferralEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise ReferralHistoryIsAppendOnly("referral events cannot be changed or deleted")
