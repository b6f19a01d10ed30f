"""Who is told about a request, and how: in-app alerts and e-mails (after the commit).

E-mails carry no clinical details: the request number, urgency, category, due time and a
link. The content is behind the log-in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Insert, Select, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lms import audit
from lms.accounts import sessions
from lms.accounts.models import Role, User
from lms.extensions import db
from lms.mail import external_url, send_email, send_email_in_zones
from lms.support.models import (
    AlertKind,
    EventKind,
    OnCall,
    Step,
    SupportAlert,
    SupportEvent,
    SupportNotification,
    SupportRequest,
)
from lms.support.timing import escalation_contacts, in_zone, target_label

STAFF_REASON = "You receive this e-mail because you are a clinician or admin of the network."
CONTACT_REASON = "You receive this e-mail because you are an escalation contact of the network."
THERAPIST_REASON = "You receive this e-mail because you filed a medical-support request."


# --- recipients -------------------------------------------------------------------------------


class Recipient(NamedTuple):
    """A person to notify: what an e-mail and an alert need, read as columns (a filing tells
    every on-call clinician; loading each as a whole account would read, and decrypt, what
    no notification uses)."""

    id: int
    email: str
    full_name: str
    timezone: str

    @classmethod
    def of(cls, user: User) -> Recipient:
        return cls(user.id, user.email, user.full_name, user.timezone)


def _recipients(stmt: Select[Any]) -> list[Recipient]:
    return [Recipient(*row) for row in db.session.execute(stmt)]


def _recipient_columns() -> Select[Any]:
    return select(User.id, User.email, User.full_name, User.timezone)


def _on_call(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` over users, narrowed to the active clinicians on call now, by name."""
    return (
        stmt.join(OnCall, OnCall.user_id == User.id)
        .where(OnCall.on_call.is_(True), User.role == Role.CLINICIAN, User.is_active.is_(True))
        .order_by(User.full_name, User.id)
    )


@functools.cache
def _on_call_recipients() -> Select[Any]:
    return _on_call(_recipient_columns())  # built once: it has no parameter


def on_call_clinicians() -> list[Recipient]:
    return _recipients(_on_call_recipients())


def _active_by_name(*conditions: Any) -> list[Recipient]:
    return _recipients(
        _recipient_columns()
        .where(*conditions, User.is_active.is_(True))
        .order_by(User.full_name, User.id)
    )


def all_staff() -> list[Recipient]:
    return _active_by_name(User.role.in_([Role.CLINICIAN, Role.ADMIN]))


def first_line() -> tuple[list[Recipient], bool]:
    """On-call clinicians; if nobody is on call, every clinician and admin (fallback=True)."""
    on_call = on_call_clinicians()
    if on_call:
        return on_call, False
    return all_staff(), True


def escalation_recipients(request: SupportRequest) -> tuple[list[Recipient], list[str]]:
    """The escalation contacts (users, and addresses with no account), plus the owner.

    Never nobody: with no contact reachable, every clinician and admin is told.
    """
    contacts = escalation_contacts()
    if contacts:
        users = _active_by_name(func.lower(User.email).in_(contacts))
        known = {u.email.lower() for u in users}
        extra = [c for c in contacts if c not in known]
    else:
        users = _active_by_name(User.role == Role.ADMIN)
        extra = []
    owner = request.claimed_by
    if owner is not None and owner.is_active and owner.id not in {u.id for u in users}:
        users.append(Recipient.of(owner))
    if not users and not extra:
        users = all_staff()
    return users, extra


# --- the ledger -------------------------------------------------------------------------------


def sent_steps(request_id: int) -> set[tuple[Step, int]]:
    return {
        (row.step, row.sequence)
        for row in db.session.execute(
            select(SupportNotification.step, SupportNotification.sequence).where(
                SupportNotification.request_id == request_id
            )
        )
    }


