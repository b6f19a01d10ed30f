"""Certification, derived and never hand-set (docs/DESIGN.md).

:func:`certification_status` is the one place that decides whether a therapist may use
the partner tools. It is computed on every gated request from the records themselves, so
a license that expires, a certificate that is revoked or a new agreement version ends
access at once, whether or not any daily job has run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import url_for
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    select,
    true,
)

from lms import audit
from lms.accounts import sessions
from lms.accounts.models import Role, User
from lms.certification import agreements
from lms.certification.agreements import Agreement
from lms.certification.models import AgreementAcceptance
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.models import InsurancePolicy, License, RecordStatus
from lms.training.models import Certificate, Course

# The order the checklist shows them in, which is also the order a therapist usually meets them.
KEYS = ("account", "training", "license", "insurance", "agreement")
MET_TRAINING = "Certificate valid for every required course."
# How much later than the session's load a requirement read with it still answers for.
RIDER_LEEWAY = timedelta(seconds=5)


@dataclass
class Requirement:
    """One line of the checklist. ``next_endpoint`` is where the therapist goes to meet it."""

    key: str
    label: str
    met: bool
    detail: str
    next_endpoint: str | None = None
    next_values: dict[str, Any] = field(default_factory=dict)
    next_label: str | None = None

    @property
    def next_url(self) -> str | None:
        """The next step's URL (needs an app or request context)."""
        return url_for(self.next_endpoint, **self.next_values) if self.next_endpoint else None


@dataclass
class CertificationStatus:
    requirements: list[Requirement]

    @property
    def certified(self) -> bool:
        return all(r.met for r in self.requirements)

    @property
    def met_count(self) -> int:
        return sum(r.met for r in self.requirements)

    @property
    def total(self) -> int:
        return len(self.requirements)

    @property
    def missing(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.met]

    @property
    def next_step(self) -> Requirement | None:
        """The first requirement not met: what the therapist should do next."""
        return next(iter(self.missing), None)

    def get(self, key: str) -> Requirement:
        return next(r for r in self.requirements if r.key == key)


