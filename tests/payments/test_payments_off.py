"""A server whose payments are switched off (no STRIPE_SECRET_KEY, docs/CONFIGURATION.md)
still lists the payments made while they were on. What would go through Stripe says why it
cannot, and changes nothing: no refund, no card taken, never a server error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.extensions import db
from lms.payments.models import Payment, PaymentStatus
from lms.training import services as training
from lms.training.models import Enrollment
from tests.payments.records import add_payment
from tests.training.conftest import courses_dir, mini_course, sync_courses  # noqa: F401


@pytest.fixture
def paid(app, make_user, mini_course):  # noqa: F811
    assert not app.config.get("STRIPE_SECRET_KEY")
    therapist = make_user("therapist", full_name="Paula Paid")
    enrollment = training.enroll(therapist, mini_course)
    payment = add_payment(therapist.id, mini_course.id, enrollment.id, intent="pi_made_while_on")
    db.session.commit()
    return therapist, payment


def _refunds() -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment.refunded")
    )


def test_a_refund_says_payments_are_off_and_changes_nothing(paid, make_user, login) -> None:
    therapist, payment = paid
    client = login(make_user("admin", full_name="Ada Admin"))
    url = f"/admin/payments/{payment.id}/refund"

    page = client.get(url)
    assert page.status_code == 200
    assert "Payments are switched off on this server" in page.get_data(as_text=True)

    answer = client.post(url, data={"reason": "Asked for it back", "confirm": "y"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "nothing was refunded" in text
    assert "Asked for it back" in text  # the reason typed is kept in the form
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    assert db.session.get(Enrollment, payment.enrollment_id).is_open
    assert _refunds() == 0


def test_a_card_sent_while_payments_are_off_is_refused_in_json(
    app,
    make_user,
    login,
    mini_course,  # noqa: F811
) -> None:
    therapist = make_user("therapist", full_name="Olga Open")
    enrollment = training.enroll(therapist, mini_course)
    payment = add_payment(therapist.id, mini_course.id, enrollment.id, status=PaymentStatus.PENDING)
    db.session.commit()
    client = login(therapist)
    answer = client.post(f"/payments/{payment.id}/card", json={"token": "tok_visa"})
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "Card payments are switched off on this server."}
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).submitted_at is None
