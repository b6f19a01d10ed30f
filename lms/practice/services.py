"""Practice profiles and matching: who may be offered a patient, offers and their answers.

Services flush; the view (or the job) commits once. Every change is in the audit log and the
e-mails go out after the commit; none carries clinical details. ``now`` is a parameter
everywhere so that the rules can be tested with a frozen clock.

Expiry is enforced twice: the periodic job closes offers past their time, and every read or
action first closes the offers that are due (:func:`refresh`), so a late job never lets
anyone accept an expired offer. Closing is a conditional UPDATE, so an offer is expired,
accepted or declined exactly once whoever gets there first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from lms import audit
from lms.accounts.models import User
from lms.certification.services import certified_clause
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.data import state_name
from lms.licensure.models import License, RecordStatus
from lms.licensure.services import holds_verified_license
from lms.mail import external_url, send_email
from lms.practice import matching
from lms.practice.models import MatchOffer, OfferStatus, PracticeProfile
from lms.referrals.models import Referral
from lms.timezones import zone_named

PROFILE_FIELDS = (
    "practice_name",
    "city",
    "state",
    "zip_code",
    "in_person",
    "telehealth",
    "conditions",
    "approaches",
    "other_approaches",
    "languages",
    "fees",
    "accepting_new_clients",
)


class MatchError(Exception):
    """A rule refused the action; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def offer_hours() -> int:
    """How long a partner has to answer an offer."""
    return int(current_app.config.get("PRACTICE_OFFER_HOURS", 72))


def _day(now: datetime) -> Any:
    return now.astimezone(UTC).date()


# --- the partner's profile ------------------------------------------------------------------


def profile_of(user: User) -> PracticeProfile | None:
    return db.session.scalar(select(PracticeProfile).where(PracticeProfile.user_id == user.id))


def save_profile(user: User, values: dict[str, Any]) -> PracticeProfile:
    """Create or update the partner's profile; the audit row names the fields changed."""
    if not (values.get("in_person") or values.get("telehealth")):
        raise MatchError("Say whether you see clients in person, by telehealth, or both.")
    profile = profile_of(user)
    created = profile is None
    if profile is None:
        profile = PracticeProfile(user_id=user.id)
        db.session.add(profile)
    changed = []
    for name in PROFILE_FIELDS:
        value = values.get(name)
        if isinstance(value, str):
            value = value.strip() or None
        if name in ("conditions", "approaches", "languages"):
            value = list(value or [])
        if name in ("in_person", "telehealth", "accepting_new_clients"):
            value = bool(value)
        if getattr(profile, name) != value:
            changed.append(name)
            setattr(profile, name, value)
    profile.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "practice_profile.created" if created else "practice_profile.updated",
        profile,
        actor=user,
        fields=changed,
        accepting_new_clients=profile.accepting_new_clients,
    )
    return profile


# --- who may be offered a patient -----------------------------------------------------------


def _licensed_in(state: str, now: datetime) -> Any:
    return exists().where(
        License.user_id == User.id,
        License.state == state.upper(),
        License.status == RecordStatus.VERIFIED,
        License.expires_on > _day(now),
    )


def open_offer_count_column(now: datetime) -> Any:
    return (
        select(func.count(MatchOffer.id))
        .where(
            MatchOffer.partner_id == User.id,
            MatchOffer.status == OfferStatus.OFFERED,
            MatchOffer.expires_at > now,
        )
        .correlate(User)
        .scalar_subquery()
    )


def eligible_partners_query(state: str, now: datetime) -> Select[Any]:
    """Certified partners with a verified unexpired license in ``state`` whose profile accepts
    new clients, with their number of open offers: one query."""
    return (
        select(User, PracticeProfile, open_offer_count_column(now))
        .join(PracticeProfile, PracticeProfile.user_id == User.id)
        .where(
            certified_clause(now),
            PracticeProfile.accepting_new_clients.is_(True),
            _licensed_in(state, now),
        )
    )


def needs_of(referral: Referral) -> matching.Needs:
    return matching.needs_of(
        referral.conditions,
        referral.modality.value if referral.modality else None,
        referral.language,
        referral.location,
    )


