"""Payment records and the Stripe webhook events already applied.

Money is integer cents. A ``Payment`` belongs to one enrolment; the Stripe
PaymentIntent behind it may be replaced after a declined card (``attempt``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, utcnow
from lms.training.models import Course, Enrollment


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the card, or for Stripe's confirmation
    FAILED = "failed"  # the last attempt was declined; the therapist may try again
    SUCCEEDED = "succeeded"
    REFUNDED = "refunded"
    CANCELED = "canceled"  # superseded (e.g. the enrolment was comped instead)

    @property
    def label(self) -> str:
        return {
            "pending": "Awaiting payment",
            "failed": "Declined",
            "succeeded": "Paid",
            "refunded": "Refunded",
            "canceled": "Cancelled",
        }[self.value]


def _new_key() -> str:
    return f"lms-payment-{uuid.uuid4().hex}"


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        Enum(
            PaymentStatus,
            name="payment_status",
            native_enum=False,
            length=24,
            create_constraint=True,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        index=True,
    )
    # Stripe idempotency keys are derived from this: "<key>-intent-<attempt>", "<key>-refund".
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True, default=_new_key)
    attempt: Mapped[int] = mapped_column(default=1)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]  # when the card was last sent to Stripe
    paid_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255))
    refund_reason: Mapped[str | None] = mapped_column(Text)
    refunded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()
    enrollment: Mapped[Enrollment] = relationship()
    refunded_by: Mapped[User | None] = relationship(foreign_keys=[refunded_by_id])

    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    @property
    def is_open(self) -> bool:
        """Still waiting for money: the therapist may (re)submit a card."""
        return self.status in (PaymentStatus.PENDING, PaymentStatus.FAILED)

    @property
    def amount_display(self) -> str:
        return f"{self.amount_cents / 100:,.2f} {self.currency.upper()}"

    def stripe_key(self, purpose: str) -> str:
        """The Stripe idempotency key for one request made for this payment."""
        return f"{self.idempotency_key}-{purpose}"


class StripeEvent(Base):
    """A webhook event that has been applied; the unique id makes redelivery a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    outcome: Mapped[str] = mapped_column(String(40), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_stripe_events_payment_id", "payment_id"),)
