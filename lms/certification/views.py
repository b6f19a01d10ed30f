"""Certification pages: the partner agreement and the partner tools hub."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from lms import audit
from lms.accounts.models import Role
from lms.auth import current_user_obj, role_required
from lms.certification import agreements, services
from lms.certification.forms import AgreementForm
from lms.certification.guard import certified_required
from lms.extensions import db
from lms.training.content import render_lesson

bp = Blueprint("certification", __name__)


@bp.route("/agreement", methods=["GET", "POST"])
@role_required(Role.THERAPIST)
def agreement() -> Any:
    """Read the current partner agreement and accept it by typing one's full name."""
    user = current_user_obj()
    current = agreements.current()
    if current is None:
        abort(404)
    form = AgreementForm()
    error = None
    if form.validate_on_submit():
        try:
            services.accept_agreement(
                user, form.version.data, form.full_name.data, audit.client_ip()
            )
        except services.AgreementRefused as refused:
            db.session.rollback()
            error = refused.message
        else:
            db.session.commit()
            flash(f"Thank you. You accepted the partner agreement, {current.label}.", "success")
            return redirect(url_for("main.dashboard", _anchor="certification"))
    form.version.data = current.version
    return render_template(
        "certification/agreement.html",
        form=form,
        error=error,
        agreement=current,
        body_html=render_lesson(current.body, ""),
        acceptance=services.accepted(user, current.version),
        earlier=services.latest_acceptance(user),
    ), 422 if (form.errors or error) else 200


@bp.route("/tools")
@certified_required
def tools() -> Any:
    """The partner tools hub: what a certified partner can use now and what is coming."""
    return render_template("certification/tools.html")
