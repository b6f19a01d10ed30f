"""The pages: the partner's profile and offers, the clinicians' "Find a partner", and who
may see what (a partner sees no patient details before accepting; every view is audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, update

from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.practice import services
from lms.practice.models import MatchOffer, OfferStatus, PracticeProfile
from lms.referrals.models import Referral
from tests.practice.conftest import PATIENT_EMAIL, PATIENT_NAME, PATIENT_PHONE

PROFILE_FORM = {
    "practice_name": "Aspen Therapy",
    "city": "Boulder",
    "state": "CO",
    "zip_code": "80302",
    "telehealth": "y",
    "conditions": ["ptsd", "ocd"],
    "approaches": ["emdr"],
    "other_approaches": "Narrative therapy",
    "languages": ["en", "es"],
    "fees": "$150",
    "accepting_new_clients": "y",
}


def _audited(action: str, actor_id: int, object_id: int | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.actor_id == actor_id)
    )
    if object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == str(object_id))
    return db.session.scalar(stmt)


@pytest.fixture
def offered(make_partner, make_eligible, make_user):
    clinician = make_user("clinician", full_name="Cal Clinician")
    partner = make_partner(full_name="Pat Partner")
    referral = make_eligible(clinician)
    offer = services.make_offer(referral, partner.id, clinician)
    db.session.commit()
    return clinician, partner, referral, offer


# --- the partner's profile ----------------------------------------------------------------


def test_a_partner_writes_a_profile(client, make_certified, login) -> None:
    user = make_certified()
    login(user)
    page = client.get("/practice/profile")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Clinicians cannot suggest you" in html
    assert '<span class="badge">CO</span>' in html  # from the verified license
    response = client.post("/practice/profile", data=PROFILE_FORM)
    assert response.status_code == 302
    profile = db.session.scalars(select(PracticeProfile)).one()
    assert profile.user_id == user.id and profile.city == "Boulder"
    assert profile.in_person is False and profile.telehealth is True
    assert profile.conditions == ["ptsd", "ocd"] and profile.languages == ["en", "es"]
    assert profile.accepting_new_clients is True
    assert _audited("practice_profile.created", user.id) == 1
    assert "Clinicians see your profile" in client.get("/practice/profile").get_data(as_text=True)
    # Update: not accepting any more.
    data = {k: v for k, v in PROFILE_FORM.items() if k != "accepting_new_clients"}
    assert client.post("/practice/profile", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.scalars(select(PracticeProfile)).one().accepting_new_clients is False
    assert _audited("practice_profile.updated", user.id) == 1


def test_profile_mistakes_are_shown_and_kept(client, make_certified, login) -> None:
    login(make_certified())
    data = {**PROFILE_FORM, "telehealth": None, "conditions": [], "zip_code": "80x"}
    data = {k: v for k, v in data.items() if v is not None}
    response = client.post("/practice/profile", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose in person, telehealth, or both." in html
    assert "Choose at least one condition you work with." in html
    assert "Enter a 5-digit ZIP code." in html
    assert 'value="Aspen Therapy"' in html
    assert db.session.scalar(select(func.count()).select_from(PracticeProfile)) == 0


# --- the partner's offers -----------------------------------------------------------------


def test_the_offer_shows_no_patient_details_until_accepted(client, login, offered, mail) -> None:
    clinician, partner, referral, offer = offered
    login(partner)
    listing = client.get("/practice/offers").get_data(as_text=True)
    assert f"Offer #{offer.id}" in listing and "Waiting for an answer" in listing
    page = client.get(f"/practice/offers/{offer.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in (
        "Colorado",
        "35 to 44",
        "Panic and Depression",
        "In person or telehealth",
        "Denver",
        "English",
    ):
        assert shown in html, shown
    for hidden in (PATIENT_NAME, "Robin", PATIENT_EMAIL, PATIENT_PHONE, "Referral #"):
        assert hidden not in html, hidden
    assert f"/referrals/{referral.id}" not in html
    assert _audited("match_offer.viewed", partner.id, offer.id) == 1
    assert _audited("match_offer.list_viewed", partner.id) == 1
    # The referral itself stays hidden until the offer is accepted.
    assert client.get(f"/referrals/{referral.id}").status_code == 404
    assert PATIENT_NAME not in client.get("/referrals").get_data(as_text=True)

    response = client.post(f"/practice/offers/{offer.id}/accept")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/referrals/{referral.id}")
    detail = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert PATIENT_NAME in detail and PATIENT_PHONE in detail
    assert "The network matched this patient with you" in detail
    assert PATIENT_NAME in client.get("/referrals").get_data(as_text=True)
    after = client.get(f"/practice/offers/{offer.id}").get_data(as_text=True)
    assert f"Open referral #{referral.id}" in after
    assert _audited("match_offer.viewed", partner.id, offer.id) == 2


def test_accepting_after_expiry_is_refused_on_the_page(client, login, offered, mail) -> None:
    clinician, partner, referral, offer = offered
    mail.clear()
    with freeze_time(utcnow() + timedelta(hours=73)):
        login(partner)  # a session from three days ago would have ended
        response = client.post(f"/practice/offers/{offer.id}/accept")
        assert response.status_code == 422
        assert "This offer expired" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MatchOffer, offer.id).status == OfferStatus.EXPIRED
    assert db.session.get(Referral, referral.id).therapist_id is None
    assert [m.to for m in mail] == [clinician.email]  # the expiry is kept and told


def test_decline_on_the_page(client, login, offered, mail) -> None:
    clinician, partner, referral, offer = offered
    login(partner)
    response = client.post(
        f"/practice/offers/{offer.id}/decline", data={"reason": "No openings until March."}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/practice/offers")
    db.session.expire_all()
    row = db.session.get(MatchOffer, offer.id)
    assert row.status == OfferStatus.DECLINED and row.decline_reason == "No openings until March."
    assert client.post(f"/practice/offers/{offer.id}/accept").status_code == 422
    client.post("/logout")
    # The clinician sees the answer on the referral page.
    from tests.conftest import log_in

    log_in(client, clinician)
    page = client.get(f"/clinical/referrals/{referral.id}").get_data(as_text=True)
    assert "Declined" in page and "No openings until March." in page
    assert "Find a partner" in page


def test_another_partner_never_sees_the_offer(client, login, offered, make_partner) -> None:
    _, _, _, offer = offered
    login(make_partner(full_name="Other Partner"))
    assert client.get(f"/practice/offers/{offer.id}").status_code == 404
    assert client.post(f"/practice/offers/{offer.id}/accept").status_code == 404
    assert client.post(f"/practice/offers/{offer.id}/decline").status_code == 404
    assert f"Offer #{offer.id}" not in client.get("/practice/offers").get_data(as_text=True)
    assert db.session.get(MatchOffer, offer.id).status == OfferStatus.OFFERED


def test_the_dashboard_notice_lists_pending_offers(app, offered, make_partner) -> None:
    """templates/practice/_dashboard_notice.html, included by the therapist's dashboard."""
    from flask import render_template_string
    from flask_login import login_user

    from lms.certification.services import certification_status

    _, partner, _, offer = offered
    snippet = '{% include "practice/_dashboard_notice.html" %}'
    with app.test_request_context():
        login_user(partner)
        html = render_template_string(snippet, certification=certification_status(partner))
        assert "1 patient match is waiting for your answer." in html
        assert 'href="/practice/offers"' in html
    other = make_partner(full_name="No Offers")
    with app.test_request_context():
        login_user(other)
        html = render_template_string(snippet, certification=certification_status(other))
        assert "waiting for your answer" not in html