class AgreementRefused(Exception):
    """The acceptance was refused; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _account(user: User) -> Requirement:
    label = "Active account with a confirmed e-mail address"
    if not user.is_active:
        return Requirement("account", label, False, "Your account is deactivated.")
    if not user.email_verified:
        return Requirement(
            "account",
            label,
            False,
            f"Confirm {user.email} with the link we sent you.",
            "accounts.check_email",
            next_label="Send a new confirmation link",
        )
    return Requirement("account", label, True, f"{user.email} confirmed.")


@functools.cache
def _required_courses_statement() -> Select[tuple[Course]]:
    """The published courses required for certification (built once per process, like the
    other statements every dashboard runs)."""
    return (
        select(Course)
        .where(Course.required_for_certification, Course.current_version_id.is_not(None))
        .order_by(Course.title)
    )


# Whether the training requirement is met (every published required course has a valid
# certificate), read with the log-in session on the dashboard: for a therapist who meets it,
# the checklist then reads no course; one who does not is told which courses, read as before.
TRAINING_MET = "training_requirement_met"
sessions.load_with_session_on(
    TRAINING_MET,
    sessions.PageRider.on_page(
        "main.dashboard",
        lambda: _training_clause(
            bindparam("now", type_=Certificate.__table__.c.expires_at.type), inline_courses=True
        ),
        params=lambda now: {"now": now},
    ),
)


def _training(user: User, now: datetime, certificates: list[Certificate] | None) -> Requirement:
    label = "Required training completed, with a valid certificate"
    read_at = sessions.loaded_at()
    if (
        read_at is not None
        and timedelta(0) <= now - read_at <= RIDER_LEEWAY
        and sessions.loaded(TRAINING_MET, user.id)
    ):
        # Read with this request's session, a moment before ``now``: the same answer but
        # for a certificate that expired in between, which the next page shows. (Asked for
        # another time, the rule reads the courses itself.)
        return Requirement("training", label, True, MET_TRAINING)
    required = list(db.session.scalars(_required_courses_statement()))
    if not required:
        # Fail closed: with no required course published, nobody can be trained yet.
        return Requirement("training", label, False, "The required training is not published yet.")
    required_ids = {c.id for c in required}
    if certificates is None:
        certificates = list(
            db.session.scalars(
                select(Certificate).where(
                    Certificate.user_id == user.id, Certificate.course_id.in_(required_ids)
                )
            )
        )
    valid = {
        c.course_id
        for c in certificates
        if c.user_id == user.id and c.course_id in required_ids and c.status(now) == "valid"
    }
    todo = [c for c in required if c.id not in valid]
    if not todo:
        return Requirement("training", label, True, MET_TRAINING)
    return Requirement(
        "training",
        label,
        False,
        "No valid certificate yet for " + ", ".join(c.title for c in todo) + ".",
        "training.course",
        {"slug": todo[0].slug},
        f"Go to {todo[0].title}",
    )


def _record(
    user: User, model: Any, key: str, label: str, day: Any, records: list[Any] | None = None
) -> Requirement:
    """``records``: every one of the user's records of this kind, when the caller has read
    them (the dashboard, from the licensure overview); otherwise two EXISTS questions."""

    def on_file(status: RecordStatus) -> bool:
        if records is not None:
            return any(
                r.user_id == user.id and r.status == status and r.expires_on > day for r in records
            )
        return bool(
            db.session.scalar(
                select(
                    exists().where(
                        model.user_id == user.id, model.status == status, model.expires_on > day
                    )
                )
            )
        )

    valid = on_file(RecordStatus.VERIFIED)
    add = "licensure.add_license" if model is License else "licensure.add_insurance"
    noun = "license" if model is License else "malpractice insurance policy"
    if valid:
        return Requirement(key, label, True, f"A verified, unexpired {noun} is on file.")
    if on_file(RecordStatus.PENDING):
        return Requirement(
            key,
            label,
            False,
            f"Your {noun} is awaiting verification by the network.",
            "licensure.overview",
            next_label="See your licensure records",
        )
    return Requirement(
        key,
        label,
        False,
        f"No verified, unexpired {noun} on file.",
        add,
        next_label=f"Add your {noun}",
    )


# The highest agreement version the user accepted (0: none), read with the log-in session
# on the dashboard, whose checklist would otherwise ask for it in a statement of its own.
LATEST_ACCEPTED = "latest_accepted_agreement"
sessions.load_with_session_on(
    LATEST_ACCEPTED,
    sessions.PageRider.on_page(
        "main.dashboard",
        lambda: (
            select(func.coalesce(func.max(AgreementAcceptance.version), 0))
            .where(AgreementAcceptance.user_id == User.id)
            .scalar_subquery()
        ),
    ),
)


def _agreement(user: User, current: Agreement | None) -> Requirement:
    label = "Current partner agreement (with the BAA) accepted"
    if current is None:
        return Requirement("agreement", label, False, "No partner agreement is published yet.")
    latest = sessions.loaded(LATEST_ACCEPTED, user.id)
    if latest is None:  # not read with this page's session
        done = accepted(user, current.version) is not None
        earlier = done or latest_acceptance(user) is not None
    else:
        # (A version above the current one: its file was withdrawn; ask for this one.)
        done = latest == current.version or (
            latest > current.version and accepted(user, current.version) is not None
        )
        earlier = latest > 0
    if done:
        return Requirement("agreement", label, True, f"You accepted {current.label}.")
    detail = (
        f"A new version ({current.version}) replaces the one you accepted; read and accept it."
        if earlier
        else "Read and accept the partner agreement."
    )
    return Requirement(
        "agreement",
        label,
        False,
        detail,
        "certification.agreement",
        next_label="Read and accept the agreement",
    )


def certification_status(
    user: User,
    now: datetime | None = None,
    certificates: list[Certificate] | None = None,
    licenses: list[License] | None = None,
    policies: list[InsurancePolicy] | None = None,
) -> CertificationStatus:
    """Every requirement, met or not, in checklist order, with the next step for each.

    ``certificates``, ``licenses``, ``policies``: all of the user's, when the caller has
    read them already (:func:`user_certificates`, the licensure overview); otherwise the
    rule asks the database.

    Dates (license and insurance expiry) are compared in UTC: a record expiring on D
    stops counting at 00:00 UTC on D, as in :func:`lms.licensure.services.today`.
    """
    now = now or utcnow()
    day = now.astimezone(UTC).date()
    return CertificationStatus(
        [
            _account(user),
            _training(user, now, certificates),
            _record(
                user,
                License,
                "license",
                "A verified license that has not expired",
                day,
                licenses,
            ),
            _record(
                user,
                InsurancePolicy,
                "insurance",
                "Current malpractice insurance, verified",
                day,
                policies,
            ),
            _agreement(user, agreements.current()),
        ]
    )


def is_certified(user: User, now: datetime | None = None) -> bool:
    """May ``user`` use the partner tools now? Only therapists can be certified."""
    return user.role == Role.THERAPIST and certification_status(user, now).certified


def _training_clause(now: Any, inline_courses: bool) -> ColumnElement[bool]:
    """Every published required course has a valid certificate, and there is at least one
    such course (fail closed, as in :func:`_training`)."""

    def valid(course_id: Any) -> Any:
        return exists().where(
            Certificate.user_id == User.id,
            Certificate.course_id == course_id,
            Certificate.revoked_at.is_(None),
            Certificate.expires_at > now,
        )

    published = and_(Course.required_for_certification, Course.current_version_id.is_not(None))
    if inline_courses:
        # The courses read inside the same statement: one round trip for one therapist.
        # (Over thousands of therapists the nested NOT EXISTS is twice as slow as the
        # per-course form below, so lists read the course ids first.)
        return and_(
            exists().where(published),
            # correlate_except: the user is the outer query's, not a new FROM in here
            ~exists().where(published, ~valid(Course.id).correlate_except(Certificate)),
        )
    required = list(db.session.scalars(select(Course.id).where(published)))
    return and_(*(valid(course_id) for course_id in required)) if required else false()


def _clauses(
    now: Any,
    day: Any,
    agreement_version: int | None,
    inline_courses: bool,
    among: Any = None,
) -> dict[str, ColumnElement[bool]]:
    """``among``: the users' ids (a list of the outer query's), repeated inside the record
    and agreement conditions. It changes no answer (each condition is already about
    ``User.id``); it lets PostgreSQL read those records for just these users at once.
    Without it, for a page of 25, it estimated 25 index look-ups as dearer than reading the
    whole table into a hash, and read all 2,800 insurance policies and 2,600 agreement
    acceptances on every page of the directory (1.2 ms of the statement's 1.4)."""

    def mine(model: Any) -> list[ColumnElement[bool]]:
        return [model.user_id == User.id] + ([] if among is None else [model.user_id.in_(among)])

    agreement: ColumnElement[bool] = (
        exists().where(
            *mine(AgreementAcceptance),
            AgreementAcceptance.version == agreement_version,
        )
        if agreement_version is not None
        else false()
    )

    def record(model: Any) -> ColumnElement[bool]:
        return exists().where(
            *mine(model),
            model.status == RecordStatus.VERIFIED,
            model.expires_on > day,
        )

    return {
        "account": and_(User.is_active == true(), User.email_verified_at.is_not(None)),
        "training": _training_clause(now, inline_courses),
        "license": record(License),
        "insurance": record(InsurancePolicy),
        "agreement": agreement,
    }


def requirement_clauses(
    now: datetime | None = None, *, inline_courses: bool = False
) -> dict[str, ColumnElement[bool]]:
    """The same five requirements as SQL conditions on ``User``, for lists and counts.

    :func:`certification_status` decides for one therapist; this answers "which therapists"
    in one query (the admin directory and the onboarding funnel). Both read the same rules
    and a test holds them equal on every combination of met and missing requirements.
    ``inline_courses`` reads the required courses inside the conditions instead of
    beforehand (for one therapist: :func:`is_certified_now`).
    """
    now = now or utcnow()
    current = agreements.current()
    return _clauses(
        now, now.astimezone(UTC).date(), current.version if current else None, inline_courses
    )


def certified_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL: the user is a therapist who is certified at ``now``."""
    return and_(User.role == Role.THERAPIST, *requirement_clauses(now).values())


def _bound_clauses(
    agreement_version: int | None, among: Any = None
) -> dict[str, ColumnElement[bool]]:
    """The requirements with the time and the day as parameters ("now", "day"), for the
    statements built once per agreement version: building the expression costs about a
    millisecond, more than running it."""
    return _clauses(
        # Bound with the columns' own types, so each database compares them as it stores them.
        bindparam("now", type_=Certificate.__table__.c.expires_at.type),
        bindparam("day", type_=License.__table__.c.expires_on.type),
        agreement_version,
        inline_courses=True,
        among=among,
    )


def bound_certified_clause(agreement_version: int | None) -> ColumnElement[bool]:
    """Every requirement met, as one condition on ``users`` ("now" and "day" parameters):
    the guard reads it with the log-in session (:mod:`lms.certification.guard`)."""
    return and_(*_bound_clauses(agreement_version).values())


@functools.lru_cache(maxsize=16)
def _certified_check(agreement_version: int | None) -> Select[Any]:
    """The one-statement check, built once per agreement version; the user a parameter."""
    return select(bound_certified_clause(agreement_version)).where(User.id == bindparam("user_id"))


@functools.lru_cache(maxsize=16)
def _flags_statement(agreement_version: int | None) -> Select[Any]:
    """Each requirement's yes or no for a list of users, built once per agreement version;
    the users an expanding parameter."""
    user_ids = bindparam("user_ids", expanding=True)
    clauses = _bound_clauses(agreement_version, among=user_ids)
    return select(User.id, *(c.label(k) for k, c in clauses.items())).where(User.id.in_(user_ids))


def requirement_flags(user_ids: list[int], now: datetime) -> dict[int, Any]:
    """For each of ``user_ids`` (a page of a list), a row with one yes or no per requirement
    (``row.training``, ``row.license``…, in :data:`KEYS` order), in one statement."""
    if not user_ids:
        return {}
    current = agreements.current()
    statement = _flags_statement(current.version if current else None)
    params = {"now": now, "day": now.astimezone(UTC).date(), "user_ids": list(user_ids)}
    return {row.id: row for row in db.session.execute(statement, params)}


def is_certified_now(user: User, now: datetime | None = None) -> bool:
    """The same answer as :func:`is_certified`, in one statement (the guard's common case).

    Only the yes or no: what is missing, and the next step, come from
    :func:`certification_status`.
    """
    if user.role != Role.THERAPIST:
        return False
    now = now or utcnow()
    current = agreements.current()
    statement = _certified_check(current.version if current else None)
    params = {"now": now, "day": now.astimezone(UTC).date(), "user_id": user.id}
    return bool(db.session.scalar(statement, params))


@functools.cache
def _user_certificates_statement() -> Select[tuple[Certificate]]:
    return (
        select(Certificate)
        .where(Certificate.user_id == bindparam("user_id"))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    )


def user_certificates(user: User) -> list[Certificate]:
    """The therapist's certificates, newest first (the dashboard lists them with status)."""
    return list(db.session.scalars(_user_certificates_statement(), {"user_id": user.id}))


# --- the partner agreement ------------------------------------------------------------------


def accepted(user: User, version: int) -> AgreementAcceptance | None:
    return db.session.scalar(
        select(AgreementAcceptance).where(
            AgreementAcceptance.user_id == user.id, AgreementAcceptance.version == version
        )
    )


def latest_acceptance(user: User) -> AgreementAcceptance | None:
    return db.session.scalar(
        select(AgreementAcceptance)
        .where(AgreementAcceptance.user_id == user.id)
        .order_by(AgreementAcceptance.version.desc())
    )


def _normalise(name: str) -> str:
    return " ".join((name or "").split()).casefold()


def accept_agreement(
    user: User, version: int, full_name_typed: str, ip_address: str | None
) -> AgreementAcceptance:
    """Record that ``user`` accepted ``version``, signed by typing their full name.

    ``version`` is the one the therapist read; if a newer one was published meanwhile
    the acceptance is refused, so nobody accepts a text they did not see.
    """
    current = agreements.current()
    if current is None:
        raise AgreementRefused("No partner agreement is published yet.")
    if version != current.version:
        raise AgreementRefused(
            "The agreement changed while you were reading it. Read the current version below."
        )
    if _normalise(full_name_typed) != _normalise(user.full_name):
        raise AgreementRefused(
            f"The name you typed does not match your account. Type your full name exactly "
            f"as on your account: {user.full_name}."
        )
    existing = accepted(user, current.version)
    if existing is not None:
        return existing
    row = AgreementAcceptance(
        user_id=user.id,
        version=current.version,
        text_sha256=current.sha256,
        full_name_typed=" ".join(full_name_typed.split()),
        accepted_at=utcnow(),
        ip_address=ip_address,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "agreement.accepted",
        row,
        actor=user,
        object_type="agreement_acceptance",
        version=current.version,
        sha256=current.sha256,
    )
    return row