def send_step(
    request: SupportRequest,
    step: Step,
    sequence: int,
    *,
    due_at: datetime,
    now: datetime,
    new_request: bool = False,
) -> SupportNotification | None:
    """Record ``step`` in the ledger and notify its recipients; None if it was already sent.

    The ledger row is inserted in a savepoint: when another worker sent the same step
    first, its unique key refuses ours and this step is skipped, not sent twice. A
    ``new_request`` (filed in this very transaction) is seen by no other worker, so nobody
    else can have sent its step: its ledger row, events and audit rows are then written
    together in the last flush, without the savepoint (four statements fewer a filing).
    """
    with db.session.no_autoflush:  # what is pending is written once, below
        if step == Step.BREACH:
            users, extra = escalation_recipients(request)
            fallback = False
        else:
            users, fallback = first_line()
            extra = []
    row = SupportNotification(
        request_id=request.id,
        step=step,
        sequence=sequence,
        due_at=due_at,
        sent_at=now,
        recipient_count=len(users) + len(extra),
        fallback=fallback,
    )
    if new_request:
        db.session.add(row)
    else:
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            return None

    kind = {
        Step.FILED: AlertKind.NEW_REQUEST,
        Step.HALF: AlertKind.RENOTIFY,
        Step.BREACH: AlertKind.ESCALATION,
    }[step]
    by_zone: dict[str | None, list[str]] = {}
    for user in users:
        by_zone.setdefault(user.timezone, []).append(user.email)
    by_zone.setdefault(None, []).extend(extra)
    # The message differs only by the times shown in the reader's zone.
    _email_step(request, step, sequence, by_zone, fallback)

    if step == Step.BREACH and request.breached_at is None:
        request.breached_at = now
    names = ", ".join([u.full_name for u in users] + extra) or "nobody (no staff account exists)"
    who = {
        Step.FILED: "every clinician and admin (nobody on call)"
        if fallback
        else "the on-call clinicians",
        Step.HALF: "every clinician and admin (nobody on call)"
        if fallback
        else "the on-call clinicians",
        Step.BREACH: "the escalation contacts",
    }[step]
    late = (now - due_at).total_seconds() > 120
    body = f"{step.label}" + (f" (repeat {sequence})" if sequence else "")
    body += f": {who} were told by e-mail and in the app: {names}."
    if late:
        body += f" Sent late (due {in_zone(due_at, 'UTC')}): the escalation worker was not running."
    db.session.add(
        SupportEvent(
            request_id=request.id,
            actor_id=None,
            kind=EventKind.NOTIFIED,
            internal=True,
            body=body,
            created_at=now,
        )
    )
    audit.record(
        {
            Step.FILED: "support.notified",
            Step.HALF: "support.renotified",
            Step.BREACH: "support.escalated",
        }[step],
        request,
        actor=None,
        object_type="support_request",
        step=step.value,
        sequence=sequence,
        recipients=len(users) + len(extra),
        fallback=fallback or None,
        late=late or None,
    )
    if not users and not extra:
        current_app.logger.error(
            "support request %s: no staff account to notify for step %s", request.id, step.value
        )
    db.session.flush()  # the ledger row (if new), the events and the audit rows, by table
    sessions.forget(UNREAD_ALERTS)  # whoever is alerted may be the one viewing this page
    if users:
        values = {
            "request_id": request.id,
            "notification_id": row.id,
            "kind": kind,
            "emailed": True,
            "created_at": now,
            "user_ids": [user.id for user in users],
        }
        # Through the session's connection: with values, the ORM's execute would take this
        # for a bulk INSERT of one row per dictionary.
        db.session.connection().execute(_alerts_insert(), values)
    return row


@functools.cache
def _alerts_insert() -> Insert:
    """Every alert of a step in one INSERT ... SELECT over the recipients' ids: one statement
    for the database (not one execution per row) whose SQL is the same for any number of
    them; built once per process, the values bound."""
    columns = (
        SupportAlert.request_id,
        SupportAlert.notification_id,
        SupportAlert.kind,
        SupportAlert.emailed,
        SupportAlert.created_at,
    )
    return insert(SupportAlert).from_select(
        [SupportAlert.user_id, *columns],
        select(User.id, *(bindparam(c.key, type_=c.type) for c in columns)).where(
            User.id.in_(bindparam("user_ids", expanding=True))
        ),
    )


def _email_step(
    request: SupportRequest,
    step: Step,
    sequence: int,
    by_zone: dict[str | None, list[str]],
    fallback: bool,
) -> None:
    urgency = request.urgency.label
    context = {
        "request_id": request.id,
        "urgency": urgency,
        "category": request.category.label,
        "target": target_label(request.target_minutes),
        "claimed": request.claimed_by is not None,
        "sequence": sequence,
        "link": external_url("support.review", request_id=request.id),
    }
    # Written on each reader's clock: the rest of the message is the same for everyone.
    local: dict[str, Callable[[str | None], str]] = {
        "due": lambda zone: in_zone(request.due_at, zone),
        "filed": lambda zone: in_zone(request.filed_at, zone),
    }
    if step == Step.FILED and fallback:
        template, reason = "support_nobody_on_call", STAFF_REASON

        def subject(v: Mapping[str, str]) -> str:
            return f"Nobody is on call: {urgency.lower()} support request #{request.id}"
    elif step == Step.FILED:
        template, reason = "support_new_request", STAFF_REASON

        def subject(v: Mapping[str, str]) -> str:
            return f"{urgency} support request #{request.id}: respond by {v['due']}"
    elif step == Step.HALF:
        template, reason = "support_renotify", STAFF_REASON

        def subject(v: Mapping[str, str]) -> str:
            return (
                f"Still unclaimed: {urgency.lower()} support request #{request.id}, due {v['due']}"
            )
    else:
        template, reason = "support_escalation", CONTACT_REASON

        def subject(v: Mapping[str, str]) -> str:
            return f"Overdue: {urgency.lower()} support request #{request.id} has no response"

    send_email_in_zones(by_zone, subject, template, reason=reason, local=local, **context)


