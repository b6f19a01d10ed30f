"""What the operations team reads: the onboarding funnel, what needs action, the directory.

Every number here is one SQL query over the whole table (never a Python loop over
therapists), so the admin pages stay fast with thousands of therapists; the directory's
certification column comes from :func:`lms.certification.services.requirement_clauses`,
the SQL twin of the rule the certification gate applies.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    null,
    select,
    union_all,
)

from lms.accounts.models import Role, User
from lms.certification import services as certification
from lms.db import contains_pattern, count_statement, matches_pattern, written
from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import InsurancePolicy, License, RecordStatus
from lms.referrals.models import Referral, ReferralStatus
from lms.timezones import localdate
from lms.training.models import Course, Enrollment, EnrollmentStatus


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
    # Each condition is evaluated once per therapist: therapists are grouped by which
    # conditions they meet (a few dozen groups at most) and the stages add the groups up.
    # Repeating the conditions inside every stage's CASE made PostgreSQL run each EXISTS up
    # to six times per therapist.
    conditions: list[tuple[str, str, Any]] = [
        ("enrolled", "Enrolled in the required training", enrolled),
        ("paid", "Paid (or enrolment comped)", paid),
        ("trained", "Training complete, certificate valid", clauses["training"]),
        ("licensed", "License verified", clauses["license"]),
    ]
    flags = [condition.label(key) for key, _label, condition in conditions]
    flags += [clause.label(f"req_{key}") for key, clause in clauses.items()]
    # Grouped over a subquery's columns: a condition that is a constant (no required course
    # yet) would otherwise read as "GROUP BY 0", a column position, on SQLite.
    inner = select(*flags).where(User.role == Role.THERAPIST).subquery()
    columns = list(inner.c)
    groups = db.session.execute(select(*columns, func.count().label("n")).group_by(*columns)).all()
    counts = {"registered": 0, "certified": 0, **{key: 0 for key, _l, _c in conditions}}
    for group in groups:
        met = {key: bool(value) for key, value in group._mapping.items() if key != "n"}
        counts["registered"] += group.n
        so_far = True
        for key, _label, _condition in conditions:
            so_far = so_far and met[key]
            counts[key] += group.n if so_far else 0
        if so_far and all(met[f"req_{key}"] for key in clauses):
            counts["certified"] += group.n
    labels = [
        ("registered", "Registered"),
        *((key, label) for key, label, _c in conditions),
        ("certified", "Certified partner"),
    ]
    return [Stage(key, label, counts[key]) for key, label in labels]


# The funnel counted at most once a minute per server process (ADMIN_FUNNEL_CACHE_SECONDS):
# it groups every therapist by five requirements (about 25 ms on 5,000 therapists), and a
# minute-old count serves the dashboard as well. Keyed by database: tests run several apps.
_funnel_memo: dict[str, tuple[float, datetime, list[Stage]]] = {}


def recent_funnel(now: datetime) -> tuple[list[Stage], datetime]:
    """The funnel and when it was counted: now, or up to ``ADMIN_FUNNEL_CACHE_SECONDS`` ago."""
    seconds = float(current_app.config["ADMIN_FUNNEL_CACHE_SECONDS"])
    if seconds <= 0:
        return funnel(now), now
    key = str(current_app.config["DATABASE_URL"])
    memo = _funnel_memo.get(key)
    if memo is not None and time.monotonic() < memo[0]:
        return memo[2], memo[1]
    stages = funnel(now)
    _funnel_memo[key] = (time.monotonic() + seconds, now, stages)
    return stages, now


@dataclass
class ActionList:
    """A "needs action now" box: the oldest few items and how many there are in all."""

    items: list[Any]
    total: int


@dataclass(frozen=True)
class WaitingReferral:
    id: int
    state: str
    created_at: datetime
    referred_by: str


@dataclass(frozen=True)
class _Box:
    """One box's statements: its first rows (as the columns it shows) and what it counts."""

    group: str  # the template's name for it: awaiting, expiring, referrals, support
    kind: str | None  # license or insurance, for the boxes that come in pairs
    rows: Select[Any] | None  # None: read with the other records' (_dashboard_statements)
    counted: Select[Any]
    row: Callable[[Any], Any] | None = None
    order: str = ""  # the records' boxes: the column their rows come in order of, then id


BOX_ROWS = 8  # the oldest (or soonest) few a box lists


def _box(
    group: str,
    kind: str | None,
    stmt: Select[Any],
    *columns: Any,
    row: Callable[[Any], Any] | None = None,
    limit: Any = BOX_ROWS,
) -> _Box:
    """A box over ``stmt``: its first rows read as ``columns`` (no objects built, nothing
    decrypted that is not shown), each passed through ``row`` if given, and its count.
    ``limit``: the number of rows, a parameter unless given :func:`written`."""
    return _Box(group, kind, stmt.with_only_columns(*columns).limit(limit), stmt, row)