@dataclass
class Match:
    """One partner on the "Find a partner" page."""

    ranked: matching.Ranked
    user: User
    profile: PracticeProfile
    open_offers: int
    earlier: list[MatchOffer]  # this patient's earlier offers to this partner


def candidates(referral: Referral, now: datetime | None = None) -> list[Match]:
    """The partners this patient may be offered to, best first, with the reasons."""
    now = now or utcnow()
    rows = db.session.execute(eligible_partners_query(referral.state, now)).all()
    by_id = {user.id: (user, profile, count or 0) for user, profile, count in rows}
    ranked = matching.rank(
        needs_of(referral),
        (
            matching.Candidate(
                key=user.id,
                name=user.full_name,
                in_person=profile.in_person,
                telehealth=profile.telehealth,
                conditions=frozenset(profile.conditions or ()),
                languages=frozenset(profile.languages or ()),
                city=profile.city,
                zip_code=profile.zip_code,
                open_offers=count,
            )
            for user, profile, count in by_id.values()
        ),
    )
    earlier: dict[int, list[MatchOffer]] = {}
    for offer in offers_for_referral(referral):
        earlier.setdefault(offer.partner_id, []).append(offer)
    out = []
    for r in ranked:
        user, profile, count = by_id[r.candidate.key]
        out.append(Match(r, user, profile, count, earlier.get(user.id, [])))
    return out


# --- offers: reading ------------------------------------------------------------------------


def offers_for_referral(referral: Referral) -> list[MatchOffer]:
    return list(
        db.session.scalars(
            select(MatchOffer)
            .where(MatchOffer.referral_id == referral.id)
            .order_by(MatchOffer.offered_at.desc(), MatchOffer.id.desc())
        )
    )


def open_offer(referral: Referral, now: datetime | None = None) -> MatchOffer | None:
    now = now or utcnow()
    return db.session.scalar(
        select(MatchOffer).where(
            MatchOffer.referral_id == referral.id,
            MatchOffer.status == OfferStatus.OFFERED,
            MatchOffer.expires_at > now,
        )
    )


def partner_offers_query(partner: User) -> Select[tuple[MatchOffer]]:
    """The partner's offers, open ones first, newest first."""
    return (
        select(MatchOffer)
        .where(MatchOffer.partner_id == partner.id)
        .order_by(
            (MatchOffer.status == OfferStatus.OFFERED).desc(),
            MatchOffer.offered_at.desc(),
            MatchOffer.id.desc(),
        )
    )


def _pending_conditions(partner_id: Any, now: Any) -> list[ColumnElement[bool]]:
    return [
        MatchOffer.partner_id == partner_id,
        MatchOffer.status == OfferStatus.OFFERED,
        MatchOffer.expires_at > now,
    ]