def test_the_dashboard_reads_the_waiting_offers_with_the_session(
    client, login, offered, make_partner, count_queries
) -> None:
    """The number of waiting offers rides on the log-in session's statement: a partner with
    none pays no statement for the notice; one with an offer sees it; an expired one is not
    counted."""
    _, partner, _, offer = offered
    login(partner)
    client.get("/dashboard")  # the welcome message
    with count_queries as q:
        html = client.get("/dashboard").get_data(as_text=True)
    assert "1 patient match is waiting for your answer." in html
    assert any("match_offers" in sql for sql in q.statements[1:]), "the offer list is read"

    # Expired, not yet closed by the job.
    db.session.execute(
        update(MatchOffer)
        .where(MatchOffer.id == offer.id)
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    with count_queries as q:
        html = client.get("/dashboard").get_data(as_text=True)
    assert "waiting for your answer" not in html
    assert "match_offers" in q.statements[0]  # the count, with the session
    assert not any("match_offers" in sql for sql in q.statements[1:])

    client.post("/logout")
    login(make_partner(full_name="No Offers"))
    client.get("/dashboard")
    with count_queries as q:
        html = client.get("/dashboard").get_data(as_text=True)
    assert "Certified" in html or "certified" in html
    assert "waiting for your answer" not in html
    assert not any("match_offers" in sql for sql in q.statements[1:])


URLS_PARTNER = ["/practice/profile", "/practice/offers", "/practice/offers/1"]
URLS_STAFF = ["/clinical/referrals/1/match"]


def test_anonymous_visitors_are_sent_to_log_in(client) -> None:
    for url in [*URLS_PARTNER, *URLS_STAFF]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    for url in (
        "/practice/offers/1/accept",
        "/clinical/referrals/1/offers",
        "/clinical/offers/1/withdraw",
    ):
        response = client.post(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_staff_do_not_use_the_partner_pages(client, make_user, login, role) -> None:
    login(make_user(role))
    for url in URLS_PARTNER:
        assert client.get(url).status_code == 403, url


def test_therapists_do_not_use_the_staff_pages(client, make_partner, login, offered) -> None:
    _, partner, referral, offer = offered
    login(partner)
    assert client.get(f"/clinical/referrals/{referral.id}/match").status_code == 403
    assert (
        client.post(
            f"/clinical/referrals/{referral.id}/offers", data={"partner_id": partner.id}
        ).status_code
        == 403
    )
    assert client.post(f"/clinical/offers/{offer.id}/withdraw").status_code == 403


def test_an_uncertified_therapist_is_sent_to_the_checklist(client, make_certified, login) -> None:
    login(make_certified(skip=("insurance",)))
    for url in URLS_PARTNER:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/dashboard#certification"), url


# --- the clinicians' side -----------------------------------------------------------------


def test_a_clinician_finds_a_partner_and_offers(
    client, login, make_partner, make_eligible, make_user, mail
) -> None:
    clinician = make_user("clinician")
    referral = make_eligible(clinician, modality="telehealth")
    best = make_partner(full_name="Best Partner")
    make_partner(full_name="Office Only", profile={"telehealth": False})
    make_partner(full_name="Tex Elsewhere", skip=("license",), states=("TX",))
    login(clinician)
    review = client.get(f"/clinical/referrals/{referral.id}").get_data(as_text=True)
    assert "Self-referral through the public form" in review
    assert f'href="/clinical/referrals/{referral.id}/match"' in review
    page = client.get(f"/clinical/referrals/{referral.id}/match")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index("Best Partner") < html.index("Office Only")
    assert "Tex Elsewhere" not in html
    assert "Ranked 1 of 2 with 10 points, the highest score." in html
    assert "Sees clients in person only; the patient asked for telehealth." in html
    assert _audited("referral.match_viewed", clinician.id, referral.id) == 1
    mail.clear()
    response = client.post(
        f"/clinical/referrals/{referral.id}/offers", data={"partner_id": best.id}
    )
    assert response.status_code == 302
    assert [m.to for m in mail] == [best.email]
    review = client.get(f"/clinical/referrals/{referral.id}").get_data(as_text=True)
    assert "waiting for their answer" in review and "Best Partner" in review
    again = client.post(f"/clinical/referrals/{referral.id}/offers", data={"partner_id": best.id})
    assert again.status_code == 422
    assert "already offered to Best Partner" in again.get_data(as_text=True)
    # Withdraw, and the partner's page says so.
    offer = db.session.scalars(select(MatchOffer)).one()
    assert client.post(f"/clinical/offers/{offer.id}/withdraw").status_code == 302
    db.session.expire_all()
    assert db.session.get(MatchOffer, offer.id).status == OfferStatus.WITHDRAWN


def test_offering_to_someone_not_listed_is_refused(
    client, login, make_partner, make_eligible, make_user
) -> None:
    clinician = make_user("clinician")
    referral = make_eligible(clinician)
    elsewhere = make_partner(full_name="Tex Elsewhere", skip=("license",), states=("TX",))
    login(clinician)
    response = client.post(
        f"/clinical/referrals/{referral.id}/offers", data={"partner_id": elsewhere.id}
    )
    assert response.status_code == 422
    assert "cannot take this patient now" in response.get_data(as_text=True)
    assert client.post(f"/clinical/referrals/{referral.id}/offers", data={}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(MatchOffer)) == 0


def test_the_match_page_before_eligibility_and_for_therapist_referrals(
    client, login, make_self_referral, make_user, make_partner
) -> None:
    from lms.referrals import services as referral_services
    from tests.referrals.conftest import referral_data

    clinician = make_user("clinician")
    new = make_self_referral()
    login(clinician)
    page = client.get(f"/clinical/referrals/{new.id}/match")
    assert page.status_code == 200
    assert "once the medical intake has found them eligible" in page.get_data(as_text=True)
    therapist_referral = referral_services.create_referral(make_partner(), referral_data())
    db.session.commit()
    assert client.get(f"/clinical/referrals/{therapist_referral.id}/match").status_code == 404
    assert client.get("/clinical/referrals/999999/match").status_code == 404
