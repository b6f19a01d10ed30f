"""Referral pages: the therapist's own referrals (partner tools) and the clinicians' pipeline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload, load_only

from lms import audit
from lms.auth import current_user_obj, get_or_404, staff_required
from lms.certification.guard import certified_required
from lms.crypto import matches_words_or_number
from lms.db import paginate, utcnow
from lms.extensions import db
from lms.forms import choices
from lms.practice import services as matching
from lms.practice.forms import ConfirmForm
from lms.referrals import services
from lms.referrals.forms import (
    NoteForm,
    OwnReferralFilterForm,
    ReferralFilterForm,
    ReferralForm,
    StatusForm,
)
from lms.referrals.models import EventKind, Referral, ReferralSource, ReferralStatus

bp = Blueprint("referrals", __name__)

PER_PAGE = 25


def _own_referral_or_404(referral_id: int) -> Referral:
    user = current_user_obj()
    return get_or_404(Referral, referral_id, allowed=lambda r: r.therapist_id == user.id)


# --- therapist ------------------------------------------------------------------------------


@bp.route("/referrals")
@certified_required
def index() -> Any:
    user = current_user_obj()
    form = OwnReferralFilterForm(request.args)
    valid = form.validate()
    stmt = (
        select(Referral)
        .where(Referral.therapist_id == user.id)
        # What the list shows: the other encrypted columns stay unread (each is a decryption).
        .options(
            load_only(
                Referral.id,
                Referral.therapist_id,
                Referral.source,
                Referral.patient_name,
                Referral.state,
                Referral.status,
                Referral.created_at,
            )
        )
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    )
    text = (form.q.data or "").strip() if valid else ""
    if text:
        stmt = stmt.where(_search_condition(text))
    if valid and form.status.data:
        stmt = stmt.where(Referral.status == ReferralStatus(form.status.data))
    page = paginate(db.session, stmt, request.args.get("page", 1, type=int), PER_PAGE)
    # Whether the partner has referred anyone at all (the empty page says how to start).
    anyone = bool(page.total) or (
        bool(text or form.status.data)
        and db.session.scalar(select(Referral.id).where(Referral.therapist_id == user.id).limit(1))
        is not None
    )
    html = render_template("referrals/index.html", form=form, page=page, anyone=anyone)
    return html, (200 if valid else 422)


def _search_condition(text: str) -> Any:
    """A referral whose patient's name has these whole words, or (``123``, ``#123``) its
    number."""
    return matches_words_or_number(Referral.search_terms, Referral.id, text)


@bp.route("/referrals/new", methods=["GET", "POST"])
@certified_required
def new() -> Any:
    user = current_user_obj()
    form = ReferralForm()
    error = None
    if form.validate_on_submit():
        try:
            referral = services.create_referral(user, form.data)
        except services.ReferralError as refused:
            db.session.rollback()
            error = refused.message
        else:
            db.session.commit()
            flash(f"Referral #{referral.id} sent to the medical team.", "success")
            return redirect(url_for("referrals.detail", referral_id=referral.id))
    return render_template("referrals/new.html", form=form, error=error), (
        422 if (form.errors or error) else 200
    )


@bp.route("/referrals/<int:referral_id>")
@certified_required
def detail(referral_id: int) -> Any:
    referral = _own_referral_or_404(referral_id)
    history = [e for e in referral.events if e.kind == EventKind.STATUS]
    return render_template("referrals/detail.html", referral=referral, history=history)


# --- clinicians -----------------------------------------------------------------------------


@bp.route("/clinical/referrals")
@staff_required
def pipeline() -> Any:
    form = ReferralFilterForm(request.args)
    stmt = (
        select(Referral)
        # Each row names its therapist: read with the rows, not one query a row.
        .options(joinedload(Referral.therapist))
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    )
    valid = form.validate()
    status = form.status.data if valid else None
    source = form.source.data if valid else None
    text = (form.q.data or "").strip() if valid else ""
    if text:
        stmt = stmt.where(_search_condition(text))
    if status:
        stmt = stmt.where(Referral.status == ReferralStatus(status))
    if source == "awaiting_match":
        stmt = stmt.where(
            Referral.source == ReferralSource.SELF,
            Referral.status == ReferralStatus.ELIGIBLE,
            Referral.therapist_id.is_(None),
        )
    elif source:
        stmt = stmt.where(Referral.source == ReferralSource(source))
    page = paginate(db.session, stmt, request.args.get("page", 1, type=int), PER_PAGE)
    return render_template("referrals/pipeline.html", form=form, page=page)


def _status_form(referral: Referral, formdata: Any = None) -> StatusForm:
    form = StatusForm(formdata=formdata) if formdata is not None else StatusForm()
    form.status.choices = choices(
        [("", "Choose"), *((s.value, s.label) for s in referral.allowed_next)]
    )
    return form


def _render_review(
    referral: Referral,
    status_form: StatusForm | None = None,
    note_form: NoteForm | None = None,
    error: str | None = None,
) -> Any:
    offers, current = [], None
    if referral.is_self_referral:
        # Offers past their time are closed before anyone reads them.
        now = utcnow()
        matching.expire_due(now, referral)
        offers = matching.offers_for_referral(referral)
        current = matching.open_offer(referral, now)
    # Every staff view of a referral is in the audit log, including re-renders after a POST.
    audit.record("referral.viewed", referral, source=referral.source.value)
    db.session.commit()
    return render_template(
        "referrals/review.html",
        referral=referral,
        status_form=status_form or _status_form(referral),
        note_form=note_form or NoteForm(formdata=None),
        offers=offers,
        current_offer=current,
        withdraw_form=ConfirmForm(formdata=None),
        error=error,
    ), (
        422
        if error or (status_form and status_form.errors) or (note_form and note_form.errors)
        else 200
    )


@bp.route("/clinical/referrals/<int:referral_id>")
@staff_required
def review(referral_id: int) -> Any:
    referral = get_or_404(Referral, referral_id, allowed=lambda r: True)
    return _render_review(referral)


@bp.route("/clinical/referrals/<int:referral_id>/status", methods=["POST"])
@staff_required
def change_status(referral_id: int) -> Any:
    referral = get_or_404(Referral, referral_id, allowed=lambda r: True)
    form = _status_form(referral, request.form)
    if form.validate_on_submit():
        try:
            services.change_status(referral, form.status.data, current_user_obj(), form.reason.data)
        except services.ReferralError as refused:
            db.session.rollback()
            return _render_review(referral, status_form=form, error=refused.message)
        db.session.commit()
        flash(f"Referral #{referral.id} is now {referral.status.label.lower()}.", "success")
        return redirect(url_for("referrals.review", referral_id=referral.id))
    return _render_review(referral, status_form=form)


@bp.route("/clinical/referrals/<int:referral_id>/notes", methods=["POST"])
@staff_required
def add_note(referral_id: int) -> Any:
    referral = get_or_404(Referral, referral_id, allowed=lambda r: True)
    form = NoteForm()
    if form.validate_on_submit():
        services.add_note(referral, current_user_obj(), form.body.data)
        db.session.commit()
        flash("Note added.", "success")
        return redirect(url_for("referrals.review", referral_id=referral.id))
    return _render_review(referral, note_form=form)
