"""Licensure records: licenses, malpractice insurance, the attestation, and their documents.

Licenses and insurance policies share the review fields (:class:`ReviewedRecord`):
a status, the admin's last decision, the re-verification date and the expiry
reminders already sent. Issue and expiry dates are calendar dates.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, string_enum, utcnow
from lms.licensure.data import LicenseType, state_name


class RecordStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for an admin
    CHANGES_REQUESTED = "changes_requested"  # waiting for the therapist
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return {
            "pending": "Awaiting verification",
            "changes_requested": "Changes requested",
            "verified": "Verified",
            "rejected": "Rejected",
            "expired": "Expired",
        }[self.value]

    @property
    def tone(self) -> str:
        """The status badge's class suffix (status-ok/-warn/-bad)."""
        return {"verified": "ok", "pending": "warn", "changes_requested": "warn"}.get(
            self.value, "bad"
        )


class ReviewedRecord:
    """Columns shared by the records an admin verifies."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[RecordStatus] = mapped_column(
        string_enum(RecordStatus, "licensure_status", 24), default=RecordStatus.PENDING, index=True
    )
    # Bumped by every change the therapist makes: an admin decides on the revision they saw.
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When it last entered the queue (the queue is oldest first).
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # How it was checked, e.g. "State board website, checked on 2026-03-02".
    decision_method: Mapped[str | None] = mapped_column(Text)
    # The rejection reason or the changes asked for; shown to the therapist.
    decision_note: Mapped[str | None] = mapped_column(Text)
    reverify_on: Mapped[date | None] = mapped_column(Date)
    # The smallest "days before expiry" reminder already sent for the current expiry date.
    reminded_days: Mapped[int | None]

    @declared_attr
    def user(cls) -> Mapped[User]:  # noqa: N805
        return relationship(foreign_keys=[cls.user_id])  # type: ignore[list-item]

    @declared_attr
    def decided_by(cls) -> Mapped[User | None]:  # noqa: N805
        return relationship(foreign_keys=[cls.decided_by_id])  # type: ignore[list-item]

    kind = "record"

    def is_valid_on(self, day: date) -> bool:
        """Verified and not yet expired: a record stops counting on its expiry date."""
        return self.status == RecordStatus.VERIFIED and day < self.expires_on

    def reverification_due(self, day: date) -> bool:
        return (
            self.status == RecordStatus.VERIFIED
            and self.reverify_on is not None
            and self.reverify_on <= day
        )

    @property
    def editable(self) -> bool:
        return True  # any change sends the record (back) to the queue

    @property
    def has_message(self) -> bool:
        return bool(self.decision_note) and self.status in (
            RecordStatus.REJECTED,
            RecordStatus.CHANGES_REQUESTED,
        )


class License(ReviewedRecord, Base):
    __tablename__ = "licenses"

    kind = "license"
    license_type: Mapped[LicenseType] = mapped_column(string_enum(LicenseType, "license_type", 32))
    state: Mapped[str] = mapped_column(String(2), index=True)
    number: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date] = mapped_column(Date)
    npi: Mapped[str | None] = mapped_column(String(10))

    documents: Mapped[list[Document]] = relationship(
        back_populates="license", order_by="Document.id", foreign_keys="Document.license_id"
    )

    __table_args__ = (
        UniqueConstraint("user_id", "state", "license_type", "number"),
        CheckConstraint("expires_on > issued_on", name="expires_after_issue"),
    )

    @property
    def title(self) -> str:
        return f"{self.license_type.short} license {self.number} ({state_name(self.state)})"


class InsurancePolicy(ReviewedRecord, Base):
    """Malpractice (professional liability) insurance. Coverage is in integer cents."""

    __tablename__ = "insurance_policies"

    kind = "insurance"
    carrier: Mapped[str] = mapped_column(String(200))
    policy_number: Mapped[str] = mapped_column(String(100))
    per_claim_cents: Mapped[int] = mapped_column(BigInteger)
    aggregate_cents: Mapped[int] = mapped_column(BigInteger)

    documents: Mapped[list[Document]] = relationship(
        back_populates="insurance", order_by="Document.id", foreign_keys="Document.insurance_id"
    )

    __table_args__ = (
        CheckConstraint("per_claim_cents > 0", name="per_claim_positive"),
        CheckConstraint("aggregate_cents >= per_claim_cents", name="aggregate_covers_claim"),
    )

    @property
    def title(self) -> str:
        return f"Malpractice insurance {self.policy_number} ({self.carrier})"

    @staticmethod
    def money(cents: int) -> str:
        return f"${cents // 100:,}" if cents % 100 == 0 else f"${cents / 100:,.2f}"


class Document(Base):
    """An uploaded file proving a license or a policy; the bytes live in the storage backend."""

    __tablename__ = "licensure_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    license_id: Mapped[int | None] = mapped_column(ForeignKey("licenses.id"), index=True)
    insurance_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurance_policies.id"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    # What the therapist called it (made safe); shown only, never used as a path.
    original_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))  # from the file's content
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    license: Mapped[License | None] = relationship(
        back_populates="documents", foreign_keys=[license_id]
    )
    insurance: Mapped[InsurancePolicy | None] = relationship(
        back_populates="documents", foreign_keys=[insurance_id]
    )

    __table_args__ = (
        CheckConstraint(
            "(license_id IS NULL AND insurance_id IS NOT NULL) OR "
            "(license_id IS NOT NULL AND insurance_id IS NULL)",
            name="one_owner_record",
        ),
    )

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg")

    @property
    def size_display(self) -> str:
        if self.size_bytes >= 1024 * 1024:
            return f"{self.size_bytes / (1024 * 1024):.1f} MB"
        return f"{max(1, round(self.size_bytes / 1024))} KB"


class Attestation(Base):
    """The therapist's signed answers; a new row each time they sign (the latest counts)."""

    __tablename__ = "licensure_attestations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    discipline_history: Mapped[bool]
    license_restrictions: Mapped[bool]
    felony: Mapped[bool]
    impairment: Mapped[bool]
    current_coverage: Mapped[bool]
    explanation: Mapped[str | None] = mapped_column(Text)
    signed_name: Mapped[str] = mapped_column(String(200))
    signed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_licensure_attestations_user_id_id", "user_id", "id"),)

    @property
    def needs_attention(self) -> bool:
        """Any answer other than the expected one: an admin reads the explanation."""
        return (
            self.discipline_history
            or self.license_restrictions
            or self.felony
            or self.impairment
            or not self.current_coverage
        )
