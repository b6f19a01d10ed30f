"""Outcome tracking pages (partner tools): the summary, a patient's trend, the questionnaires.

Every route is for certified therapists, and every object is checked: a referral, or a
measurement of a referral, that is not the therapist's answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from lms.auth import current_user_obj, get_or_404
from lms.certification.guard import certified_required
from lms.db import page_of
from lms.extensions import db
from lms.outcomes import chart, scoring, services
from lms.outcomes.forms import DeleteForm, PatientSearchForm, QuestionnaireForm, form_class
from lms.outcomes.models import InstrumentKind, Measurement
from lms.referrals.models import Referral

bp = Blueprint("outcomes", __name__)


def _own_referral_or_404(referral_id: int) -> Referral:
    user = current_user_obj()
    return get_or_404(Referral, referral_id, allowed=lambda r: services.can_view_referral(user, r))


def _own_measurement_or_404(measurement_id: int, *, change: bool = False) -> Measurement:
    user = current_user_obj()
    check = services.can_change_measurement if change else services.can_view_measurement
    return get_or_404(Measurement, measurement_id, allowed=lambda m: check(user, m))


def _instrument_or_404(key: str | None) -> InstrumentKind:
    try:
        return InstrumentKind(key or "")
    except ValueError:
        abort(404)


def _questionnaire(kind: InstrumentKind, referral: Referral, **kwargs: Any) -> QuestionnaireForm:
    form = form_class(kind.value)(**kwargs)
    form.referral = referral
    form.today = services.local_today(current_user_obj())
    return form


@bp.route("/outcomes")
@certified_required
def index() -> Any:
    user = current_user_obj()
    form = PatientSearchForm(request.args)
    search = form.q.data if form.validate() else None
    # Every patient's scores, read once for the summary and the page's rows alike: their
    # totals, not their (encrypted) answers, but for the latest PHQ-9 of the rows shown.
    everyone = services.summary_outcomes(services.patients(user), user)
    by_referral = {row.referral.id: row for row in everyone}
    page = page_of(
        services.named((row.referral for row in everyone), search),
        request.args.get("page", 1, type=int),
        current_app.config["PER_PAGE"],
    )
    rows = [by_referral[r.id] for r in page.items]
    services.read_safety_answers(rows)
    return render_template(
        "outcomes/index.html",
        form=form,
        page=page,
        rows=rows,
        overview=services.overview(user, everyone),
    )


@bp.route("/outcomes/patients/<int:referral_id>")
@certified_required
def patient(referral_id: int) -> Any:
    user = current_user_obj()
    referral = _own_referral_or_404(referral_id)
    outcomes = services.outcomes_for([referral], user)[0]
    return render_template(
        "outcomes/patient.html",
        referral=referral,
        outcomes=outcomes,
        chart=chart.build(outcomes.progress),
        chart_description=chart.describe(outcomes.progress),
        instruments=list(InstrumentKind),
    )


@bp.route("/outcomes/patients/<int:referral_id>/new", methods=["GET", "POST"])
@certified_required
def new(referral_id: int) -> Any:
    user = current_user_obj()
    referral = _own_referral_or_404(referral_id)
    kind = _instrument_or_404(request.args.get("instrument"))
    form = _questionnaire(kind, referral)
    if request.method == "GET":
        form.administered_on.data = form.today
    error = None
    if form.validate_on_submit():
        try:
            row = services.record_measurement(
                referral, kind, form.answers, form.administered_on.data, user
            )
        except services.OutcomeError as refused:
            db.session.rollback()
            error = refused.message
        else:
            db.session.commit()
            flash(f"{kind.label} saved for {referral.patient_name}.", "success")
            return redirect(url_for("outcomes.measurement", measurement_id=row.id))
    return render_template(
        "outcomes/questionnaire.html",
        referral=referral,
        form=form,
        spec=kind.spec,
        answers=scoring.ANSWERS,
        measurement=None,
        error=error,
    ), (422 if (form.errors or error) else 200)


@bp.route("/outcomes/measurements/<int:measurement_id>")
@certified_required
def measurement(measurement_id: int) -> Any:
    row = _own_measurement_or_404(measurement_id)
    outcomes = services.outcomes_for([row.referral], current_user_obj())[0]
    full = outcomes.gad7 if row.instrument == InstrumentKind.GAD7 else outcomes.phq9
    # Where the patient stood when this questionnaire was completed (not necessarily now).
    at_this_point = scoring.progress(
        row.spec, [s for s in full.scores if s.order <= row.score.order]
    )
    return render_template(
        "outcomes/measurement.html",
        measurement=row,
        referral=row.referral,
        progress=at_this_point,
        delete_form=DeleteForm(formdata=None),
    )


@bp.route("/outcomes/measurements/<int:measurement_id>/edit", methods=["GET", "POST"])
@certified_required
def edit(measurement_id: int) -> Any:
    user = current_user_obj()
    row = _own_measurement_or_404(measurement_id, change=True)
    referral = row.referral
    if request.method == "GET":
        data = {f"item{n}": value for n, value in enumerate(row.answers, start=1)}
        form = _questionnaire(row.instrument, referral, data=data)
        form.administered_on.data = row.administered_on
    else:
        form = _questionnaire(row.instrument, referral)
    error = None
    if form.validate_on_submit():
        try:
            changed = services.correct_measurement(
                row, form.answers, form.administered_on.data, user
            )
        except services.OutcomeError as refused:
            db.session.rollback()
            error = refused.message
        else:
            db.session.commit()
            flash(
                f"{row.instrument.label} corrected." if changed else "Nothing was changed.",
                "success" if changed else "info",
            )
            return redirect(url_for("outcomes.measurement", measurement_id=row.id))
    return render_template(
        "outcomes/questionnaire.html",
        referral=referral,
        form=form,
        spec=row.spec,
        answers=scoring.ANSWERS,
        measurement=row,
        error=error,
    ), (422 if (form.errors or error) else 200)


@bp.route("/outcomes/measurements/<int:measurement_id>/delete", methods=["POST"])
@certified_required
def delete(measurement_id: int) -> Any:
    user = current_user_obj()
    row = _own_measurement_or_404(measurement_id, change=True)
    referral_id, label = row.referral_id, row.instrument.label
    if not DeleteForm().validate_on_submit():
        abort(400)
    services.delete_measurement(row, user)
    db.session.commit()
    flash(f"The {label} measurement was deleted.", "success")
    return redirect(url_for("outcomes.patient", referral_id=referral_id))
