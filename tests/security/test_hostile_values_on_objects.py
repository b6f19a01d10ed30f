"""The pages and actions of real records (a support request, a referral, its questionnaires,
licenses, documents, certificates, a course's modules, a quiz attempt, a payment, a match
offer, an invitation), as every kind of
user they are for, with odd values in every field any form of the app reads: never a
server error.

``test_hostile_query_values.py`` walks every route with ids that name nothing, so its
requests to a record's pages stop at "not found"; this walk reaches the records' pages and
their forms' checks. Each request puts one odd value in every field at once, so a form
mostly stops at its first field in error: an odd value in one field of an otherwise valid
form (the reassign form's version, the filing form's patient) is tried in that form's own
tests.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from flask import url_for
from sqlalchemy import select

from lms.accounts.models import Role
from lms.accounts.services import invite_staff
from lms.extensions import db
from lms.licensure.models import Document, InsurancePolicy, License
from lms.practice import services as practice
from lms.training import quiz
from lms.training import services as training
from lms.training.models import Certificate, ModuleVersion
from tests.certification.conftest import give_certificate
from tests.licensure.conftest import pdf_file, submit_license
from tests.outcomes.conftest import record  # noqa: F401 - fixture
from tests.payments.records import add_payment
from tests.practice.conftest import make_eligible, make_self_referral, profile_values  # noqa: F401
from tests.security.conftest import AUDIENCES, audience, methods, rules
from tests.security.test_hostile_query_values import SESSION_ENDERS, query_parameters
from tests.training.conftest import courses_dir, mini_course, sync_courses  # noqa: F401

# Fewer than the id-less walk: each is sent to every action of every record.
ODD_VALUES = ["-1", "99999999999999999999", "9999-12-31", "%_", "é 漢字 🙂", "word " * 60, " "]


@pytest.fixture
def records(  # noqa: PLR0913
    app,
    users,
    as_user,
    make_referral,
    make_request,
    record,  # noqa: F811
    mini_course,  # noqa: F811
    make_eligible,  # noqa: F811
) -> dict:
    partner = users["certified"]
    if mini_course.required_for_certification:  # stays certified with the course synced
        give_certificate(partner, mini_course)
    # A quiz attempt in progress, a paid course's payment and an offer of a patient.
    enrollment = training.get_enrollment(partner, mini_course) or training.enroll(
        partner, mini_course
    )
    state = training.module_state(enrollment, "01-basics")
    if not state.lesson_done:
        training.complete_lesson(enrollment, state)
    attempt = quiz.start_attempt(
        enrollment, training.module_state(enrollment, "01-basics"), random.Random(1)
    )
    payment = add_payment(partner.id, mini_course.id, enrollment.id, intent="pi_hostile_1")
    practice.save_profile(partner, profile_values())
    offer = practice.make_offer(make_eligible(users["clinician"]), partner.id, users["clinician"])
    referral = make_referral(partner)
    support_request = make_request(partner)
    measurement = record(referral, "gad7", 6)
    client = as_user(partner)
    assert submit_license(client, files=[pdf_file()], number="WA-77", state="WA").status_code == 302
    module = db.session.scalars(
        select(ModuleVersion).where(ModuleVersion.course_id == mini_course.id)
    ).first()
    invitation = invite_staff(users["admin"], "new.clinician@example.org", Role.CLINICIAN)
    db.session.commit()
    return {
        "request_id": support_request.id,
        "referral_id": referral.id,
        "measurement_id": measurement.id,
        "user_id": partner.id,
        "license_id": db.session.scalars(
            select(License.id).where(License.user_id == partner.id)
        ).first(),
        "insurance_id": db.session.scalars(select(InsurancePolicy.id)).first(),
        "policy_id": db.session.scalars(select(InsurancePolicy.id)).first(),
        "document_id": db.session.scalars(select(Document.id)).first(),
        "certificate_id": db.session.scalars(select(Certificate.id)).first(),
        "invitation_id": invitation.id,
        "attempt_id": attempt.id,
        "payment_id": payment.id,
        "offer_id": offer.id,
        "slug": mini_course.slug,
        "module_slug": module.slug,
        "index": 0,
        "position": 1,
    }


def _target(app, rule, values: dict[str, Any]) -> str | None:
    if not rule.arguments or not rule.arguments <= values.keys():
        return None
    with app.test_request_context():
        return url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})


def test_no_action_on_a_record_fails_on_odd_values(app, users, as_user, records) -> None:
    assert None not in records.values()
    names = query_parameters()
    sent: dict[str, int] = {}
    # The partner first, the admin last: an admin's action may end what the others use.
    for who in ("certified", "clinician", "admin"):
        client = as_user(users[who])
        for rule in rules(app):
            target = _target(app, rule, records)
            if target is None or who not in AUDIENCES[audience(app, rule)]:
                continue
            if rule.endpoint in SESSION_ENDERS:
                continue
            for method in methods(rule):
                for value in ODD_VALUES:
                    fields = {name: value for name in names}
                    if method == "GET":
                        response = client.get(target, query_string=fields)
                    else:
                        response = client.open(target, method=method, data=fields)
                    # 503: the card page of a server whose payments are switched off
                    # (no Stripe key in the tests) says so; any other 5xx is a failure.
                    if rule.endpoint == "payments.submit_card" and who == "certified":
                        assert response.status_code == 503, (who, target, value)
                    else:
                        assert response.status_code < 500, (who, method, target, value)
                    sent[rule.endpoint] = sent.get(rule.endpoint, 0) + 1
                    client = as_user(users[who])
    # The walk reached the records' own actions, not only their pages.
    assert {
        "support.reply",
        "support.claim",
        "outcomes.edit",
        "licensure.review_license",
        "training.save_answer",
        "training.submit_attempt",
        "payments.refund",
        "practice.accept",
        "practice.withdraw",
    } <= set(sent), sorted(sent)
