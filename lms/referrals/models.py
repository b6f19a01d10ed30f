"""A referral of one patient, and its append-only history.

A referral comes from a certified therapist (``source`` therapist) or from the patient
through the public intake form (``source`` self). A self-referral has no therapist until a
partner accepts the network's match offer (:mod:`lms.practice`); it gives an age band
instead of a date of birth and says what care it is looking for.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from lms.accounts.models import User
from lms.crypto import EncryptedDate, EncryptedText
from lms.db import Base, string_enum, utcnow
from lms.practice.data import CONDITIONS, LANGUAGES, join_words, label, labels


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


class ReferralSource(enum.StrEnum):
    THERAPIST = "therapist"
    SELF = "self"

    @property
    def label(self) -> str:
        return {"therapist": "Therapist referral", "self": "Self-referral"}[self.value]


class AgeBand(enum.StrEnum):
    """Self-referrals give an age band, not a date of birth (the service is for adults)."""

    AGE_18_24 = "18_24"
    AGE_25_34 = "25_34"
    AGE_35_44 = "35_44"
    AGE_45_54 = "45_54"
    AGE_55_64 = "55_64"
    AGE_65_PLUS = "65_plus"

    @property
    def label(self) -> str:
        if self.value == "65_plus":
            return "65 or older"
        low, high = self.value.split("_")
        return f"{low} to {high}"


class CareModality(enum.StrEnum):
    """How a self-referred patient would like to meet their therapist."""

    IN_PERSON = "in_person"
    TELEHEALTH = "telehealth"
    EITHER = "either"

    @property
    def label(self) -> str:
        return {
            "in_person": "In person",
            "telehealth": "Telehealth (video)",
            "either": "In person or telehealth",
        }[self.value]


class EventKind(enum.StrEnum):
    STATUS = "status"
    NOTE = "note"


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a self-referral until a partner accepts the match offer.
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    source: Mapped[ReferralSource] = mapped_column(
        string_enum(ReferralSource, "referral_source"),
        default=ReferralSource.THERAPIST,
        server_default=ReferralSource.THERAPIST.value,
        index=True,
    )
    # The patient's identity and everything written about them are encrypted at rest
    # (lms.crypto); ``search_terms`` lets staff find a patient by a word of the name.
    patient_name: Mapped[str] = mapped_column(EncryptedText)
    date_of_birth: Mapped[date | None] = mapped_column(EncryptedDate)  # or an age band
    email: Mapped[str] = mapped_column(EncryptedText)
    phone: Mapped[str] = mapped_column(EncryptedText)
    search_terms: Mapped[str] = mapped_column(
        Text, default="", server_default="", info={"terms_of": "patient_name"}
    )
    state: Mapped[str] = mapped_column(String(2))
    # Therapist referrals name one primary concern; self-referrals list ``conditions``.
    primary_concern: Mapped[PrimaryConcern | None] = mapped_column(
        string_enum(PrimaryConcern, "referral_primary_concern")
    )
    prior_treatments: Mapped[str] = mapped_column(EncryptedText, default="")
    current_medications: Mapped[str] = mapped_column(EncryptedText, default="")
    gad7: Mapped[int | None]
    phq9: Mapped[int | None]
    consent_confirmed_at: Mapped[datetime]
    status: Mapped[ReferralStatus] = mapped_column(
        string_enum(ReferralStatus, "referral_status"), default=ReferralStatus.NEW, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(EncryptedText)
    # What a self-referred patient asked for (codes of lms.practice.data), used for matching.
    age_band: Mapped[AgeBand | None] = mapped_column(string_enum(AgeBand, "referral_age_band"))
    conditions: Mapped[list[str] | None] = mapped_column(JSON)
    modality: Mapped[CareModality | None] = mapped_column(
        string_enum(CareModality, "referral_modality")
    )
    language: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str | None] = mapped_column(EncryptedText)  # city or ZIP, optional
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    therapist: Mapped[User | None] = relationship()
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", order_by="ReferralEvent.id"
    )

    # The waiting lists (new referrals, oldest first) without walking every referral by date.
    __table_args__ = (
        Index("ix_referrals_status_created_at", "status", "created_at"),
        # The pipeline's search by words of the patient's name (``LIKE '% term %'`` on the
        # search terms, lms.crypto): a trigram index on PostgreSQL; SQLite has none.
        Index(
            "ix_referrals_search_terms_trgm",
            "search_terms",
            postgresql_using="gin",
            postgresql_ops={"search_terms": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    @property
    def patient_initials(self) -> str:
        return "".join(f"{part[0].upper()}." for part in self.patient_name.split() if part)

    @property
    def allowed_next(self) -> tuple[ReferralStatus, ...]:
        return TRANSITIONS[self.status]

    @property
    def is_self_referral(self) -> bool:
        return self.source == ReferralSource.SELF

    @property
    def referred_by(self) -> str:
        """Who sent it, for lists: the therapist's name, or "Self-referral"."""
        therapist = None if self.is_self_referral else self.therapist
        return self.referrer(self.source, therapist.full_name if therapist else None)

    @staticmethod
    def referrer(source: ReferralSource, therapist_name: str | None) -> str:
        """:attr:`referred_by` from a row's columns (lists that read columns, not objects)."""
        if source == ReferralSource.SELF:
            return "Self-referral"
        return therapist_name or ""

    @property
    def awaiting_match(self) -> bool:
        """An eligible self-referral that no partner has accepted yet."""
        return (
            self.is_self_referral
            and self.status == ReferralStatus.ELIGIBLE
            and self.therapist_id is None
        )

    @property
    def condition_labels(self) -> list[str]:
        return labels(CONDITIONS, self.conditions)

    @property
    def conditions_text(self) -> str:
        return join_words(self.condition_labels) or "Not given"

    @property
    def language_label(self) -> str:
        return label(LANGUAGES, self.language) or "Not given"

    @property
    def location_hint(self) -> str | None:
        """The place without the detail: a ZIP code as its area (802xx), a city as given."""
        place = (self.location or "").strip()
        if not place:
            return None
        if place[:5].isdigit():
            return f"ZIP area {place[:3]}xx"
        return place


class ReferralEvent(Base):
    """A status change or a clinician's note. Never updated, never deleted."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[EventKind] = mapped_column(string_enum(EventKind, "referral_event_kind"))
    from_status: Mapped[ReferralStatus | None] = mapped_column(
        string_enum(ReferralStatus, "referral_event_from_status")
    )
    to_status: Mapped[ReferralStatus | None] = mapped_column(
        string_enum(ReferralStatus, "referral_event_to_status")
    )
    body: Mapped[str | None] = mapped_column(EncryptedText)  # a note may describe the patient
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
