"""Paid enrolment against localstripe: intent, card, signed webhooks, return page, refund, comp."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from lms.accounts.models import Role
from lms.audit import AuditEvent
from lms.extensions import db
from lms.payments.models import Payment, PaymentStatus, StripeEvent
from lms.training.certificates import issue_certificate
from lms.training.models import Certificate, Course, Enrollment, EnrollmentSource, EnrollmentStatus
from tests.payments.conftest import PayServer, wait_for
from tests.payments.localstripe import PRICE_CENTS, PUBLISHABLE_KEY, card_token, sign

DECLINED = "4000000000000341"
GOOD = "4242424242424242"


def fresh(model: Any, ident: int) -> Any:
    db.session.rollback()  # end the read snapshot: the server thread writes to the same file
    return db.session.get(model, ident)


def start(client: FlaskClient, course: Course) -> Payment:
    response = client.post(f"/courses/{course.slug}/enroll")
    assert response.status_code == 302
    assert "/payments/" in response.headers["Location"]
    payment_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(f"/payments/{payment_id}")
    assert page.status_code == 200
    return fresh(Payment, payment_id)


def pay(client: FlaskClient, payment: Payment, base: str, number: str = GOOD) -> Any:
    return client.post(f"/payments/{payment.id}/card", json={"token": card_token(base, number)})


def wait_active(payment: Payment) -> Payment:
    return wait_for(
        lambda: (p := fresh(Payment, payment.id)).status == PaymentStatus.SUCCEEDED and p,
        what="the payment_intent.succeeded webhook",
    )


def post_event(client: FlaskClient, event: dict[str, Any], signature: str | None = None) -> Any:
    payload = json.dumps(event).encode()
    headers = {"Stripe-Signature": signature if signature is not None else sign(payload)}
    return client.post(
        "/stripe/webhook", data=payload, headers=headers, content_type="application/json"
    )


def test_paid_enrolment_end_to_end_with_webhook_from_localstripe(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    user = new_user()
    client = client_for(user)
    page = client.get(f"/courses/{course.slug}")
    assert b"Enrol and pay 250.00 USD" in page.data

    payment = start(client, course)
    enrollment = fresh(Enrollment, payment.enrollment_id)
    assert enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert payment.amount_cents == PRICE_CENTS and payment.status == PaymentStatus.PENDING

    # The PaymentIntent at "Stripe": amount, currency, customer, metadata naming the enrolment.
    intent = pay_server.stripe().v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (intent.amount, intent.currency) == (PRICE_CENTS, "usd")
    assert intent.customer == payment.stripe_customer_id
    assert intent.metadata["enrollment_id"] == str(enrollment.id)
    assert intent.metadata["payment_id"] == str(payment.id)

    # The payment page loads Stripe.js from STRIPE_JS_URL with the publishable key.
    html = client.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert f'src="{pay_server.stripe_base}/js.stripe.com/v3/"' in html
    assert PUBLISHABLE_KEY in html and "js/payment.js" in html
    csp = client.get(f"/payments/{payment.id}").headers["Content-Security-Policy"]
    assert f"script-src 'self' {pay_server.stripe_base}" in csp
    assert pay_server.stripe_base in csp.split("connect-src")[1].split(";")[0]

    answer = pay(client, payment, pay_server.stripe_base)
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "processing"
    # Not active until the signed webhook lands (localstripe sends it about 1 s later).
    assert fresh(Enrollment, enrollment.id).status == EnrollmentStatus.PENDING_PAYMENT

    wait_active(payment)
    assert fresh(Enrollment, enrollment.id).status == EnrollmentStatus.ACTIVE
    assert client.get(f"/payments/{payment.id}/status").json["done"] is True
    landed = client.get(f"/payments/{payment.id}/return")
    assert landed.status_code == 302 and landed.headers["Location"].endswith(course.slug)
    events = db.session.scalars(
        select(StripeEvent).where(StripeEvent.payment_id == payment.id)
    ).all()
    assert [e.outcome for e in events if e.type == "payment_intent.succeeded"] == ["activated"]
    receipts = [m for m in pay_server.outbox() if m.to == user.email]
    assert [m.subject for m in receipts] == [f"Receipt: {course.title}"]
    assert "250.00 USD" in receipts[0].text
    actions = set(
        db.session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "payment", AuditEvent.object_id == str(payment.id)
            )
        )
    )
    assert {"payment.created", "payment.intent_created", "payment.succeeded"} <= actions


def test_declined_card_shows_the_reason_and_can_be_retried(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    client = client_for(new_user())
    payment = start(client, course)
    first_intent = payment.stripe_payment_intent_id

    answer = pay(client, payment, pay_server.stripe_base, DECLINED)
    assert answer.status_code == 402
    assert answer.json["error"] == "Your card was declined."
    payment = fresh(Payment, payment.id)
    assert payment.status == PaymentStatus.FAILED
    assert "declined" in client.get(f"/payments/{payment.id}").get_data(as_text=True)

    answer = pay(client, payment, pay_server.stripe_base, GOOD)
    assert answer.status_code == 200 and answer.json["status"] == "processing"
    payment = wait_active(payment)
    assert payment.attempt == 2 and payment.stripe_payment_intent_id != first_intent
    assert fresh(Enrollment, payment.enrollment_id).status == EnrollmentStatus.ACTIVE
    # The failed attempt's event (payment_intent.payment_failed) is stored too.
    wait_for(
        lambda: (
            db.session.rollback()
            or db.session.scalar(
                select(StripeEvent).where(
                    StripeEvent.payment_id == payment.id,
                    StripeEvent.type == "payment_intent.payment_failed",
                )
            )
        ),
        what="the payment_failed event",
    )


def _succeeded_event(pay_server: PayServer, intent_id: str) -> dict[str, Any]:
    events = pay_server.stripe().v1.events.list(params={"type": "payment_intent.succeeded"})
    for event in events.data:
        if event.data.object.id == intent_id:
            return event.to_dict()
    raise AssertionError("localstripe has no succeeded event for " + intent_id)


def test_the_same_event_delivered_twice_changes_nothing(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    user = new_user()
    client = client_for(user)
    payment = start(client, course)
    pay(client, payment, pay_server.stripe_base)
    payment = wait_active(payment)
    event = _succeeded_event(pay_server, payment.stripe_payment_intent_id)

    for _ in range(2):  # localstripe delivered it already; twice more
        response = post_event(client, event)
        assert response.status_code == 200 and response.json["outcome"] == "duplicate"
    assert (
        db.session.scalar(
            select(func.count()).select_from(StripeEvent).where(StripeEvent.event_id == event["id"])
        )
        == 1
    )
    assert len([m for m in pay_server.outbox() if m.to == user.email]) == 1


def test_forged_or_missing_signature_is_refused_and_changes_nothing(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    client = client_for(new_user())
    payment = start(client, course)
    forged = {
        "id": "evt_forged_" + str(time.monotonic_ns()),
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": payment.stripe_payment_intent_id, "object": "payment_intent"}},
    }
    assert (
        post_event(client, forged, sign(json.dumps(forged).encode(), "whsec_wrong")).status_code
        == 400
    )
    assert post_event(client, forged, "").status_code == 400
    assert post_event(client, forged, "t=1,v1=deadbeef").status_code == 400
    assert client.post("/stripe/webhook", data=b"not json").status_code == 400
    assert fresh(Payment, payment.id).status == PaymentStatus.PENDING
    assert fresh(Enrollment, payment.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT
    assert (
        db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == forged["id"])) is None
    )

    # Correctly signed but untrue: the PaymentIntent is re-read from Stripe, so nothing opens.
    response = post_event(client, forged)
    assert response.status_code == 200 and response.json["outcome"] == "waiting"
    assert fresh(Enrollment, payment.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT


def test_out_of_order_and_unknown_events(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    client = client_for(new_user())
    payment = start(client, course)
    pay(client, payment, pay_server.stripe_base)
    payment = wait_active(payment)
    # A payment_failed arriving after success: Stripe says succeeded, so nothing changes.
    late_failure = {
        "id": "evt_late_" + str(time.monotonic_ns()),
        "object": "event",
        "type": "payment_intent.payment_failed",
        "data": {"object": {"id": payment.stripe_payment_intent_id, "object": "payment_intent"}},
    }
    response = post_event(client, late_failure)
    assert response.status_code == 200 and response.json["outcome"] == "no_change"
    assert fresh(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    unknown = {"id": "evt_other_" + str(time.monotonic_ns()), "type": "customer.created"}
    unknown["data"] = {"object": {"id": "cus_x"}}
    response = post_event(client, unknown)
    assert response.status_code == 200 and response.json["outcome"] == "ignored"


def test_webhook_before_the_return_page_goes_straight_to_the_course(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    client = client_for(new_user())
    payment = start(client, course)
    pay(client, payment, pay_server.stripe_base)
    wait_active(payment)  # the webhook has landed before the browser comes back
    response = client.get(f"/payments/{payment.id}/return")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/courses/{course.slug}"
    assert b"Your progress" in client.get(response.headers["Location"]).data


def test_late_webhook_keeps_waiting_without_a_second_charge(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    client = client_for(new_user())
    payment = start(client, course)
    intent_id = payment.stripe_payment_intent_id
    pay_server.app.config["PAYMENT_LATE_AFTER_SECONDS"] = 0
    try:
        page = client.get(f"/payments/{payment.id}/return")
        assert page.status_code == 200
        assert b"Waiting for confirmation from Stripe" in page.data
        assert b"taking longer than usual" in page.data
        assert b'hx-trigger="every 2s"' in page.data
        for _ in range(3):
            state = client.get(f"/payments/{payment.id}/status").json
            assert state["done"] is False and state["late"] is True
        fragment = client.get(f"/payments/{payment.id}/status", headers={"HX-Request": "true"})
        assert (
            b"taking longer than usual" in fragment.data and "HX-Redirect" not in fragment.headers
        )
    finally:
        pay_server.app.config["PAYMENT_LATE_AFTER_SECONDS"] = 20
    payment = fresh(Payment, payment.id)
    assert payment.stripe_payment_intent_id == intent_id and payment.attempt == 1
    charges = pay_server.stripe().v1.charges.list()
    assert not [c for c in charges.data if c.payment_intent == intent_id]


def test_admin_refund_after_confirmation_ends_enrolment_and_revokes_certificate(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    user = new_user()
    client = client_for(user)
    payment = start(client, course)
    pay(client, payment, pay_server.stripe_base)
    payment = wait_active(payment)
    payment_id, enrollment_id = payment.id, payment.enrollment_id
    certificate_id = issue_certificate(fresh(Enrollment, enrollment_id)).id
    db.session.commit()
    admin = client_for(new_user(Role.ADMIN))
    payment = fresh(Payment, payment_id)

    page = admin.get(f"/admin/payments/{payment.id}/refund")
    assert page.status_code == 200 and b"Refund 250.00 USD" in page.data
    refused = admin.post(f"/admin/payments/{payment.id}/refund", data={"reason": "asked"})
    assert refused.status_code == 422
    assert fresh(Payment, payment.id).status == PaymentStatus.SUCCEEDED

    done = admin.post(
        f"/admin/payments/{payment.id}/refund", data={"reason": "Cannot attend", "confirm": "y"}
    )
    assert done.status_code == 302
    payment = fresh(Payment, payment.id)
    assert payment.status == PaymentStatus.REFUNDED and payment.stripe_refund_id
    assert fresh(Enrollment, enrollment_id).status == EnrollmentStatus.REFUNDED
    assert fresh(Certificate, certificate_id).revoked_at is not None
    refunds = pay_server.stripe().v1.refunds.list(
        params={"payment_intent": payment.stripe_payment_intent_id}
    )
    assert [r.amount for r in refunds.data] == [PRICE_CENTS]
    subjects = [m.subject for m in pay_server.outbox() if m.to == user.email]
    assert f"Refund: {course.title}" in subjects
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "payment.refunded", AuditEvent.object_id == str(payment.id)
        )
    )
    # A second refund is refused with a message, not a 500.
    again = admin.post(f"/admin/payments/{payment.id}/refund", data={"reason": "x", "confirm": "y"})
    assert again.status_code == 302


def test_admin_comps_an_enrolment_with_a_reason(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    therapist = new_user()
    client = client_for(therapist)
    pending = start(client, course)
    admin = client_for(new_user(Role.ADMIN))
    form = admin.get(f"/admin/payments/comp?user_id={therapist.id}")
    assert form.status_code == 200 and therapist.email.encode() in form.data
    missing = admin.post(
        "/admin/payments/comp", data={"email": therapist.email, "course": str(course.id)}
    )
    assert missing.status_code == 422
    done = admin.post(
        "/admin/payments/comp",
        data={"email": therapist.email, "course": str(course.id), "reason": "Faculty member"},
    )
    assert done.status_code == 302
    enrollment = fresh(Enrollment, pending.enrollment_id)
    assert (enrollment.status, enrollment.source) == (
        EnrollmentStatus.ACTIVE,
        EnrollmentSource.COMPED,
    )
    assert fresh(Payment, pending.id).status == PaymentStatus.CANCELED
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "enrollment.comped", AuditEvent.object_id == str(enrollment.id)
        )
    )
    assert event.details["reason"] == "Faculty member"


def test_admin_list_filters_and_csv_match(
    pay_server: PayServer, new_user, client_for, course
) -> None:
    user = new_user()
    client = client_for(user)
    payment = start(client, course)
    pay(client, payment, pay_server.stripe_base)
    wait_active(payment)
    admin = client_for(new_user(Role.ADMIN))
    query = {"q": user.email, "status": "succeeded"}
    page = admin.get("/admin/payments", query_string=query)
    assert page.status_code == 200 and user.email.encode() in page.data
    exported = admin.get("/admin/payments.csv", query_string=query)
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == [
        "Date",
        "Therapist",
        "E-mail",
        "Course",
        "Amount",
        "Status",
        "Stripe PaymentIntent",
    ]
    assert len(rows) == 2 and rows[1][2] == user.email and rows[1][4] == "250.00 USD"
    assert rows[1][5] == "Paid"
    refunded = admin.get("/admin/payments", query_string={"status": "refunded", "q": user.email})
    assert b"No payments match these filters." in refunded.data
    assert admin.get("/admin/payments", query_string={"date_from": "nope"}).status_code == 422
    assert admin.get("/admin/payments.csv", query_string={"date_from": "nope"}).status_code == 422


def test_payment_pages_are_private(pay_server: PayServer, new_user, client_for, course) -> None:
    owner = client_for(new_user())
    payment = start(owner, course)
    other = client_for(new_user())
    for url in ("", "/return", "/status"):
        assert other.get(f"/payments/{payment.id}{url}").status_code == 404
    assert other.post(f"/payments/{payment.id}/card", json={"token": "tok_x"}).status_code == 404
    assert other.get("/admin/payments").status_code == 403
    assert owner.post(f"/payments/{payment.id}/card", json={}).status_code == 400
    assert owner.post(f"/payments/{payment.id}/card", data="x").status_code == 400


def test_without_keys_payments_are_off(pay_server: PayServer, new_user, client_for, course) -> None:
    saved = pay_server.app.config["STRIPE_SECRET_KEY"]
    pay_server.app.config["STRIPE_SECRET_KEY"] = None
    try:
        user = new_user()
        user_id, course_id = user.id, course.id
        client = client_for(user)
        page = client.get(f"/courses/{course.slug}")
        assert b"Online payment is not configured" in page.data
        assert "stripe" not in page.headers["Content-Security-Policy"]
        assert "127.0.0.1" not in page.headers["Content-Security-Policy"]
        response = client.post(f"/courses/{course.slug}/enroll")
        assert response.headers["Location"] == f"/courses/{course.slug}"
        enrollment = db.session.scalar(
            select(Enrollment).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        )
        assert enrollment.source == EnrollmentSource.NO_PAYMENT_CONFIGURED
        assert (
            client.post(
                "/stripe/webhook", data=b"{}", headers={"Stripe-Signature": "t=1"}
            ).status_code
            == 400
        )
    finally:
        pay_server.app.config["STRIPE_SECRET_KEY"] = saved
