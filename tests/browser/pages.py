"""The seeded world and the URLs behind tests/browser/test_axe_every_page.py.

The world is the demo data set (``flask seed-demo``: the four demo accounts, the course
worked through by the partner, licences, referrals with outcome measurements, support
requests, practice profiles and a patient waiting for a match), plus what the demo does not
make but pages need: the applicant's failed quiz and the one in progress, their insurance
awaiting review, a payment waiting for their card and one the partner made, the waiting
patient offered to the partner, an invitation and the links of the account e-mails, and
e-mails in the development mail folder.

Each URL parameter of the URL map is filled from that world (per role where people see only
their own records): a parameter nobody fills makes the walk fail, not skip.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, url_for
from sqlalchemy import select
from werkzeug.routing import Rule

from lms import mail_previews
from lms.accounts import services as accounts
from lms.accounts import tokens
from lms.accounts.models import Role, User
from lms.cli import DEMO_PASSWORD
from lms.extensions import db
from lms.licensure import services as licensure
from lms.licensure.demo import tiny_pdf
from lms.licensure.documents import Upload
from lms.licensure.models import InsurancePolicy, License
from lms.outcomes.models import Measurement
from lms.payments import services as payments
from lms.payments.models import Payment
from lms.practice import services as practice
from lms.practice.models import MatchOffer
from lms.referrals.models import Referral, ReferralSource
from lms.resources.content import get_library
from lms.support.models import SupportRequest
from lms.training import quiz
from lms.training import services as training
from lms.training.models import Certificate, Course, ModuleVersion, QuizAttempt
from tests.payments.localstripe import FIXTURE_COURSES, PRICE_CENTS

COURSE = "kap-foundations"
PAID_COURSE = "mini-course"  # the tests' two-module course, given a price and made optional
PROJECT_COURSES = Path(__file__).resolve().parents[2] / "courses"

# Who logs in as each role: the demo accounts (lms/cli.py DEMO_ACCOUNTS).
LOGINS = {
    "therapist": "therapist@example.org",  # an applicant: enrolled, licence awaiting review
    "certified": "partner@example.org",  # a certified partner with patients and requests
    "clinician": "clinician@example.org",
    "admin": "admin@example.org",
}
PASSWORD = DEMO_PASSWORD
INVITATION_TOKEN = "axe-walk-invitation-token-0123456789abcdef"  # noqa: S105 - test value


@dataclass
class World:
    """Parameter values for the URLs of the seeded world.

    Keys are ``arg``, ``blueprint.*:arg`` or ``endpoint:arg`` (the most specific wins), and
    ``endpoint:?name`` for a query argument; ``by_role`` overrides ``common`` for a role.
    """

    common: dict[str, Any] = field(default_factory=dict)
    by_role: dict[str, dict[str, Any]] = field(default_factory=dict)

    def values(self, role: str) -> dict[str, Any]:
        return {**self.common, **self.by_role.get(role, {})}


def get_rules(app: Flask) -> list[Rule]:
    """Every rule that answers GET, except the static files."""
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint != "static" and "GET" in r.methods),
        key=lambda r: r.rule,
    )


def build_url(app: Flask, rule: Rule, values: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The URL of ``rule`` filled from ``values`` (see World); or None and the parameters
    that have no value."""
    blueprint = rule.endpoint.split(".", 1)[0]
    filled: dict[str, Any] = {}
    missing = []
    for arg in sorted(rule.arguments):
        for key in (f"{rule.endpoint}:{arg}", f"{blueprint}.*:{arg}", arg):
            if key in values:
                filled[arg] = values[key]
                break
        else:
            missing.append(arg)
    if missing:
        return None, missing
    query = f"{rule.endpoint}:?"
    filled.update({k.removeprefix(query): v for k, v in values.items() if k.startswith(query)})
    with app.test_request_context():
        return url_for(rule.endpoint, **filled), []


# --- seeding ----------------------------------------------------------------------------


