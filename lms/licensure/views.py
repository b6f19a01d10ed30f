"""Licensure pages: the therapist's records, the admin review queue, and the document route."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts.models import Role
from lms.admin import lists
from lms.auth import admin_required, current_user_obj, get_or_404, role_required
from lms.db import paginate
from lms.exports import audited_csv
from lms.extensions import db, limiter, user_or_address
from lms.licensure import documents, services
from lms.licensure.forms import (
    AttestationForm,
    DecisionForm,
    InsuranceForm,
    LicenseForm,
    QueueFilterForm,
)
from lms.licensure.models import Document, InsurancePolicy, License
from lms.storage import StorageError

bp = Blueprint("licensure", __name__)

therapist_required = role_required(Role.THERAPIST)


def _own(model: Any, record_id: int) -> Any:
    user = current_user_obj()
    return get_or_404(model, record_id, allowed=lambda r: r.user_id == user.id)


def _upload_limit() -> str:
    return current_app.config["UPLOAD_RATE_LIMIT"]


def _limit_mb() -> int:
    return int(current_app.config["UPLOAD_MAX_BYTES"]) // (1024 * 1024)


# --- therapist ------------------------------------------------------------------------------


@bp.route("/licensure")
@therapist_required
def overview() -> Any:
    return render_template(
        "licensure/overview.html",
        overview=services.overview(current_user_obj()),
        today=services.today(),
    )


def _license_values(form: LicenseForm) -> dict[str, Any]:
    from lms.licensure.data import LicenseType

    return {
        "license_type": LicenseType(form.license_type.data),
        "state": form.state.data,
        "number": form.number.data,
        "issued_on": form.issued_on.data,
        "expires_on": form.expires_on.data,
        "npi": form.npi.data or None,
    }


def _insurance_values(form: InsuranceForm) -> dict[str, Any]:
    return {
        "carrier": form.carrier.data,
        "policy_number": form.policy_number.data,
        "per_claim_cents": int(form.per_claim.data or 0) * 100,
        "aggregate_cents": int(form.aggregate.data or 0) * 100,
        "expires_on": form.expires_on.data,
    }


def _save(form: Any, record: Any, kind: str, template: str) -> Any:
    """The shared add/edit flow: check the files, apply the rules, commit once.

    A refused file or rule re-displays the form with what was typed; nothing
    is stored, and what was saved before stays as it was.
    """
    error = None
    status_code = 200
    if form.validate_on_submit():
        stored: list[Document] = []
        try:
            uploads = documents.check_files(request.files.getlist(form.documents.name))
            values = (_license_values if kind == "license" else _insurance_values)(form)
            user = current_user_obj()
            if record is None:
                add = services.add_license if kind == "license" else services.add_insurance
                record = add(user, values, uploads)
                changed = True
            else:
                changed = services.update_record(record, user, values, uploads)
            stored = [d for d in db.session.new if isinstance(d, Document)]
            db.session.commit()
        except documents.UploadRefused as refused:
            db.session.rollback()
            error, status_code = refused.message, 413 if refused.too_large else 422
        except services.LicensureError as refused:
            db.session.rollback()
            documents.discard(stored)
            error, status_code = refused.message, 422
        except StorageError:
            db.session.rollback()
            current_app.logger.exception("could not store an upload")
            error, status_code = "The file could not be saved. Try again in a minute.", 503
        except Exception:
            db.session.rollback()
            documents.discard(stored)
            raise
        else:
            if changed:
                flash("Saved. An admin will verify it; we will e-mail you the result.", "success")
            else:
                flash("Nothing changed.", "info")
            return redirect(url_for("licensure.overview"))
    if form.errors:
        status_code = 422
    return render_template(
        template, form=form, record=record, error=error, limit_mb=_limit_mb()
    ), status_code


@bp.route("/licensure/licenses/new", methods=["GET", "POST"])
@therapist_required
@limiter.limit(_upload_limit, methods=["POST"], key_func=user_or_address)
def add_license() -> Any:
    return _save(LicenseForm(), None, "license", "licensure/license_form.html")


@bp.route("/licensure/licenses/<int:license_id>/edit", methods=["GET", "POST"])
@therapist_required
@limiter.limit(_upload_limit, methods=["POST"], key_func=user_or_address)
def edit_license(license_id: int) -> Any:
    lic = _own(License, license_id)
    form = LicenseForm(obj=lic if request.method == "GET" else None)
    if request.method == "GET":
        form.license_type.data = lic.license_type.value
    return _save(form, lic, "license", "licensure/license_form.html")


@bp.route("/licensure/insurance/new", methods=["GET", "POST"])
@therapist_required
@limiter.limit(_upload_limit, methods=["POST"], key_func=user_or_address)
def add_insurance() -> Any:
    return _save(InsuranceForm(), None, "insurance", "licensure/insurance_form.html")


@bp.route("/licensure/insurance/<int:policy_id>/edit", methods=["GET", "POST"])
@therapist_required
@limiter.limit(_upload_limit, methods=["POST"], key_func=user_or_address)
def edit_insurance(policy_id: int) -> Any:
    policy = _own(InsurancePolicy, policy_id)
    form = InsuranceForm()
    if request.method == "GET":
        form.process(
            data={
                "carrier": policy.carrier,
                "policy_number": policy.policy_number,
                "per_claim": policy.per_claim_cents // 100,
                "aggregate": policy.aggregate_cents // 100,
                "expires_on": policy.expires_on,
            }
        )
    return _save(form, policy, "insurance", "licensure/insurance_form.html")


@bp.route("/licensure/attestation", methods=["GET", "POST"])
@therapist_required
def attestation() -> Any:
    user = current_user_obj()
    form = AttestationForm()
    if request.method == "GET":
        form.signed_on.data = services.today()
    error = None
    if form.validate_on_submit():
        answers = {
            name: getattr(form, name).data == "yes"
            for name in (
                "discipline_history",
                "license_restrictions",
                "felony",
                "impairment",
                "current_coverage",
            )
        }
        answers.update(
            explanation=(form.explanation.data or "").strip() or None,
            signed_name=form.signed_name.data,
            signed_on=form.signed_on.data,
        )
        try:
            services.sign_attestation(user, answers)
        except services.LicensureError as refused:
            db.session.rollback()
            error = refused.message
        else:
            db.session.commit()
            flash("Attestation signed.", "success")
            return redirect(url_for("licensure.overview"))
    return render_template(
        "licensure/attestation.html",
        form=form,
        error=error,
        previous=services.latest_attestation(user.id),
    ), 422 if (form.errors or error) else 200


# --- documents ------------------------------------------------------------------------------


def _may_see_document(document: Document) -> bool:
    return current_user.is_authenticated and (
        current_user.role == Role.ADMIN or document.user_id == current_user.id
    )


@bp.route("/licensure/documents/<int:document_id>")
def document(document_id: int) -> Any:
    """The file, to its owner and to admins only (404 for anyone else). Served with its
    checked type, never as HTML, in a sandbox, so a file cannot run in our origin."""
    doc = get_or_404(Document, document_id, allowed=_may_see_document)
    try:
        data = documents.read(doc)
    except StorageError:
        current_app.logger.exception("stored file missing for document %s", doc.id)
        abort(404)
    disposition = "attachment" if request.args.get("download") else "inline"
    response = current_app.response_class(data, mimetype=doc.content_type)
    response.headers["Content-Disposition"] = f'{disposition}; filename="{doc.original_name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = documents.DOCUMENT_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"  # the admin's review page shows it
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- admin ----------------------------------------------------------------------------------


def _queue(form: QueueFilterForm) -> tuple[bool, str, Any]:
    valid = form.validate()
    kind = form.kind.data if valid and form.kind.data in ("license", "insurance") else "license"
    stmt = services.queue_query(
        kind=kind,
        status=(form.status.data or "awaiting") if valid else "awaiting",
        state=(form.state.data or None) if valid else None,
        license_type=(form.license_type.data or None) if valid else None,
        min_age_days=int(form.age.data) if valid and form.age.data else None,
        search=((form.q.data or "").strip() or None) if valid else None,
    )
    return valid, kind, stmt


@bp.route("/admin/licensure")
@admin_required
def queue() -> Any:
    form = QueueFilterForm(request.args)
    valid, kind, stmt = _queue(form)
    page = paginate(
        db.session, stmt, request.args.get("page", 1, type=int) or 1, current_app.config["PER_PAGE"]
    )
    day = services.today()
    return render_template(
        "admin/licensure_queue.html",
        form=form,
        page=page,
        kind=kind,
        today=day,
        row=lambda r: lists.queue_row(r, day),
    ), 200 if valid else 422


@bp.route("/admin/licensure.csv")
@admin_required
def queue_csv() -> Any:
    form = QueueFilterForm(request.args)
    valid, kind, stmt = _queue(form)
    if not valid:
        return {"error": "Check the filters: " + "; ".join(sum(form.errors.values(), []))}, 422
    day = services.today()
    rows = [lists.queue_row(r, day) for r in db.session.scalars(stmt)]
    columns = lists.LICENSE_QUEUE_COLUMNS if kind == "license" else lists.INSURANCE_QUEUE_COLUMNS
    return audited_csv(f"licensure-{kind}", columns, rows)


def _review(record: Any, endpoint: str) -> Any:
    form = DecisionForm()
    error = None
    if request.method == "GET":
        form.revision.data = str(record.revision)
        form.method.data = f"State board website, checked on {services.today().isoformat()}"
        form.reverify_on.data = services.default_reverify_on()
    elif form.validate_on_submit():
        try:
            services.decide(
                record,
                current_user_obj(),
                form.action.data or "",
                revision=int(form.revision.data or 0),
                method=form.method.data or "",
                message=form.message.data or "",
                reverify_on=form.reverify_on.data,
            )
        except (services.LicensureError, ValueError) as refused:
            db.session.rollback()
            error = getattr(refused, "message", "Reload the page and decide again.")
        else:
            db.session.commit()
            labels = {
                "verify": "verified",
                "reject": "rejected",
                "request_changes": "sent back for changes",
            }
            flash(f"{record.title} {labels[form.action.data or '']}.", "success")
            return redirect(url_for("licensure.queue", kind=record.kind))
    theirs = services.overview(record.user)
    others = [r for r in (*theirs.licenses, *theirs.policies) if r is not record]
    return render_template(
        "admin/licensure_review.html",
        record=record,
        form=form,
        error=error,
        attestation=services.latest_attestation(record.user_id),
        others=others,
        history=services.history(record),
        today=services.today(),
        decidable=record.status in services.DECIDABLE,
        action_url=url_for(endpoint, **{f"{record.kind}_id": record.id}),
    ), 422 if (form.errors or error) else 200


@bp.route("/admin/licensure/licenses/<int:license_id>", methods=["GET", "POST"])
@admin_required
def review_license(license_id: int) -> Any:
    lic = db.session.get(License, license_id, with_for_update=request.method == "POST")
    if lic is None:
        abort(404)
    return _review(lic, "licensure.review_license")


@bp.route("/admin/licensure/insurance/<int:insurance_id>", methods=["GET", "POST"])
@admin_required
def review_insurance(insurance_id: int) -> Any:
    policy = db.session.get(InsurancePolicy, insurance_id, with_for_update=request.method == "POST")
    if policy is None:
        abort(404)
    return _review(policy, "licensure.review_insurance")