def pending_offers(partner: User, now: datetime | None = None) -> list[MatchOffer]:
    """Offers waiting for the partner's answer (not past their expiry), soonest to expire first."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(MatchOffer)
            .where(*_pending_conditions(partner.id, now))
            .order_by(MatchOffer.expires_at, MatchOffer.id)
        )
    )


def pending_offers_count_column() -> Any:
    """How many offers wait for the user's answer, as a subquery correlated to ``users``
    ("now" a parameter): the dashboard reads it with the log-in session."""
    now = bindparam("now", type_=MatchOffer.__table__.c.expires_at.type)
    return (
        select(func.count())
        .select_from(MatchOffer)
        .where(*_pending_conditions(User.id, now))
        .scalar_subquery()
    )


# --- expiry ---------------------------------------------------------------------------------


def _close(offer: MatchOffer, status: OfferStatus, now: datetime, **values: Any) -> bool:
    """Move an open offer to ``status`` unless someone else closed it first."""
    conditions = [MatchOffer.id == offer.id, MatchOffer.status == OfferStatus.OFFERED]
    if status in (OfferStatus.ACCEPTED, OfferStatus.DECLINED):
        conditions.append(MatchOffer.expires_at > now)  # an answer must come in time
    result = db.session.execute(
        update(MatchOffer)
        .where(*conditions)
        .values(status=status, closed_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(offer)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def expire(offer: MatchOffer, now: datetime | None = None) -> bool:
    """Close ``offer`` if it is past its time; tell the clinician who made it. True if closed."""
    now = now or utcnow()
    if offer.status != OfferStatus.OFFERED or offer.expires_at > now:
        return False
    if not _close(offer, OfferStatus.EXPIRED, now):
        return False
    audit.record(
        "match_offer.expired",
        offer,
        actor=None,
        referral_id=offer.referral_id,
        partner_id=offer.partner_id,
    )
    _tell_clinician(offer, "expired")
    db.session.flush()
    return True


def refresh(offer: MatchOffer, now: datetime | None = None) -> MatchOffer:
    """Enforce expiry before ``offer`` is shown or acted on."""
    expire(offer, now)
    return offer


def expire_due(
    now: datetime | None = None,
    referral: Referral | None = None,
    partner: User | None = None,
) -> int:
    """Close every open offer past its time (all, or one referral's or one partner's).
    Returns how many were closed."""
    now = now or utcnow()
    stmt = select(MatchOffer).where(
        MatchOffer.status == OfferStatus.OFFERED, MatchOffer.expires_at <= now
    )
    if referral is not None:
        stmt = stmt.where(MatchOffer.referral_id == referral.id)
    if partner is not None:
        stmt = stmt.where(MatchOffer.partner_id == partner.id)
    due = db.session.scalars(stmt.order_by(MatchOffer.id)).all()
    return sum(expire(offer, now) for offer in due)


# --- offers: acting -------------------------------------------------------------------------


def make_offer(
    referral: Referral, partner_id: int, clinician: User, now: datetime | None = None
) -> MatchOffer:
    """Offer an eligible self-referral to one partner who may take it; e-mail the partner."""
    now = now or utcnow()
    if not referral.awaiting_match:
        raise MatchError(
            "Only an eligible self-referral that no partner has accepted can be offered."
        )
    expire_due(now, referral)
    current = open_offer(referral, now)
    if current is not None:
        raise MatchError(
            f"This patient is already offered to {current.partner.full_name}. Wait for the "
            "answer, or withdraw that offer first."
        )
    match = next((m for m in candidates(referral, now) if m.user.id == partner_id), None)
    if match is None:
        raise MatchError(
            "That partner cannot take this patient now: only certified partners with a "
            f"verified license in {state_name(referral.state)} who accept new clients can."
        )
    offer = MatchOffer(
        referral_id=referral.id,
        partner_id=match.user.id,
        offered_by_id=clinician.id,
        status=OfferStatus.OFFERED,
        offered_at=now,
        expires_at=now + timedelta(hours=offer_hours()),
    )
    try:
        with db.session.begin_nested():
            db.session.add(offer)
            db.session.flush()
    except IntegrityError:
        raise MatchError(
            "Someone offered this patient to a partner a moment ago. Reload the page."
        ) from None
    audit.record(
        "match_offer.made",
        offer,
        actor=clinician,
        referral_id=referral.id,
        partner_id=match.user.id,
        rank=match.ranked.position,
        points=match.ranked.points,
    )
    partner = match.user
    send_email(
        partner.email,
        "A patient match is waiting for your answer",
        "practice_offer_made",
        reason="You receive this e-mail because your practice profile accepts new clients "
        "from the network.",
        user=partner,
        answer_by=_in_zone(offer.expires_at, partner),
        link=external_url("practice.offer", offer_id=offer.id),
    )
    return offer


def _closed_message(offer: MatchOffer) -> str:
    return {
        OfferStatus.ACCEPTED: "You have already accepted this offer.",
        OfferStatus.DECLINED: "You have already declined this offer.",
        OfferStatus.EXPIRED: "This offer expired before an answer came; it can no longer be "
        "accepted. The medical team has been told.",
        OfferStatus.WITHDRAWN: "The medical team withdrew this offer.",
    }.get(offer.status, "This offer is no longer open.")


def accept_offer(offer: MatchOffer, partner: User, now: datetime | None = None) -> Referral:
    """The partner takes the patient: the referral becomes theirs."""
    now = now or utcnow()
    refresh(offer, now)
    if offer.partner_id != partner.id:
        raise MatchError("This offer is not yours.")
    if offer.status != OfferStatus.OFFERED:
        raise MatchError(_closed_message(offer))
    referral = offer.referral
    if not holds_verified_license(partner, referral.state, _day(now)):
        raise MatchError(
            f"You no longer hold a verified license in {state_name(referral.state)}, "
            "so you cannot take this patient."
        )
    if not _close(offer, OfferStatus.ACCEPTED, now, responded_at=now):
        raise MatchError(_closed_message(offer))
    taken = db.session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.therapist_id.is_(None))
        .values(therapist_id=partner.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise MatchError("Another partner has already taken this patient.")
    db.session.refresh(referral)
    audit.record(
        "match_offer.accepted",
        offer,
        actor=partner,
        referral_id=referral.id,
        partner_id=partner.id,
    )
    db.session.flush()
    _tell_clinician(offer, "accepted")
    profile = profile_of(partner)
    send_email(
        referral.email,
        "Your therapist in the network",
        "practice_patient_matched",
        reason="You receive this e-mail because you asked the network for care and agreed "
        "to be contacted.",
        patient_name=referral.patient_name,
        therapist_name=partner.full_name,
        practice_name=profile.practice_name if profile else None,
        place=profile.place if profile else None,
    )
    send_email(
        partner.email,
        f"Referral #{referral.id} is now yours",
        "practice_match_confirmed",
        reason="You receive this e-mail because you accepted a patient match.",
        user=partner,
        referral_id=referral.id,
        initials=referral.patient_initials,
        link=external_url("referrals.detail", referral_id=referral.id),
    )
    return referral


def decline_offer(
    offer: MatchOffer, partner: User, reason: str | None = None, now: datetime | None = None
) -> MatchOffer:
    """The partner says no; the clinician who offered is told and offers someone else."""
    now = now or utcnow()
    refresh(offer, now)
    if offer.partner_id != partner.id:
        raise MatchError("This offer is not yours.")
    if offer.status != OfferStatus.OFFERED:
        raise MatchError(_closed_message(offer))
    reason = (reason or "").strip() or None
    if not _close(offer, OfferStatus.DECLINED, now, responded_at=now, decline_reason=reason):
        raise MatchError(_closed_message(offer))
    audit.record(
        "match_offer.declined",
        offer,
        actor=partner,
        referral_id=offer.referral_id,
        partner_id=partner.id,
        reason_given=bool(reason),
    )
    db.session.flush()
    _tell_clinician(offer, "declined")
    return offer


def withdraw_offer(offer: MatchOffer, clinician: User, now: datetime | None = None) -> MatchOffer:
    """The medical team takes an open offer back (the partner's page then says so)."""
    now = now or utcnow()
    refresh(offer, now)
    if offer.status != OfferStatus.OFFERED:
        raise MatchError("This offer is no longer open; there is nothing to withdraw.")
    if not _close(offer, OfferStatus.WITHDRAWN, now):
        raise MatchError("This offer is no longer open; there is nothing to withdraw.")
    audit.record(
        "match_offer.withdrawn",
        offer,
        actor=clinician,
        referral_id=offer.referral_id,
        partner_id=offer.partner_id,
    )
    db.session.flush()
    return offer


# --- e-mail helpers -------------------------------------------------------------------------


def _in_zone(value: datetime, user: User) -> str:
    local = value.astimezone(zone_named(user.timezone))
    return f"{local.strftime('%B %-d, %Y at %-I:%M %p')} {local.tzname()}"


SUBJECTS = {
    "accepted": "Offer accepted: referral #{referral_id} has a therapist",
    "declined": "Offer declined: find another partner for referral #{referral_id}",
    "expired": "Offer expired: find another partner for referral #{referral_id}",
}


def _tell_clinician(offer: MatchOffer, outcome: str) -> None:
    """The clinician who made the offer learns its outcome; no clinical details."""
    clinician = offer.offered_by
    if clinician is None or not clinician.is_active:
        return
    link = (
        external_url("referrals.review", referral_id=offer.referral_id)
        if outcome == "accepted"
        else external_url("practice.match", referral_id=offer.referral_id)
    )
    send_email(
        clinician.email,
        SUBJECTS[outcome].format(referral_id=offer.referral_id),
        f"practice_offer_{outcome}",
        reason="You receive this e-mail because you offered this patient to a partner.",
        user=clinician,
        offer_id=offer.id,
        referral_id=offer.referral_id,
        partner_name=offer.partner.full_name,
        link=link,
    )