def course_folder(target: Path) -> Path:
    """The project's courses plus the tests' mini course, with a price and not required for
    certification (so the demo partner stays certified)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(PROJECT_COURSES, target)
    shutil.copytree(FIXTURE_COURSES / PAID_COURSE, target / PAID_COURSE)
    course_file = target / PAID_COURSE / "course.toml"
    text = course_file.read_text()
    for old, new in (
        ("price_cents = 0", f"price_cents = {PRICE_CENTS}"),
        ("required_for_certification = true", "required_for_certification = false"),
    ):
        assert old in text, f"{course_file} changed: no {old!r}"
        text = text.replace(old, new)
    course_file.write_text(text)
    return target


def _one(stmt: Any, what: str) -> Any:
    found = db.session.scalars(stmt).first()
    assert found is not None, f"the seeded world has no {what}"
    return found


def _user(role: str) -> User:
    return _one(select(User).where(User.email == LOGINS[role]), f"demo {role}")


def _quiz_attempts(applicant: User, course: Course) -> tuple[QuizAttempt, QuizAttempt]:
    """The applicant reads module 1, fails its quiz (a day ago: past the cool-down) and
    starts again: a result with feedback, and an attempt in progress."""
    enrollment = training.get_enrollment(applicant, course)
    assert enrollment is not None
    state = training.course_progress(enrollment).next_module
    assert state is not None and state.module.has_quiz
    training.complete_lesson(enrollment, state)
    state = training.module_state(enrollment, state.module.slug)
    failed = quiz.start_attempt(enrollment, state)
    for item in quiz.frozen_questions(failed):  # one wrong answer, so there is feedback
        if item.question.kind == "truefalse":
            quiz.save_answer(failed, item.position, not item.question.correct_answer)
            break
    quiz.submit(failed)
    assert failed.submitted_at is not None
    failed.started_at -= timedelta(days=1)
    failed.submitted_at -= timedelta(days=1)
    db.session.flush()
    state = training.module_state(enrollment, state.module.slug)
    in_progress = quiz.start_attempt(enrollment, state)
    for item in quiz.frozen_questions(in_progress):  # one answer saved so far
        if item.question.kind == "truefalse":
            quiz.save_answer(in_progress, item.position, bool(item.question.correct_answer))
            break
    return failed, in_progress


def _payments(applicant: User, partner: User, course: Course) -> tuple[Payment, Payment]:
    """A payment waiting for the applicant's card; one the partner made (refundable)."""
    waiting = payments.open_payment(payments.start_payment(applicant, course, None))
    paid = payments.open_payment(payments.start_payment(partner, course, None))
    assert waiting is not None and paid is not None
    payments.mark_succeeded(paid)
    return waiting, paid


def _insurance(applicant: User) -> InsurancePolicy:
    """The applicant's insurance, awaiting review like their licence."""
    return licensure.add_insurance(
        applicant,
        {
            "carrier": "Pacific Professional Liability",
            "policy_number": "PPL-2026-0042",
            "per_claim_cents": 1_000_000_00,
            "aggregate_cents": 3_000_000_00,
            "expires_on": licensure.today() + timedelta(days=300),
        },
        [Upload("insurance-certificate.pdf", tiny_pdf("Certificate"), "application/pdf")],
    )


def _offer(partner: User, clinician: User) -> MatchOffer:
    """The demo's waiting patient, offered to the partner by the clinician."""
    patient = _one(select(Referral).where(Referral.source == ReferralSource.SELF), "patient")
    return practice.make_offer(patient, partner.id, clinician)


def _invitation(admin: User) -> None:
    """An invitation whose link is known (the real token is only ever e-mailed)."""
    invitation = accounts.invite_staff(admin, "new.nurse@example.org", Role.CLINICIAN)
    invitation.token_hash = tokens.hash_invitation_token(INVITATION_TOKEN)


