"""Outcome measurements (GAD-7, PHQ-9): one questionnaire for one referred patient."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.crypto import EncryptedJSON
from lms.db import Base, utcnow
from lms.outcomes import scoring
from lms.referrals.models import Referral


class InstrumentKind(enum.StrEnum):
    GAD7 = "gad7"
    PHQ9 = "phq9"

    @property
    def spec(self) -> scoring.Instrument:
        return scoring.instrument(self.value)

    @property
    def label(self) -> str:
        return self.spec.name


class Measurement(Base):
    """The item answers (0-3 each, in item order) and their total, dated the day the
    questionnaire was administered. Clinical data: never in e-mails or the audit log."""

    __tablename__ = "outcome_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"))
    instrument: Mapped[InstrumentKind] = mapped_column(
        Enum(
            InstrumentKind,
            name="outcome_instrument",
            native_enum=False,
            length=8,
            create_constraint=True,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        )
    )
    administered_on: Mapped[date]
    # The item answers are encrypted at rest (lms.crypto); the total and the day stay
    # readable by SQL for the summaries, and name no one without the (encrypted) referral.
    answers: Mapped[list[int]] = mapped_column(EncryptedJSON)
    total: Mapped[int]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    referral: Mapped[Referral] = relationship()
    recorded_by: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("total >= 0 AND total <= 27", name="total_range"),
        Index("ix_outcome_measurements_referral_day", "referral_id", "administered_on"),
        Index("ix_outcome_measurements_recorded_by_id", "recorded_by_id"),
    )

    @property
    def spec(self) -> scoring.Instrument:
        return self.instrument.spec

    @property
    def band(self) -> scoring.Band:
        return scoring.band(self.spec, self.total)

    @property
    def needs_safety_prompt(self) -> bool:
        return scoring.needs_safety_prompt(self.spec, self.answers)

    @property
    def safety_answer(self) -> str | None:
        """The PHQ-9 item 9 answer, in words, when it calls for the safety prompt."""
        if not self.needs_safety_prompt:
            return None
        return scoring.ANSWER_LABELS[self.answers[scoring.SAFETY_ITEM - 1]]

    @property
    def score(self) -> scoring.Score:
        return scoring.Score(self.administered_on, self.total, self.id)

    @property
    def rows(self) -> list[tuple[int, str, int, str]]:
        """(number, item wording, answer, answer in words) for each item."""
        return [
            (n, text, value, scoring.ANSWER_LABELS[value])
            for n, (text, value) in enumerate(zip(self.spec.items, self.answers, strict=True), 1)
        ]
