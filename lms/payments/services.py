"""Payment rules: start a payment, send the card, apply webhook events, refund, comp.

Services flush; the view commits once. Stripe objects are created only for a
payment row that is already committed (the PaymentIntent's idempotency key is
derived from it), and e-mails go out after the commit (``send_email``).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import contains_eager, joinedload

from lms import audit
from lms.accounts.models import User
from lms.db import matches_any, utcnow
from lms.extensions import db
from lms.mail import external_url, send_email
from lms.payments import stripe_client
from lms.payments.models import Payment, PaymentStatus, StripeEvent
from lms.timezones import viewer_zone
from lms.training.models import (
    Certificate,
    Course,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
)


# Payments are off on a server without STRIPE_SECRET_KEY (docs/CONFIGURATION.md); payments
# made while they were on stay listed, and what would go through Stripe says why it cannot.
PAYMENTS_OFF = (
    "Payments are switched off on this server (STRIPE_SECRET_KEY is not set), and a refund "
    "goes back through Stripe: nothing was refunded. Set the key, restart, and try again."
)


class PaymentError(Exception):
    """A rule refused the action; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- starting a payment ---------------------------------------------------------------------


def open_payment(enrollment: Enrollment) -> Payment | None:
    """The enrolment's payment still waiting for money, if any."""
    return db.session.scalar(
        select(Payment)
        .where(
            Payment.enrollment_id == enrollment.id,
            Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.FAILED]),
        )
        .order_by(Payment.id.desc())
    )


def start_payment(user: User, course: Course, enrollment: Enrollment | None) -> Enrollment:
    """A paid enrolment: the enrolment waits (PENDING_PAYMENT) on a new or reused Payment."""
    now = utcnow()
    if enrollment is None:
        enrollment = Enrollment(user_id=user.id, course_id=course.id)
        db.session.add(enrollment)
    enrollment.course_version_id = course.current_version_id  # type: ignore[assignment]
    enrollment.status = EnrollmentStatus.PENDING_PAYMENT
    enrollment.source = EnrollmentSource.PAID
    enrollment.enrolled_at = now
    db.session.flush()
    payment = open_payment(enrollment)
    if payment is None:
        payment = Payment(
            user_id=user.id,
            course_id=course.id,
            enrollment_id=enrollment.id,
            amount_cents=course.price_cents,
            currency=course.currency.lower(),
            status=PaymentStatus.PENDING,
        )
        db.session.add(payment)
        db.session.flush()
        audit.record(
            "payment.created",
            payment,
            actor=user,
            course=course.slug,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            user_id=user.id,
        )
        audit.record(
            "enrollment.created",
            enrollment,
            actor=user,
            course=course.slug,
            source=EnrollmentSource.PAID.value,
            status=EnrollmentStatus.PENDING_PAYMENT.value,
            user_id=user.id,
        )
    return enrollment