def _sign_up_link_token(user: User) -> str:
    """The token of the confirmation link the (since confirmed) user was e-mailed."""
    confirmed_at, user.email_verified_at = user.email_verified_at, None
    try:
        return tokens.make_token(user, tokens.VERIFY_EMAIL)
    finally:
        user.email_verified_at = confirmed_at


def seed(app: Flask) -> World:
    """Run ``flask courses sync`` and ``flask seed-demo`` on the app's database, add what the
    demo lacks, and name the objects the URLs point at."""
    runner = app.test_cli_runner()
    for args in (["courses", "sync"], ["seed-demo"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, f"flask {args} failed:\n{result.output}{result.exc_info}"
        assert "not synced" not in result.output, result.output
    with app.app_context():
        admin, clinician = _user("admin"), _user("clinician")
        applicant, partner = _user("therapist"), _user("certified")
        course = _one(select(Course).where(Course.slug == COURSE), "demo course")
        paid_course = _one(select(Course).where(Course.slug == PAID_COURSE), "paid course")
        failed, in_progress = _quiz_attempts(applicant, course)
        waiting, paid = _payments(applicant, partner, paid_course)
        policy = _insurance(applicant)
        offer = _offer(partner, clinician)
        _invitation(admin)
        db.session.commit()

        referral = _one(
            select(Referral)
            .join(Measurement, Measurement.referral_id == Referral.id)
            .where(Referral.therapist_id == partner.id)
            .order_by(Referral.id),
            "partner's referral with measurements",
        )
        world = World(
            common={
                "user_id": applicant.id,
                "slug": COURSE,
                "module_slug": _one(  # module 1, where the applicant is
                    select(ModuleVersion.slug).where(ModuleVersion.id == failed.module_version_id),
                    "module",
                ),
                "index": 1,  # the first question of the module
                "attempt_id": in_progress.id,
                "training.attempt_result:attempt_id": failed.id,
                "code": _one(
                    select(Certificate.code).where(Certificate.user_id == partner.id),
                    "partner's certificate",
                ),
                "resources.*:slug": next(r for r in get_library().resources if r.is_document).slug,
                "accounts.accept_invitation:token": INVITATION_TOKEN,
                "accounts.reset_password:token": tokens.make_token(
                    applicant, tokens.RESET_PASSWORD
                ),
                # The sign-up link followed again: the page saying it was used.
                "accounts.verify_email:token": _sign_up_link_token(applicant),
                "admin.mail_preview_html:name": mail_previews.template_names()[0],
                "license_id": _one(
                    select(License.id).where(License.user_id == applicant.id),
                    "applicant's licence",
                ),
                "insurance_id": policy.id,
                "policy_id": policy.id,
                "referral_id": referral.id,
                "practice.match:referral_id": offer.referral_id,
                "outcomes.new:?instrument": "phq9",  # the longer one, with the safety item
                "measurement_id": _one(
                    select(Measurement.id).where(Measurement.referral_id == referral.id),
                    "measurement",
                ),
                "offer_id": offer.id,
                "request_id": _one(
                    select(SupportRequest.id)
                    .where(SupportRequest.therapist_id == partner.id)
                    .order_by(SupportRequest.id.desc()),
                    "support request",
                ),
                "payment_id": waiting.id,
                "payments.refund:payment_id": paid.id,
            },
            by_role={
                "certified": {
                    "license_id": _one(
                        select(License.id).where(License.user_id == partner.id),
                        "partner's licence",
                    ),
                    "policy_id": _one(
                        select(InsurancePolicy.id).where(InsurancePolicy.user_id == partner.id),
                        "partner's insurance",
                    ),
                    "training.attempt_result:attempt_id": _one(
                        select(QuizAttempt.id).where(QuizAttempt.user_id == partner.id),
                        "partner's quiz attempt",
                    ),
                },
            },
        )
    sent = sorted(Path(app.config["MAIL_FOLDER"]).glob("*.eml"))
    assert sent, "the seeding sent no e-mail to the development mail folder"
    world.common["name"] = sent[-1].name
    return world
