"""What the operations team reads: the onboarding funnel, what needs action, the directory.

Every number here is one SQL query over the whole table (never a Python loop over
therapists), so the admin pages stay fast with thousands of therapists; the directory's
certification column comes from :func:`lms.certification.services.requirement_clauses`,
the SQL twin of the rule the certification gate applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, select

from lms.accounts.models import Role, User
from lms.certification import services as certification
from lms.db import matches_any
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import InsurancePolicy, License, RecordStatus
from lms.referrals.models import Referral, ReferralStatus
from lms.timezones import localdate
from lms.training.models import Course, Enrollment, EnrollmentStatus

REQUIREMENT_LABELS = {
    "account": "account",
    "training": "training",
    "license": "license",
    "insurance": "insurance",
    "agreement": "agreement",
}


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    count: int

    def share_of(self, first: int) -> int:
        """Percent of the first stage, rounded down (0 when nobody registered)."""
        return (self.count * 100 // first) if first else 0


def _required_courses() -> Select[Any]:
    return select(Course.id).where(
        Course.required_for_certification, Course.current_version_id.is_not(None)
    )


def funnel(now: datetime) -> list[Stage]:
    """Therapists at each onboarding stage; each stage counts those who reached all before it."""
    clauses = certification.requirement_clauses(now)
    enrolled = exists().where(
        Enrollment.user_id == User.id,
        Enrollment.course_id.in_(_required_courses()),
        Enrollment.status != EnrollmentStatus.CANCELLED,
    )
    paid = exists().where(
        Enrollment.user_id == User.id,
        Enrollment.course_id.in_(_required_courses()),
        Enrollment.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)),
    )
    steps: list[tuple[str, str, Any]] = [
        ("registered", "Registered", User.id.is_not(None)),
        ("enrolled", "Enrolled in the required training", enrolled),
        ("paid", "Paid (or enrolment comped)", paid),
        ("trained", "Training complete, certificate valid", clauses["training"]),
        ("licensed", "License verified", clauses["license"]),
        ("certified", "Certified partner", and_(*clauses.values())),
    ]
    columns = []
    so_far: list[Any] = []
    for key, _label, condition in steps:
        so_far.append(condition)
        columns.append(func.coalesce(func.sum(case((and_(*so_far), 1), else_=0)), 0).label(key))
    row = db.session.execute(select(*columns).where(User.role == Role.THERAPIST)).one()
    return [Stage(key, label, int(getattr(row, key))) for key, label, _ in steps]


@dataclass
class ActionList:
    """A "needs action now" box: the oldest few items and how many there are in all."""

    items: list[Any]
    total: int


def _action_list(stmt: Select[Any], limit: int = 8) -> ActionList:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return ActionList(list(db.session.scalars(stmt.limit(limit))), total or 0)


def awaiting_verification() -> dict[str, ActionList]:
    """License and insurance records waiting for a decision, oldest submission first."""
    return {
        kind: _action_list(
            select(model)
            .where(model.status == RecordStatus.PENDING)
            .order_by(model.submitted_at, model.id)
        )
        for kind, model in (("license", License), ("insurance", InsurancePolicy))
    }


def expiring_soon(today: date, days: int = 30) -> dict[str, ActionList]:
    """Verified records that expire within ``days``, soonest first."""
    until = today + timedelta(days=days)
    return {
        kind: _action_list(
            select(model)
            .where(
                model.status == RecordStatus.VERIFIED,
                model.expires_on > today,
                model.expires_on <= until,
            )
            .order_by(model.expires_on, model.id)
        )
        for kind, model in (("license", License), ("insurance", InsurancePolicy))
    }


def referrals_waiting() -> ActionList:
    """Referrals nobody has acted on yet (status new), oldest first."""
    return _action_list(
        select(Referral)
        .where(Referral.status == ReferralStatus.NEW)
        .order_by(Referral.created_at, Referral.id)
    )


# --- the therapist directory ----------------------------------------------------------------

SORTS: dict[str, tuple[str, Any]] = {
    "name": ("Name A–Z", (func.lower(User.full_name), User.id)),
    "-name": ("Name Z–A", (func.lower(User.full_name).desc(), User.id.desc())),
    "-joined": ("Newest first", (User.created_at.desc(), User.id.desc())),
    "joined": ("Oldest first", (User.created_at, User.id)),
    "-last_login": ("Last log-in", (User.last_login_at.desc(), User.id.desc())),
}
DEFAULT_SORT = "-joined"

CERTIFICATION_FILTERS = {
    "certified": "Certified",
    "not_certified": "Not certified",
    "missing_training": "Missing: training",
    "missing_license": "Missing: verified license",
    "missing_insurance": "Missing: insurance",
    "missing_agreement": "Missing: partner agreement",
}


@dataclass(frozen=True)
class DirectoryFilters:
    q: str = ""
    state: str = ""
    license_type: str = ""
    certification: str = ""
    sort: str = DEFAULT_SORT


def directory_query(filters: DirectoryFilters, now: datetime) -> Select[Any]:
    """Therapists matching ``filters``, in the chosen order (the screen and the CSV share it)."""
    stmt = select(User).where(User.role == Role.THERAPIST)
    if filters.q:
        stmt = stmt.where(matches_any(filters.q, User.full_name, User.email))
    license_conditions = [License.user_id == User.id, License.status != RecordStatus.REJECTED]
    if filters.state:
        license_conditions.append(License.state == filters.state)
    if filters.license_type:
        license_conditions.append(License.license_type == LicenseType(filters.license_type))
    if filters.state or filters.license_type:
        stmt = stmt.where(exists().where(*license_conditions))
    if filters.certification:
        clauses = certification.requirement_clauses(now)
        everything = and_(*clauses.values())
        if filters.certification == "certified":
            stmt = stmt.where(everything)
        elif filters.certification == "not_certified":
            stmt = stmt.where(~everything)
        elif filters.certification.startswith("missing_"):
            stmt = stmt.where(~clauses[filters.certification.removeprefix("missing_")])
    order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])[1]
    return stmt.order_by(*order)


@dataclass
class DirectoryRow:
    """One therapist as the directory shows them (the CSV has exactly these columns)."""

    user: User
    states: list[str]
    license_types: list[str]
    met: list[str]
    missing: list[str]

    @property
    def certified(self) -> bool:
        return not self.missing

    @property
    def certification_text(self) -> str:
        if self.certified:
            return "Certified"
        return f"{len(self.met)} of {len(self.met) + len(self.missing)}; missing " + ", ".join(
            REQUIREMENT_LABELS[k] for k in self.missing
        )

    def csv_values(self) -> list[str]:
        """The row's cells as the screen shows them (dates in the viewer's time zone)."""

        def local(value: datetime | None) -> str:
            return localdate(value) if value else ""

        return [
            self.user.full_name,
            self.user.email,
            " ".join(self.states),
            "; ".join(self.license_types),
            self.certification_text,
            local(self.user.created_at),
            local(self.user.last_login_at),
        ]


CSV_HEADER = [
    "Name",
    "E-mail",
    "License states",
    "License types",
    "Certification",
    "Joined",
    "Last log-in",
]


def directory_rows(users: list[User], now: datetime) -> list[DirectoryRow]:
    """Licenses and requirement flags for ``users`` in two queries, whatever their number."""
    if not users:
        return []
    ids = [u.id for u in users]
    clauses = certification.requirement_clauses(now)
    flags = {
        row.id: row
        for row in db.session.execute(
            select(User.id, *(c.label(k) for k, c in clauses.items())).where(User.id.in_(ids))
        )
    }
    licenses: dict[int, list[tuple[str, LicenseType]]] = {}
    for user_id, state, kind in db.session.execute(
        select(License.user_id, License.state, License.license_type)
        .where(License.user_id.in_(ids), License.status != RecordStatus.REJECTED)
        .order_by(License.state, License.id)
    ):
        licenses.setdefault(user_id, []).append((state, kind))
    rows = []
    for user in users:
        held = licenses.get(user.id, [])
        flag = flags[user.id]
        met = [k for k in clauses if getattr(flag, k)]
        rows.append(
            DirectoryRow(
                user=user,
                states=sorted({state for state, _ in held}),
                license_types=sorted({kind.short for _, kind in held}),
                met=met,
                missing=[k for k in clauses if k not in met],
            )
        )
    return rows


@dataclass
class TherapistRecord:
    """Everything an admin needs about one therapist, on one page."""

    status: Any
    progress: list[Any]
    attempts: list[Any]
    certificates: list[Any]
    licensure: Any
    payments: list[Any]
    referral_counts: dict[str, int]


def therapist_record(user: User, now: datetime) -> TherapistRecord:
    from lms.licensure import services as licensure
    from lms.payments.models import Payment
    from lms.training import services as training
    from lms.training.models import ModuleVersion, QuizAttempt

    counts = dict(
        db.session.execute(
            select(Referral.status, func.count())
            .where(Referral.therapist_id == user.id)
            .group_by(Referral.status)
        ).all()
    )
    return TherapistRecord(
        status=certification.certification_status(user, now),
        progress=[training.course_progress(e) for e in training.user_enrollments(user)],
        attempts=list(
            db.session.execute(
                select(QuizAttempt, ModuleVersion.title)
                .join(ModuleVersion, ModuleVersion.id == QuizAttempt.module_version_id)
                .where(QuizAttempt.user_id == user.id)
                .order_by(QuizAttempt.started_at.desc(), QuizAttempt.id.desc())
                .limit(20)
            )
        ),
        certificates=certification.user_certificates(user),
        licensure=licensure.overview(user),
        payments=list(
            db.session.scalars(
                select(Payment)
                .where(Payment.user_id == user.id)
                .order_by(Payment.created_at.desc(), Payment.id.desc())
            )
        ),
        referral_counts={ReferralStatus(k).label: v for k, v in counts.items()},
    )


def support_overdue(now: datetime) -> ActionList:
    """Support requests past their first-response target with no reply, most overdue first."""
    from lms.support.models import ACTIVE_STATUSES, SupportRequest

    return _action_list(
        select(SupportRequest)
        .where(
            SupportRequest.status.in_(ACTIVE_STATUSES),
            SupportRequest.first_response_at.is_(None),
            SupportRequest.due_at <= now,
        )
        .order_by(SupportRequest.due_at, SupportRequest.id)
    )
