"""Payment pages (therapist), the Stripe webhook (public), and the admin payment screens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import false, select
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import Role, User
from lms.auth import admin_required, current_user_obj, get_or_404, public
from lms.db import LARGEST_ID, paginate, retry_if_locked, utcnow
from lms.exports import audited_csv
from lms.extensions import csrf, db
from lms.payments import services, stripe_client
from lms.payments.forms import CompForm, PaymentFilterForm, RefundForm
from lms.payments.models import Payment, PaymentStatus
from lms.timezones import localtime
from lms.training.models import Course

bp = Blueprint("payments", __name__)

PROVIDER_DOWN = "The payment provider could not be reached. Wait a minute and try again."


def _own_payment_or_404(payment_id: int) -> Payment:
    user = current_user_obj()
    return get_or_404(Payment, payment_id, allowed=lambda p: p.user_id == user.id)


def _course_url(payment: Payment) -> str:
    return url_for("training.course", slug=payment.course.slug)


# --- therapist ------------------------------------------------------------------------------


@bp.route("/payments/<int:payment_id>")
def pay(payment_id: int) -> Any:
    payment = _own_payment_or_404(payment_id)
    if payment.status == PaymentStatus.SUCCEEDED:
        return redirect(url_for("payments.return_page", payment_id=payment.id))
    if not payment.is_open or not stripe_client.enabled():
        flash("This payment is closed.", "info")
        return redirect(_course_url(payment))
    try:
        intent = services.ensure_payment_intent(payment)
    except stripe_client.StripeError:
        db.session.rollback()
        current_app.logger.warning("Stripe unreachable creating the intent of %s", payment.id)
        return render_template("payments/pay.html", payment=payment, error=PROVIDER_DOWN), 503
    db.session.commit()
    if intent.status in ("succeeded", "processing"):
        return redirect(url_for("payments.return_page", payment_id=payment.id))
    return render_template("payments/pay.html", payment=payment, error=None)


@bp.route("/payments/<int:payment_id>/card", methods=["POST"])
def submit_card(payment_id: int) -> Any:
    """JSON: the Stripe.js card token in, what the page should do next out."""
    payment = _own_payment_or_404(payment_id)
    if not stripe_client.enabled():
        return {"error": "Card payments are switched off on this server."}, 503
    body = request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        return {"error": "The card details did not arrive; try again."}, 400
    try:
        result = services.submit_card(payment, token)
    except services.PaymentError as error:
        db.session.rollback()
        return {"error": error.message}, 409
    except stripe_client.StripeError as error:
        db.session.rollback()
        current_app.logger.warning("Stripe error on payment %s: %s", payment.id, error)
        return {"error": error.user_message or PROVIDER_DOWN}, 502
    db.session.commit()
    result["return_url"] = url_for("payments.return_page", payment_id=payment.id)
    return result, 402 if "error" in result else 200


def _state(payment: Payment) -> dict[str, Any]:
    done = payment.status == PaymentStatus.SUCCEEDED and payment.enrollment.is_open
    since = payment.submitted_at or payment.updated_at
    late_after = timedelta(seconds=current_app.config["PAYMENT_LATE_AFTER_SECONDS"])
    return {
        "status": payment.status.value,
        "done": done,
        "late": not done and utcnow() - since > late_after,
        "failure": payment.failure_message if payment.status == PaymentStatus.FAILED else None,
        "course_url": _course_url(payment),
    }


@bp.route("/payments/<int:payment_id>/return")
def return_page(payment_id: int) -> Any:
    """Where Stripe.js sends the therapist: waits (polling) for the webhook, then the course."""
    payment = _own_payment_or_404(payment_id)
    state = _state(payment)
    if state["done"]:
        flash(f"Payment received. Welcome to {payment.course.title}.", "success")
        return redirect(state["course_url"])
    return render_template("payments/return.html", payment=payment, state=state)


@bp.route("/payments/<int:payment_id>/status")
def status(payment_id: int) -> Any:
    """Polled by the return page (htmx fragment) or by scripts (JSON). Never charges."""
    payment = _own_payment_or_404(payment_id)
    state = _state(payment)
    if request.headers.get("HX-Request"):
        response = make_response(
            render_template("payments/_status.html", payment=payment, state=state)
        )
        if state["done"]:
            flash(f"Payment received. Welcome to {payment.course.title}.", "success")
            response.headers["HX-Redirect"] = state["course_url"]
        return response
    return state


# --- the webhook ------------------------------------------------------------------------------


@bp.route("/stripe/webhook", methods=["POST"])
@public
@csrf.exempt
def webhook() -> Any:
    """Stripe's signed events. A bad or missing signature answers 400 and changes nothing."""
    signature = request.headers.get("Stripe-Signature", "")
    if not signature or not stripe_client.enabled():
        return {"error": "missing or unusable Stripe-Signature"}, 400
    try:
        event = stripe_client.construct_event(request.get_data(), signature)
    except (ValueError, stripe_client.SignatureVerificationError):
        return {"error": "invalid signature"}, 400

    def apply() -> str:
        outcome = services.handle_event(event)
        db.session.commit()
        return outcome

    try:
        outcome = retry_if_locked(db.session, apply)
    except IntegrityError:
        db.session.rollback()  # the same event, applied by a concurrent delivery
        outcome = "duplicate"
    except (AttributeError, KeyError, TypeError):
        db.session.rollback()
        current_app.logger.warning("malformed Stripe event", exc_info=True)
        return {"error": "malformed event"}, 400
    except stripe_client.StripeError:
        db.session.rollback()
        current_app.logger.warning("could not re-read the PaymentIntent of event %s", event.id)
        return {"error": "try again later"}, 503  # Stripe redelivers
    return {"received": True, "outcome": outcome}


