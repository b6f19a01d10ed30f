"""A course payment written straight to the database, as tests outside the Stripe flow need
one (a paid course's row in a list, a refund's page): no Stripe call is made."""

from __future__ import annotations

from lms.extensions import db
from lms.payments.models import Payment, PaymentStatus

PRICE_CENTS = 49_500


def add_payment(
    user_id: int,
    course_id: int,
    enrollment_id: int,
    *,
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    intent: str | None = None,
) -> Payment:
    """Add a payment of the course's price in US dollars to the session (not committed)."""
    payment = Payment(
        user_id=user_id,
        course_id=course_id,
        enrollment_id=enrollment_id,
        amount_cents=PRICE_CENTS,
        currency="usd",
        status=status,
        stripe_payment_intent_id=intent,
    )
    db.session.add(payment)
    return payment
