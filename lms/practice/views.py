"""Practice profile, public intake and matching pages.

Partners (``certified_required``): their practice profile and the offers made to them; an
offer shows no name or contact detail until it is accepted. The public (``public``, rate
limited, honeypot and minimum fill time): the "get care" form. Clinicians and admins
(``staff_required``): the ranked partners for an eligible self-referral, offers, withdrawal.
Every partner view of an offer and every staff view of a self-referral is audited.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from lms import audit
from lms.accounts import sessions
from lms.accounts.models import Role
from lms.auth import current_user_obj, get_or_404, public, staff_required
from lms.certification.guard import certified_required
from lms.db import Page, paginate, utcnow
from lms.extensions import db, limiter
from lms.licensure.data import state_name
from lms.licensure.services import verified_license_states
from lms.practice import intake, services
from lms.practice.forms import ConfirmForm, DeclineForm, IntakeForm, OfferForm, ProfileForm
from lms.practice.models import MatchOffer
from lms.referrals import services as referral_services
from lms.referrals.models import Referral, ReferralSource

bp = Blueprint("practice", __name__)

PER_PAGE = 20


def _intake_limit() -> str:
    return str(current_app.config.get("INTAKE_RATE_LIMIT", "5 per hour"))


PENDING_OFFERS = "pending_offers"  # the dashboard's session rider: how many offers wait

# On the dashboard (where the notice is), the number of offers waiting for the partner is
# read with the log-in session: most partners have none, and then the notice costs no
# statement of its own.
sessions.load_with_session_on(
    PENDING_OFFERS,
    sessions.PageRider.on_page(
        "main.dashboard",
        services.pending_offers_count_column,
        params=lambda now: {"now": now},
    ),
)


@bp.app_context_processor
def _pending_offers() -> dict[str, Any]:
    """``pending_match_offers()`` for the partner's dashboard notice: queried only if used,
    only for therapists (nobody else receives offers), and once per render."""

    @functools.cache
    def pending() -> list[MatchOffer]:
        if not current_user.is_authenticated or current_user.role != Role.THERAPIST:
            return []
        user = current_user_obj()
        if sessions.loaded(PENDING_OFFERS, user.id) == 0:  # read with the session: none
            return []
        return services.pending_offers(user)

    return {"pending_match_offers": pending}


# --- partners -------------------------------------------------------------------------------


@bp.route("/practice/profile", methods=["GET", "POST"])
@certified_required
def profile() -> Any:
    user = current_user_obj()
    existing = services.profile_of(user)
    form = ProfileForm(obj=existing) if existing else ProfileForm()
    if request.method == "GET" and existing is None:
        form.accepting_new_clients.data = True
        form.languages.data = ["en"]
    error = None
    if form.validate_on_submit():
        try:
            services.save_profile(user, form.data)
        except services.MatchError as refused:
            db.session.rollback()
            error = refused.message
        else:
            db.session.commit()
            flash("Your practice profile is saved.", "success")
            return redirect(url_for("practice.profile"))
    return render_template(
        "practice/profile.html",
        form=form,
        profile=existing,
        states=verified_license_states(user),
        error=error,
    ), (422 if (form.errors or error) else 200)


@bp.route("/practice/offers")
@certified_required
def offers() -> Any:
    user = current_user_obj()
    now = utcnow()
    services.expire_due(now, partner=user)
    page = paginate(
        db.session,
        services.partner_offers_query(user),
        request.args.get("page", 1, type=int),
        PER_PAGE,
    )
    audit.record("match_offer.list_viewed", offer_ids=[o.id for o in page.items])
    db.session.commit()
    return render_template("practice/offers.html", page=page, now=now)


def _own_offer_or_404(offer_id: int) -> MatchOffer:
    user = current_user_obj()
    return get_or_404(MatchOffer, offer_id, allowed=lambda o: o.partner_id == user.id)


def _render_offer(
    offer: MatchOffer, decline_form: DeclineForm | None = None, error: str = ""
) -> Any:
    audit.record("match_offer.viewed", offer, referral_id=offer.referral_id)
    db.session.commit()
    return render_template(
        "practice/offer.html",
        offer=offer,
        referral=offer.referral,
        state=state_name(offer.referral.state),
        accept_form=ConfirmForm(formdata=None),
        decline_form=decline_form or DeclineForm(formdata=None),
        error=error,
    ), (422 if error or (decline_form and decline_form.errors) else 200)


@bp.route("/practice/offers/<int:offer_id>")
@certified_required
def offer(offer_id: int) -> Any:
    offer = _own_offer_or_404(offer_id)
    services.refresh(offer, utcnow())
    return _render_offer(offer)


@bp.route("/practice/offers/<int:offer_id>/accept", methods=["POST"])
@certified_required
def accept(offer_id: int) -> Any:
    offer = _own_offer_or_404(offer_id)
    # Close it first if it is past its time, and keep that even if the answer is refused.
    services.refresh(offer, utcnow())
    db.session.commit()
    if ConfirmForm().validate_on_submit():
        try:
            referral = services.accept_offer(offer, current_user_obj(), utcnow())
        except services.MatchError as refused:
            db.session.rollback()
            return _render_offer(offer, error=refused.message)
        db.session.commit()
        flash(
            f"You accepted the match. Referral #{referral.id} is now among your referrals; "
            "please contact the patient.",
            "success",
        )
        return redirect(url_for("referrals.detail", referral_id=referral.id))
    return _render_offer(offer, error="The form expired. Try again.")


@bp.route("/practice/offers/<int:offer_id>/decline", methods=["POST"])
@certified_required
def decline(offer_id: int) -> Any:
    offer = _own_offer_or_404(offer_id)
    services.refresh(offer, utcnow())
    db.session.commit()
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            services.decline_offer(offer, current_user_obj(), form.reason.data, utcnow())
        except services.MatchError as refused:
            db.session.rollback()
            return _render_offer(offer, decline_form=form, error=refused.message)
        db.session.commit()
        flash("You declined the offer. The medical team will offer the patient elsewhere.", "info")
        return redirect(url_for("practice.offers"))
    return _render_offer(offer, decline_form=form)


# --- the public intake ----------------------------------------------------------------------


def _render_intake(form: IntakeForm, error: str | None = None, status: int = 200) -> Any:
    if not form.started.data:
        form.started.data = intake.started_token()
    return render_template("practice/get_care.html", form=form, error=error), status


@bp.route("/get-care", methods=["GET", "POST"])
@public
@limiter.limit(_intake_limit, methods=["POST"])
def get_care() -> Any:
    form = IntakeForm()
    if request.method == "GET":
        return _render_intake(form)
    verdict = intake.verdict(form.website.data, form.started.data)
    if verdict == intake.Verdict.BOT:
        # Answer as if it worked, so the bot learns nothing; nothing is saved or sent.
        current_app.logger.info("get-care: honeypot filled, submission dropped")
        return redirect(url_for("practice.get_care_thanks"))
    if not form.validate_on_submit():
        return _render_intake(form, status=422)
    if verdict == intake.Verdict.TOO_FAST:
        if intake.seconds_since(form.started.data) is None:
            form.started.data = intake.started_token()  # missing or forged: start the clock
        return _render_intake(
            form,
            error="Please take a moment to check your answers, then send the form again.",
            status=422,
        )
    try:
        referral_services.create_self_referral(form.data)
    except referral_services.ReferralError as refused:
        db.session.rollback()
        return _render_intake(form, error=refused.message, status=422)
    db.session.commit()
    return redirect(url_for("practice.get_care_thanks"))


@bp.route("/get-care/thanks")
@public
def get_care_thanks() -> Any:
    return render_template("practice/get_care_thanks.html")


# --- clinicians and admins ------------------------------------------------------------------


def _self_referral_or_404(referral_id: int) -> Referral:
    return get_or_404(Referral, referral_id, allowed=lambda r: r.source == ReferralSource.SELF)


def _render_match(referral: Referral, error: str | None = None) -> Any:
    now = utcnow()
    services.expire_due(now, referral)
    current = services.open_offer(referral, now)
    matches = services.candidates(referral, now) if referral.awaiting_match else []
    number = max(1, request.args.get("page", 1, type=int))
    last = max(1, -(-len(matches) // PER_PAGE))
    number = min(number, last)
    page = Page(
        items=matches[(number - 1) * PER_PAGE : number * PER_PAGE],
        page=number,
        per_page=PER_PAGE,
        total=len(matches),
    )
    audit.record("referral.match_viewed", referral, listed=len(matches))
    db.session.commit()
    return render_template(
        "practice/match.html",
        referral=referral,
        state=state_name(referral.state),
        page=page,
        current=current,
        history=services.offers_for_referral(referral),
        offer_form=OfferForm(formdata=None),
        withdraw_form=ConfirmForm(formdata=None),
        error=error,
    ), (422 if error else 200)


@bp.route("/clinical/referrals/<int:referral_id>/match")
@staff_required
def match(referral_id: int) -> Any:
    return _render_match(_self_referral_or_404(referral_id))


@bp.route("/clinical/referrals/<int:referral_id>/offers", methods=["POST"])
@staff_required
def make_offer(referral_id: int) -> Any:
    referral = _self_referral_or_404(referral_id)
    form = OfferForm()
    if not form.validate_on_submit():
        return _render_match(referral, error="Choose a partner from the list.")
    try:
        offer = services.make_offer(referral, form.partner_id.data, current_user_obj(), utcnow())
    except services.MatchError as refused:
        db.session.rollback()
        return _render_match(referral, error=refused.message)
    db.session.commit()
    flash(
        f"Offered to {offer.partner.full_name}. We e-mailed them; the offer is open for "
        f"{services.offer_hours()} hours.",
        "success",
    )
    return redirect(url_for("referrals.review", referral_id=referral.id))


@bp.route("/clinical/offers/<int:offer_id>/withdraw", methods=["POST"])
@staff_required
def withdraw(offer_id: int) -> Any:
    offer = get_or_404(MatchOffer, offer_id, allowed=lambda o: True)
    referral = offer.referral
    if ConfirmForm().validate_on_submit():
        try:
            services.withdraw_offer(offer, current_user_obj(), utcnow())
        except services.MatchError as refused:
            db.session.rollback()
            return _render_match(referral, error=refused.message)
        db.session.commit()
        flash(f"The offer to {offer.partner.full_name} is withdrawn.", "success")
    return redirect(url_for("practice.match", referral_id=referral.id))
