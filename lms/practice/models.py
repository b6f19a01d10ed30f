"""Practice profiles and match offers.

A :class:`PracticeProfile` is a certified partner's listing (one per therapist); the states
they may see patients in are not stored here but read from their verified licenses. A
:class:`MatchOffer` is a clinician offering one eligible self-referral to one partner, who
accepts or declines before it expires. At most one offer per referral is open at a time
(a partial unique index).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, string_enum, utcnow
from lms.practice.data import APPROACHES, CONDITIONS, LANGUAGES, labels
from lms.referrals.models import Referral


class PracticeProfile(Base):
    __tablename__ = "practice_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    practice_name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    in_person: Mapped[bool] = mapped_column(default=False)
    telehealth: Mapped[bool] = mapped_column(default=False)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    approaches: Mapped[list[str]] = mapped_column(JSON, default=list)
    other_approaches: Mapped[str | None] = mapped_column(String(300))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    fees: Mapped[str | None] = mapped_column(String(500))  # fee range or insurance note
    accepting_new_clients: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()

    @property
    def condition_labels(self) -> list[str]:
        return labels(CONDITIONS, self.conditions)

    @property
    def approach_labels(self) -> list[str]:
        found = labels(APPROACHES, self.approaches)
        return found + ([self.other_approaches] if self.other_approaches else [])

    @property
    def language_labels(self) -> list[str]:
        return labels(LANGUAGES, self.languages)

    @property
    def modality_label(self) -> str:
        if self.in_person and self.telehealth:
            return "In person and telehealth"
        return "In person" if self.in_person else "Telehealth"

    @property
    def place(self) -> str:
        return f"{self.city}, {self.state}"


class OfferStatus(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "offered": "Waiting for an answer",
            "accepted": "Accepted",
            "declined": "Declined",
            "expired": "Expired",
            "withdrawn": "Withdrawn",
        }[self.value]

    @property
    def tone(self) -> str:
        return {
            "offered": "warn",
            "accepted": "ok",
            "declined": "bad",
            "expired": "muted",
            "withdrawn": "muted",
        }[self.value]


class MatchOffer(Base):
    """One eligible self-referral offered to one partner."""

    __tablename__ = "match_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    offered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[OfferStatus] = mapped_column(
        string_enum(OfferStatus, "match_offer_status"), default=OfferStatus.OFFERED, index=True
    )
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    responded_at: Mapped[datetime | None]  # the partner accepted or declined
    closed_at: Mapped[datetime | None]  # no longer open: answered, expired or withdrawn
    decline_reason: Mapped[str | None] = mapped_column(Text)

    referral: Mapped[Referral] = relationship()
    partner: Mapped[User] = relationship(foreign_keys=[partner_id])
    offered_by: Mapped[User] = relationship(foreign_keys=[offered_by_id])

    __table_args__ = (
        # One open offer per referral: two clinicians cannot offer the same patient twice.
        Index(
            "uq_match_offers_open_referral",
            "referral_id",
            unique=True,
            sqlite_where=text("status = 'offered'"),
            postgresql_where=text("status = 'offered'"),
        ),
    )

    def is_open(self, now: datetime) -> bool:
        """Offered and not past its expiry (whether or not the expiry job has run)."""
        return self.status == OfferStatus.OFFERED and self.expires_at > now