# --- alerts and e-mails for one person --------------------------------------------------------


def alert(user: User | Recipient, request: SupportRequest, kind: AlertKind, now: datetime) -> None:
    """An in-app alert and an e-mail to one user about ``request`` (replies, assignments)."""
    sessions.forget(UNREAD_ALERTS)
    db.session.add(
        SupportAlert(
            user_id=user.id, request_id=request.id, kind=kind, emailed=True, created_at=now
        )
    )
    if kind in (AlertKind.REPLY,):
        send_email(
            user.email,
            f"A clinician replied to your support request #{request.id}",
            "support_reply",
            reason=THERAPIST_REASON,
            user=user,
            request_id=request.id,
            what="A clinician replied to your request.",
            link=external_url("support.detail", request_id=request.id),
        )
    else:
        what = {
            AlertKind.ASSIGNED: "The request was assigned to you.",
            AlertKind.THERAPIST_REPLY: "The therapist wrote a reply.",
        }.get(kind, kind.label + ".")
        send_email(
            user.email,
            f"Support request #{request.id}: {kind.label.lower()}",
            "support_staff_update",
            reason=STAFF_REASON,
            user=user,
            request_id=request.id,
            urgency=request.urgency.label,
            what=what,
            link=external_url("support.review", request_id=request.id),
        )


def tell_therapist(request: SupportRequest, what: str, now: datetime) -> None:
    """An update that is not a reply (resolved, reopened): e-mail only, no details."""
    send_email(
        request.therapist.email,
        f"Update on your support request #{request.id}",
        "support_reply",
        reason=THERAPIST_REASON,
        user=request.therapist,
        request_id=request.id,
        what=what,
        link=external_url("support.detail", request_id=request.id),
    )


UNREAD_ALERTS = "support_unread_alerts"
# The badge counts unread alerts up to here and shows "99+" beyond: an account that never
# reads its alerts (years of them) costs every page the same as one that does.
BADGE_CAP = 99


def _unread(user_id: Any) -> Any:
    """At most BADGE_CAP + 1 unread alerts of ``user_id`` (a column or a value), counted."""
    some = (
        select(SupportAlert.id)
        .where(SupportAlert.user_id == user_id, SupportAlert.read_at.is_(None))
        .limit(BADGE_CAP + 1)
    )
    return select(func.count()).select_from(some.correlate(User).subquery())


def _unread_of_user() -> Any:
    return _unread(User.id).scalar_subquery()


# The navigation's badge, on every logged-in page: read with the session.
sessions.load_with_session(UNREAD_ALERTS, _unread_of_user)


def unread_count(user_id: int) -> int:
    """Unread alerts of ``user_id``, counted up to BADGE_CAP + 1 (the badge's "99+")."""
    return db.session.scalar(_unread(user_id)) or 0


def badge(count: int) -> str:
    return f"{BADGE_CAP}+" if count > BADGE_CAP else str(count)


def unread_alerts(user_id: int, limit: int = 20) -> list[Any]:
    """The newest unread alerts (request id, kind, time): what the queue lists."""
    params = {"user_id": user_id, "limit": limit}
    return list(db.session.execute(_unread_alerts_statement(), params))


@functools.cache
def _unread_alerts_statement() -> Select[Any]:
    return (
        select(SupportAlert.request_id, SupportAlert.kind, SupportAlert.created_at)
        .where(SupportAlert.user_id == bindparam("user_id"), SupportAlert.read_at.is_(None))
        .order_by(SupportAlert.created_at.desc(), SupportAlert.id.desc())
        .limit(bindparam("limit"))
    )


@functools.cache
def _roster() -> Select[Any]:
    return _on_call(select(User.id, User.full_name))  # built once: it has no parameter


def on_call_roster() -> list[Any]:
    """Who is on call now (id and name, by name): what the queue shows."""
    return list(db.session.execute(_roster()))


def mark_read(user_id: int, now: datetime, request_ids: Iterable[int] | None = None) -> int:
    if sessions.loaded(UNREAD_ALERTS, user_id) == 0:
        return 0  # none unread when this request began (read with the session): no UPDATE
    stmt = (
        update(SupportAlert)
        .where(SupportAlert.user_id == user_id, SupportAlert.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    if request_ids is not None:
        stmt = stmt.where(SupportAlert.request_id.in_(list(request_ids)))
    marked = db.session.execute(stmt).rowcount or 0
    if marked:
        sessions.forget(UNREAD_ALERTS)  # the badge of this page counts afresh
    return marked