def _record_rows(index: int, stmt: Select[Any], model: Any, by: Any) -> Select[Any]:
    """The first rows of a box of licenses or insurance policies, as columns every such box
    shares (a license's type and state, a policy's carrier, the other kind's as nulls),
    with the box's ``index``: the four boxes are read in one statement
    (:func:`_dashboard_statements`), and their rows put in order again once read (a UNION
    keeps no order; a row number for it made PostgreSQL read 33 rows of a box, not 8)."""

    def absent(column: Any) -> Any:
        return cast(null(), column.type)  # typed: PostgreSQL unites like with like

    if model is License:
        what = (License.license_type, License.state, absent(InsurancePolicy.carrier))
    else:
        what = (absent(License.license_type), absent(License.state), InsurancePolicy.carrier)
    first = stmt.with_only_columns(
        written(index).label("box"),
        model.id,
        model.user_id,
        User.name_of(model.user_id).label("full_name"),
        what[0].label("license_type"),
        what[1].label("state"),
        what[2].label("carrier"),
        model.submitted_at,
        model.expires_on,
    ).limit(written(BOX_ROWS))
    # In a subquery: SQLite takes no ORDER BY or LIMIT on the members of a UNION itself.
    return select(first.subquery())


@functools.cache
def _dashboard_statements() -> tuple[tuple[_Box, ...], Select[Any], Select[Any]]:
    """The dashboard's boxes, the one statement that counts them all and the one that reads
    the first rows of the four boxes of records (licenses and insurance policies awaiting a
    decision or expiring), built once ("now", "today" and the end of the expiry window are
    parameters): building them took 0.75 ms a page."""
    from lms.support.models import SupportRequest

    today = bindparam("today", type_=License.expires_on.type)
    until = bindparam("until", type_=License.expires_on.type)
    now = bindparam("now", type_=SupportRequest.due_at.type)
    boxes: list[_Box] = []

    shared: list[Select[Any]] = []  # the record boxes' rows, read in one statement

    def records(group: str, kind: str, model: Any, *conditions: Any, by: Any) -> _Box:
        """License or insurance records meeting ``conditions``, first ``by``."""
        stmt = select(model).where(*conditions).order_by(by, model.id)
        shared.append(_record_rows(len(boxes), stmt, model, by))
        return _Box(group, kind, None, stmt, order=by.key)

    for kind, model in (("license", License), ("insurance", InsurancePolicy)):
        # Records waiting for a decision, oldest submission first; verified records that
        # expire within the window, soonest first.
        boxes.append(
            records(
                "awaiting",
                kind,
                model,
                model.status == written(RecordStatus.PENDING, model.status.type),
                by=model.submitted_at,
            )
        )
        boxes.append(
            records(
                "expiring",
                kind,
                model,
                model.status == written(RecordStatus.VERIFIED, model.status.type),
                model.expires_on > today,
                model.expires_on <= until,
                by=model.expires_on,
            )
        )
    # Referrals nobody has acted on yet (status new), oldest first. The patients' details
    # are not shown here, so not one of them is decrypted.
    boxes.append(
        _box(
            "referrals",
            None,
            select(Referral)
            .where(Referral.status == written(ReferralStatus.NEW, Referral.status.type))
            .order_by(Referral.created_at, Referral.id),
            Referral.id,
            Referral.state,
            Referral.created_at,
            Referral.source,
            User.name_of(Referral.therapist_id),
            row=lambda r: WaitingReferral(r[0], r[1], r[2], Referral.referrer(r[3], r[4])),
            # With its status and limit written, the statement has no parameter left and
            # PostgreSQL plans it once (as parameters, it planned it again on every page).
            limit=written(BOX_ROWS),
        )
    )
    # Support requests past their first-response target with no reply, most overdue first.
    boxes.append(
        _box(
            "support",
            None,
            select(SupportRequest)
            .where(
                SupportRequest.active_condition(),
                SupportRequest.first_response_at.is_(None),
                SupportRequest.due_at <= now,
            )
            .order_by(SupportRequest.due_at, SupportRequest.id),
            SupportRequest.id,
            SupportRequest.urgency,
            SupportRequest.due_at,
        )
    )
    # Every box's count in one round trip, not one each; the four record boxes' rows in one.
    counts = select(*(count_statement(box.counted).scalar_subquery() for box in boxes))
    united = union_all(*shared).subquery("records")
    record_rows = select(united)
    return tuple(boxes), counts, record_rows