def _customer_id(payment: Payment) -> str:
    """Reuse the therapist's Stripe customer from an earlier payment, or create one."""
    known = db.session.scalar(
        select(Payment.stripe_customer_id)
        .where(Payment.user_id == payment.user_id, Payment.stripe_customer_id.is_not(None))
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if known:
        return known
    user = payment.user
    customer = stripe_client.create_customer(
        user.email, user.full_name, user.id, f"lms-user-{user.id}-customer"
    )
    return str(customer.id)


def ensure_payment_intent(payment: Payment) -> Any:
    """The PaymentIntent of ``payment``, created at Stripe if it does not exist yet.

    Safe to repeat: the idempotency key comes from the (committed) payment row and
    its attempt number, so a retried request never creates a second charge.
    """
    if payment.stripe_payment_intent_id:
        return stripe_client.retrieve_payment_intent(payment.stripe_payment_intent_id)
    if not payment.is_open:
        raise PaymentError("This payment is closed.")
    payment.stripe_customer_id = payment.stripe_customer_id or _customer_id(payment)
    intent = stripe_client.create_payment_intent(
        payment.amount_cents,
        payment.currency,
        payment.stripe_customer_id,
        {
            "payment_id": str(payment.id),
            "enrollment_id": str(payment.enrollment_id),
            "user_id": str(payment.user_id),
            "course": payment.course.slug,
        },
        payment.stripe_key(f"intent-{payment.attempt}"),
    )
    payment.stripe_payment_intent_id = str(intent.id)
    db.session.flush()
    audit.record(
        "payment.intent_created",
        payment,
        actor=payment.user,
        payment_intent=payment.stripe_payment_intent_id,
        attempt=payment.attempt,
    )
    return intent


def submit_card(payment: Payment, token_id: str) -> dict[str, Any]:
    """Attach the card (a Stripe.js token) to the payment's PaymentIntent and confirm it.

    Returns ``{"status": "processing"}`` (wait for the webhook),
    ``{"status": "requires_action", "client_secret": ...}`` (Stripe.js must
    authenticate the card) or ``{"error": <Stripe's reason>}`` for a declined card.
    """
    if not payment.is_open:
        raise PaymentError("This payment is already complete.")
    if not token_id.startswith("tok_") or len(token_id) > 255:
        raise PaymentError("The card details did not arrive; try again.")
    if payment.status == PaymentStatus.FAILED and payment.stripe_payment_intent_id:
        _replace_intent(payment)
    intent = ensure_payment_intent(payment)
    if intent.status == "succeeded":
        return {"status": "processing"}
    card = stripe_client.card_from_token(token_id)
    payment.submitted_at = utcnow()
    try:
        intent = stripe_client.confirm_with_card(str(intent.id), card)
    except stripe_client.CardError as error:
        message = error.user_message or "Your card was declined."
        record_failure(payment, message, error.code)
        return {"error": message}
    if intent.status == "requires_action":
        return {"status": "requires_action", "client_secret": intent.client_secret}
    if intent.status == "requires_payment_method":
        reason = _last_error(intent).get("message") or "Your card was declined."
        record_failure(payment, reason, None)
        return {"error": reason}
    return {"status": "processing"}


def _last_error(intent: Any) -> dict[str, Any]:
    return intent.to_dict().get("last_payment_error") or {}


def _replace_intent(payment: Payment) -> None:
    """After a decline, the next card gets a fresh PaymentIntent (the old one is cancelled)."""
    old = payment.stripe_payment_intent_id
    assert old is not None
    try:
        stripe_client.cancel_payment_intent(old)
    except stripe_client.StripeError:
        current_app.logger.warning("could not cancel PaymentIntent %s", old)
    payment.attempt += 1
    payment.stripe_payment_intent_id = None
    payment.status = PaymentStatus.PENDING
    db.session.flush()


def record_failure(payment: Payment, message: str, code: str | None) -> bool:
    """Remember a declined attempt; False if it was already recorded."""
    if payment.status == PaymentStatus.FAILED and payment.failure_message == message:
        return False
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        return False
    payment.status = PaymentStatus.FAILED
    payment.failure_message = message[:2000]
    audit.record(
        "payment.failed",
        payment,
        actor=payment.user,
        payment_intent=payment.stripe_payment_intent_id,
        reason=message,
        code=code,
    )
    return True


# --- webhook events -------------------------------------------------------------------------


def handle_event(event: Any) -> str:
    """Apply one verified Stripe event, at most once (its id is stored with the effect).

    The PaymentIntent is read back from Stripe rather than trusted from the event,
    so events arriving out of order act on the current state.
    """
    event_id, event_type = str(event.id), str(event.type)
    if db.session.scalar(_event_seen_statement(), {"event_id": event_id}):
        return "duplicate"
    row = StripeEvent(event_id=event_id, type=event_type)
    db.session.add(row)
    outcome = "ignored"
    if event_type.startswith("payment_intent."):
        obj = event.to_dict()["data"]["object"]
        payment = _payment_for_intent(str(obj["id"]), obj.get("metadata") or {})
        if payment is None:
            outcome = "unknown_payment"
        else:
            row.payment_id = payment.id
            outcome = apply_intent(payment, stripe_client.retrieve_payment_intent(str(obj["id"])))
    row.outcome = outcome
    db.session.flush()  # the unique event id is checked here, inside the same transaction
    return outcome


@functools.cache
def _event_seen_statement() -> Select[tuple[int]]:
    return select(StripeEvent.id).where(StripeEvent.event_id == bindparam("event_id"))


@functools.cache
def _payment_by_intent_statement() -> Select[tuple[Payment]]:
    return select(Payment).where(Payment.stripe_payment_intent_id == bindparam("intent_id"))


def _payment_for_intent(intent_id: str, metadata: Any) -> Payment | None:
    payment = db.session.scalar(_payment_by_intent_statement(), {"intent_id": intent_id})
    if payment is None and str(metadata.get("payment_id", "")).isdigit():
        payment = db.session.get(Payment, int(metadata["payment_id"]))
    return payment


def apply_intent(payment: Payment, intent: Any) -> str:
    """Bring ``payment`` in line with the PaymentIntent's current state at Stripe."""
    if str(intent.id) != payment.stripe_payment_intent_id:
        return "stale_intent"  # an attempt replaced after a decline
    if intent.status == "succeeded":
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            return "no_change"
        if payment.status == PaymentStatus.CANCELED:
            current_app.logger.error("payment %s succeeded after it was cancelled", payment.id)
            return "succeeded_after_cancel"
        if int(intent.amount) != payment.amount_cents or intent.currency != payment.currency:
            current_app.logger.error("payment %s: amount at Stripe differs", payment.id)
            return "amount_mismatch"
        mark_succeeded(payment)
        return "activated"
    error = _last_error(intent)
    if intent.status == "requires_payment_method" and error:
        message = error.get("message") or "The card was declined."
        return "failed" if record_failure(payment, message, None) else "no_change"
    return "waiting"


def mark_succeeded(payment: Payment) -> None:
    now = utcnow()
    payment.status = PaymentStatus.SUCCEEDED
    payment.paid_at = now
    payment.failure_message = None
    enrollment = payment.enrollment
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.source = EnrollmentSource.PAID
    enrollment.activated_at = now
    audit.record(
        "payment.succeeded",
        payment,
        actor=payment.user,
        payment_intent=payment.stripe_payment_intent_id,
        amount_cents=payment.amount_cents,
    )
    audit.record("enrollment.activated", enrollment, actor=payment.user, course=payment.course.slug)
    send_email(
        payment.user.email,
        f"Receipt: {payment.course.title}",
        "payment_receipt",
        reason="You paid for a course on the Partner LMS.",
        user=payment.user,
        payment=payment,
        link=external_url("training.course", slug=payment.course.slug),
    )


# --- refunds and comped enrolments ----------------------------------------------------------


def refund(payment: Payment, admin: User, reason: str) -> None:
    """Refund the full amount through Stripe, end the enrolment, revoke its certificate.

    The Stripe call comes first (with an idempotency key from the payment, so a
    retry after a failed commit refunds once); the database change follows.
    """
    from lms.training.certificates import revoke

    reason = reason.strip()
    if not reason:
        raise PaymentError("Give a reason for the refund.")
    if payment.status != PaymentStatus.SUCCEEDED or not payment.stripe_payment_intent_id:
        raise PaymentError("Only a completed payment can be refunded.")
    if not stripe_client.enabled():
        raise PaymentError(PAYMENTS_OFF)
    try:
        result = stripe_client.refund(
            payment.stripe_payment_intent_id,
            payment.stripe_key("refund"),
            {"payment_id": str(payment.id)},
        )
    except stripe_client.StripeError as error:
        raise PaymentError(
            f"Stripe refused the refund: {error.user_message or 'no reason given'}"
        ) from error
    now = utcnow()
    payment.status = PaymentStatus.REFUNDED
    payment.refunded_at = now
    payment.stripe_refund_id = str(result.id)
    payment.refund_reason = reason[:2000]
    payment.refunded_by_id = admin.id
    enrollment = payment.enrollment
    enrollment.status = EnrollmentStatus.REFUNDED
    audit.record(
        "payment.refunded",
        payment,
        actor=admin,
        refund=payment.stripe_refund_id,
        amount_cents=payment.amount_cents,
        reason=reason,
        user_id=payment.user_id,
    )
    audit.record(
        "enrollment.ended", enrollment, actor=admin, course=payment.course.slug, reason="refund"
    )
    for certificate in db.session.scalars(
        select(Certificate).where(
            Certificate.enrollment_id == enrollment.id, Certificate.revoked_at.is_(None)
        )
    ):
        revoke(certificate, admin, f"Payment refunded: {reason}")
    send_email(
        payment.user.email,
        f"Refund: {payment.course.title}",
        "payment_refund",
        reason="A payment you made on the Partner LMS was refunded.",
        user=payment.user,
        payment=payment,
    )


def comp(user: User, course: Course, admin: User, reason: str) -> Enrollment:
    """Enrol ``user`` without payment; a payment still waiting is cancelled."""
    from lms.training.services import TrainingError, enroll

    reason = reason.strip()
    if not reason:
        raise PaymentError("Give a reason for the comped enrolment.")
    if user.role.value != "therapist":
        raise PaymentError("Only therapists enrol in courses.")
    try:
        enrollment = enroll(user, course, comped_by=admin)
    except TrainingError as error:
        raise PaymentError(error.message) from error
    pending = open_payment(enrollment)
    if pending is not None:
        pending.status = PaymentStatus.CANCELED
        audit.record("payment.canceled", pending, actor=admin, reason="comped")
    audit.record(
        "enrollment.comped",
        enrollment,
        actor=admin,
        course=course.slug,
        reason=reason,
        user_id=user.id,
    )
    return enrollment


# --- the admin list -------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=viewer_zone())


def payments_query(
    q: str | None = None,
    status: str | None = None,
    course_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Select[tuple[Payment]]:
    """Payments matching the admin filters, newest first (the screen and the CSV)."""
    # Each row shows its therapist and course: read in the same statement, not a query a row.
    stmt = (
        select(Payment)
        .join(User, User.id == Payment.user_id)
        .options(contains_eager(Payment.user), joinedload(Payment.course))
    )
    if q:
        stmt = stmt.where(
            matches_any(q, User.email, User.full_name, Payment.stripe_payment_intent_id)
        )
    if status:
        stmt = stmt.where(Payment.status == PaymentStatus(status))
    if course_id:
        stmt = stmt.where(Payment.course_id == course_id)
    if date_from:
        stmt = stmt.where(Payment.created_at >= _day_start(date_from))
    if date_to:
        stmt = stmt.where(Payment.created_at < _day_start(date_to + timedelta(days=1)))
    return stmt.order_by(Payment.created_at.desc(), Payment.id.desc())