# --- admin ------------------------------------------------------------------------------------


def _course_choices(blank: str | None) -> list[tuple[str, str]]:
    courses = db.session.scalars(select(Course).order_by(Course.title)).all()
    pairs = [(str(c.id), c.title) for c in courses]
    return ([("", blank)] if blank is not None else []) + pairs


def _filtered() -> tuple[PaymentFilterForm, Any]:
    form = PaymentFilterForm(request.args)
    form.course.choices = _course_choices("Any course")
    if form.validate():
        stmt = services.payments_query(
            q=form.q.data,
            status=form.status.data or None,
            course_id=int(form.course.data) if form.course.data else None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    else:
        stmt = services.payments_query().where(false())  # show the errors, list nothing
    return form, stmt


# The columns of the payments screen; the CSV export uses exactly these.
COLUMNS = ["Date", "Therapist", "E-mail", "Course", "Amount", "Status", "Stripe PaymentIntent"]


def row_values(p: Payment) -> list[str]:
    return [
        localtime(p.created_at),
        p.user.full_name,
        p.user.email,
        p.course.title,
        p.amount_display,
        p.status.label,
        p.stripe_payment_intent_id or "",
    ]


@bp.route("/admin/payments")
@admin_required
def admin_list() -> Any:
    form, stmt = _filtered()
    page = paginate(
        db.session, stmt, request.args.get("page", 1, type=int) or 1, current_app.config["PER_PAGE"]
    )
    status_code = 422 if form.errors else 200
    return render_template(
        "admin/payments.html", form=form, page=page, columns=COLUMNS, row_values=row_values
    ), status_code


@bp.route("/admin/payments.csv")
@admin_required
def admin_csv() -> Any:
    form, stmt = _filtered()
    if form.errors:
        return {"error": "Check the filters: " + "; ".join(sum(form.errors.values(), []))}, 422
    return audited_csv("payments", COLUMNS, (row_values(p) for p in db.session.scalars(stmt)))


@bp.route("/admin/payments/<int:payment_id>/refund", methods=["GET", "POST"])
@admin_required
def refund(payment_id: int) -> Any:
    """A confirmation page first; the refund happens only on its POST."""
    payment = get_or_404(Payment, payment_id, allowed=lambda _p: True)
    form = RefundForm()
    error = None
    if payment.status != PaymentStatus.SUCCEEDED:
        flash("Only a completed payment can be refunded.", "error")
        return redirect(url_for("payments.admin_list"))
    if form.validate_on_submit():
        try:
            services.refund(payment, current_user_obj(), form.reason.data or "")
        except services.PaymentError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(
                f"Refunded {payment.amount_display} to {payment.user.full_name}; "
                "the enrolment has ended.",
                "success",
            )
            return redirect(url_for("payments.admin_list"))
    status_code = 422 if (form.errors or error) else 200
    return render_template(
        "admin/payments_refund.html",
        payment=payment,
        form=form,
        error=error,
        payments_off=not stripe_client.enabled(),
    ), status_code


@bp.route("/admin/payments/comp", methods=["GET", "POST"])
@admin_required
def comp() -> Any:
    form = CompForm()
    form.course.choices = _course_choices(None)
    error = None
    # The therapist's page links here with their id; any other number is ignored.
    wanted = request.args.get("user_id", type=int) or 0
    if request.method == "GET" and 0 < wanted <= LARGEST_ID:
        user = db.session.get(User, wanted)
        if user is not None:
            form.email.data = user.email
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data))
        course = db.session.get(Course, int(form.course.data)) if form.course.data else None
        if user is None or user.role != Role.THERAPIST:
            error = "No therapist has that e-mail address."
        elif course is None or course.current_version_id is None:
            error = "That course is not available."
        else:
            try:
                services.comp(user, course, current_user_obj(), form.reason.data or "")
            except services.PaymentError as exc:
                db.session.rollback()
                error = exc.message
            else:
                db.session.commit()
                flash(f"{user.full_name} is enrolled in {course.title} without payment.", "success")
                return redirect(url_for("admin.user_detail", user_id=user.id))
    status_code = 422 if (form.errors or error) else 200
    return render_template("admin/payments_comp.html", form=form, error=error), status_code