def dashboard_boxes(now: datetime, today: date, days: int = 30) -> dict[str, Any]:
    """What needs action now, as the dashboard shows it: ``awaiting`` and ``expiring``
    (within ``days``) as {"license": box, "insurance": box}, ``referrals`` and ``support``
    as one box each."""
    boxes, counts, record_rows = _dashboard_statements()
    params = {"now": now, "today": today, "until": today + timedelta(days=days)}
    totals = db.session.execute(counts, params).one()
    records: dict[int, list[Any]] = {}
    for record in db.session.execute(record_rows, params):
        records.setdefault(record.box, []).append(record)
    shown: dict[str, Any] = {"awaiting": {}, "expiring": {}}
    for index, (box, total) in enumerate(zip(boxes, totals, strict=True)):
        if box.rows is None:
            by = box.order
            rows = sorted(records.get(index, []), key=lambda r, by=by: (getattr(r, by), r.id))
        else:
            rows = list(db.session.execute(box.rows, params))
        action = ActionList([box.row(r) for r in rows] if box.row else rows, int(total or 0))
        if box.kind is None:
            shown[box.group] = action
        else:
            shown[box.group][box.kind] = action
    return shown


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


# What the directory shows of each therapist (and the CSV writes): read as columns, not
# whole accounts (a page of 25 would otherwise load every column of each, password hash
# and two-step secret included, into objects the page only reads five values of).
DIRECTORY_COLUMNS = (User.id, User.full_name, User.email, User.created_at, User.last_login_at)


def directory_query(filters: DirectoryFilters, now: datetime) -> tuple[Select[Any], dict[str, Any]]:
    """Therapists matching ``filters`` as rows of :data:`DIRECTORY_COLUMNS`, in the chosen
    order (the screen and the CSV share it), and the values of the statement's parameters.

    Without a certification filter the statement is built once per shape (which filters
    are set, and the order), its values parameters: building it took longer than
    PostgreSQL took to run a search (docs/PERFORMANCE.md, "The twelfth round")."""
    sort = filters.sort if filters.sort in SORTS else DEFAULT_SORT
    stmt = _directory_statement(
        bool(filters.q), bool(filters.state), bool(filters.license_type), sort
    )
    params: dict[str, Any] = {}
    if filters.q:
        params["needle"] = contains_pattern(filters.q)
    if filters.state:
        params["state"] = filters.state
    if filters.license_type:
        params["license_type"] = LicenseType(filters.license_type)
    if filters.certification:
        clauses = certification.requirement_clauses(now)
        everything = and_(*clauses.values())
        if filters.certification == "certified":
            stmt = stmt.where(everything)
        elif filters.certification == "not_certified":
            stmt = stmt.where(~everything)
        elif filters.certification.startswith("missing_"):
            stmt = stmt.where(~clauses[filters.certification.removeprefix("missing_")])
    return stmt, params


@functools.lru_cache(maxsize=64)
def _directory_statement(search: bool, state: bool, license_type: bool, sort: str) -> Select[Any]:
    """The directory's statement for one shape of filters; values as parameters ("needle",
    "state", "license_type")."""
    # The role is written into the SQL: with nothing else sent, the unfiltered directory is
    # planned once (lms.db.written).
    stmt = select(*DIRECTORY_COLUMNS).where(User.role == written(Role.THERAPIST, User.role.type))
    if search:
        needle = bindparam("needle", type_=String)
        stmt = stmt.where(matches_pattern(needle, User.full_name, User.email))
    license_conditions = [License.user_id == User.id, License.status != RecordStatus.REJECTED]
    if state:
        license_conditions.append(License.state == bindparam("state", type_=String))
    if license_type:
        kind = bindparam("license_type", type_=License.__table__.c.license_type.type)
        license_conditions.append(License.license_type == kind)
    if state or license_type:
        stmt = stmt.where(exists().where(*license_conditions))
    return stmt.order_by(*SORTS[sort][1])


@dataclass
class DirectoryRow:
    """One therapist as the directory shows them (the CSV has exactly these columns).
    ``user``: a row of :data:`DIRECTORY_COLUMNS` (or a whole account: the same names)."""

    user: Any
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
            self.missing
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


@functools.cache
def _licenses_statement() -> Select[Any]:
    """The listed therapists' licenses (built once per process, the ids bound)."""
    return (
        select(License.user_id, License.state, License.license_type)
        .where(
            License.user_id.in_(bindparam("user_ids", expanding=True)),
            License.status != RecordStatus.REJECTED,
        )
        .order_by(License.state, License.id)
    )


def directory_rows(users: Sequence[Any], now: datetime) -> list[DirectoryRow]:
    """Licenses and requirement flags for ``users`` in two queries, whatever their number."""
    if not users:
        return []
    ids = [u.id for u in users]
    flags = certification.requirement_flags(ids, now)
    licenses: dict[int, list[tuple[str, LicenseType]]] = {}
    for user_id, state, kind in db.session.execute(_licenses_statement(), {"user_ids": ids}):
        licenses.setdefault(user_id, []).append((state, kind))
    rows = []
    for user in users:
        held = licenses.get(user.id, [])
        flag = flags[user.id]
        met = [k for k in certification.KEYS if getattr(flag, k)]
        rows.append(
            DirectoryRow(
                user=user,
                states=sorted({state for state, _ in held}),
                license_types=sorted({kind.short for _, kind in held}),
                met=met,
                missing=[k for k in certification.KEYS if k not in met],
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
        progress=training.learner_progress(user),
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
