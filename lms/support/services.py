"""Support queue rules: filing, the atomic claim, replies, notes, status changes, the queue.

Services flush; the caller (a view, the escalation job, a test thread) commits once.
Every change is a new :class:`SupportEvent` (the append-only history) and an audit row
with no clinical details; e-mails go out after the commit and carry no clinical details.
Every function that depends on the time takes ``now`` so tests pass a frozen clock.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, update
from sqlalchemy.orm import joinedload

from lms import audit
from lms.accounts.models import Role, User
from lms.crypto import matches_words_or_number
from lms.db import LARGEST_ID, in_select, matches_any, utcnow
from lms.extensions import db
from lms.referrals.models import Referral
from lms.support import notifications
from lms.support.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    AlertKind,
    Category,
    EventKind,
    OnCall,
    Status,
    Step,
    SupportEvent,
    SupportRequest,
    Urgency,
)
from lms.support.timing import due_time, target_minutes

OBJECT_TYPE = "support_request"


class SupportError(Exception):
    """A rule refused the action; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyClaimed(SupportError):
    """Somebody else claimed the request first."""

    def __init__(self, owner: User, claimed_at: datetime | None) -> None:
        super().__init__(f"{owner.full_name} has already claimed this request.")
        self.owner = owner
        self.claimed_at = claimed_at


def _audit(action: str, request: SupportRequest, actor: User | None, **details: Any) -> None:
    audit.record(action, request, actor=actor, object_type=OBJECT_TYPE, **details)


def _event(
    request: SupportRequest,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    body: str | None = None,
    from_status: Status | None = None,
    to_status: Status | None = None,
    assignee: User | None = None,
) -> SupportEvent:
    row = SupportEvent(
        request_id=request.id,
        actor_id=actor.id if actor else None,
        kind=kind,
        internal=kind == EventKind.NOTE or kind == EventKind.NOTIFIED,
        body=body,
        from_status=from_status,
        to_status=to_status,
        assignee_id=assignee.id if assignee else None,
        created_at=now,
    )
    db.session.add(row)
    return row


def _touch(request: SupportRequest, now: datetime) -> None:
    request.updated_at = now
    request.version = request.version + 1


def _move(
    request: SupportRequest,
    to_status: Status,
    kind: EventKind,
    actor: User,
    now: datetime,
    *,
    assignee: User | None = None,
) -> Status:
    """Change the status with its history event and a new version; returns the old status."""
    before = request.status
    _event(request, kind, actor, now, from_status=before, to_status=to_status, assignee=assignee)
    request.status = to_status
    _touch(request, now)
    return before


def _lock(request: SupportRequest) -> SupportRequest:
    """Re-read the row, locked until the commit (PostgreSQL), so two changes serialise."""
    db.session.refresh(request, with_for_update=True)
    return request


def _text(body: str | None, message: str) -> str:
    body = (body or "").strip()
    if not body:
        raise SupportError(message)
    return body


# --- filing -----------------------------------------------------------------------------------


def _own_referrals(therapist: User, *columns: Any) -> Select[Any]:
    """``columns`` of the therapist's referrals, newest first."""
    return (
        select(*columns)
        .where(Referral.therapist_id == therapist.id)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    )


def own_referrals(therapist: User) -> list[tuple[int, str]]:
    """The therapist's referrals as (id, patient name), newest first: the patients a
    request can be about. Only the name is read (and decrypted), not the whole record."""
    return [
        (row.id, row.patient_name)
        for row in db.session.execute(_own_referrals(therapist, Referral.id, Referral.patient_name))
    ]


def own_referral_id(therapist: User, value: Any) -> int | None:
    """``value`` (a submitted referral number) as an int if it is one of the therapist's
    referrals, else None: one indexed look-up, no name read (what checking a choice needs)."""
    try:
        referral_id = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < referral_id <= LARGEST_ID:  # names no row (and the database would refuse it)
        return None
    owner = db.session.scalar(select(Referral.therapist_id).where(Referral.id == referral_id))
    return referral_id if owner == therapist.id else None


def find_by_token(therapist: User, token: str | None) -> SupportRequest | None:
    if not token:
        return None
    params = {"token": token, "therapist_id": therapist.id}
    return db.session.scalar(_by_token_statement(), params)


@functools.cache
def _by_token_statement() -> Select[tuple[SupportRequest]]:
    return select(SupportRequest).where(
        SupportRequest.submission_token == bindparam("token"),
        SupportRequest.therapist_id == bindparam("therapist_id"),
    )


def file_request(
    therapist: User, data: dict[str, Any], *, now: datetime | None = None
) -> SupportRequest:
    """File a request and notify the on-call clinicians (everyone if nobody is on call).

    A second submission of the same form (same ``submission_token``) returns the first
    request instead of filing it twice.
    """
    now = now or utcnow()
    if therapist.role != Role.THERAPIST:
        raise SupportError("Only partner therapists file support requests.")
    token = (data.get("submission_token") or "").strip() or None
    existing = find_by_token(therapist, token)
    if existing is not None:
        return existing
    try:
        urgency = Urgency(data.get("urgency"))
        category = Category(data.get("category"))
    except ValueError:
        raise SupportError("Choose the urgency and the category from the lists.") from None
    referral_id = data.get("referral_id") or None
    if referral_id is not None:
        referral_id = own_referral_id(therapist, referral_id)
        if referral_id is None:
            raise SupportError("Choose one of the patients you referred, or none.")
    minutes = target_minutes(urgency)
    request = SupportRequest(
        therapist_id=therapist.id,
        referral_id=referral_id,
        category=category,
        urgency=urgency,
        subject=_text(data.get("subject"), "Write a subject."),
        description=_text(data.get("description"), "Describe what you need."),
        callback_phone=_text(data.get("callback_phone"), "Give a phone number to call you back."),
        status=Status.OPEN,
        target_minutes=minutes,
        filed_at=now,
        due_at=due_time(now, minutes),
        updated_at=now,
        version=1,
        submission_token=token,
    )
    db.session.add(request)
    db.session.flush()
    _event(request, EventKind.FILED, therapist, now, to_status=Status.OPEN)
    _audit(
        "support.filed",
        request,
        therapist,
        urgency=urgency.value,
        category=category.value,
        target_minutes=minutes,
    )
    notifications.send_step(request, Step.FILED, 0, due_at=now, now=now, new_request=True)
    return request


# --- the atomic claim -------------------------------------------------------------------------


def claim(request_id: int, clinician_id: int, *, now: datetime | None = None) -> SupportRequest:
    """Claim an unclaimed request for ``clinician_id``: exactly one of concurrent claims wins.

    One conditional UPDATE decides: it matches only while nobody owns the request, and the
    database applies concurrent UPDATEs of a row one after the other (PostgreSQL re-checks
    the condition on the committed row; SQLite has one writer at a time). The UPDATE is the
    first statement, so on SQLite it waits for the write lock instead of failing.
    Losers get :class:`AlreadyClaimed` naming the owner. The queue page, the reply form
    ("claim and reply") and the concurrency tests all come through here.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(SupportRequest)
        .where(
            SupportRequest.id == request_id,
            SupportRequest.claimed_by_id.is_(None),
            SupportRequest.status == Status.OPEN,
        )
        .values(
            claimed_by_id=clinician_id,
            claimed_at=now,
            status=Status.CLAIMED,
            version=SupportRequest.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    request = db.session.get(SupportRequest, request_id, populate_existing=True)
    if request is None:
        raise SupportError("This request does not exist.")
    if result.rowcount != 1:
        if request.claimed_by is not None:
            raise AlreadyClaimed(request.claimed_by, request.claimed_at)
        raise SupportError(
            f"This request is {request.status.staff_label.lower()}: it cannot be claimed."
        )
    clinician = db.session.get(User, clinician_id)
    if clinician is None or clinician.role != Role.CLINICIAN or not clinician.is_active:
        raise SupportError("Only an active clinician can claim a request.")
    _event(
        request,
        EventKind.CLAIMED,
        clinician,
        now,
        from_status=Status.OPEN,
        to_status=Status.CLAIMED,
        assignee=clinician,
    )
    _audit("support.claimed", request, clinician)
    db.session.flush()
    return request


def _owned_by(request: SupportRequest, clinician: User, now: datetime) -> SupportRequest:
    """The request, owned by ``clinician``: claimed for them now if it is unclaimed."""
    if clinician.role != Role.CLINICIAN:
        raise SupportError("Only clinicians reply to and resolve requests.")
    if request.status == Status.OPEN:
        return claim(request.id, clinician.id, now=now)
    _lock(request)
    if request.status in FINISHED_STATUSES:
        raise SupportError(
            f"This request is {request.status.staff_label.lower()}. Reopen it first."
        )
    if request.claimed_by_id != clinician.id:
        owner = request.claimed_by.full_name if request.claimed_by else "another clinician"
        raise SupportError(f"{owner} has this request. Ask them, or reassign it to yourself.")
    return request


# --- clinicians' actions ----------------------------------------------------------------------


def reply(
    request: SupportRequest, clinician: User, body: str | None, *, now: datetime | None = None
) -> SupportEvent:
    """A reply the therapist sees; the first one meets (or misses) the response target."""
    now = now or utcnow()
    text = _text(body, "Write the reply.")
    request = _owned_by(request, clinician, now)
    event = _event(request, EventKind.REPLY, clinician, now, body=text)
    first = request.first_response_at is None
    if first:
        request.first_response_at = now
        request.first_response_by_id = clinician.id
    _touch(request, now)
    _audit(
        "support.replied",
        request,
        clinician,
        first_response=first or None,
        met_target=(now <= request.due_at) if first else None,
    )
    notifications.alert(request.therapist, request, AlertKind.REPLY, now)
    db.session.flush()
    return event


def add_note(
    request: SupportRequest, actor: User, body: str | None, *, now: datetime | None = None
) -> SupportEvent:
    """An internal note: clinicians and admins only, never shown to the therapist."""
    now = now or utcnow()
    if not actor.is_staff:
        raise SupportError("Only clinicians and admins write internal notes.")
    text = _text(body, "Write the note.")
    _lock(request)
    event = _event(request, EventKind.NOTE, actor, now, body=text)
    request.updated_at = now
    _audit("support.note_added", request, actor)
    db.session.flush()
    return event


def assignable_clinicians() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.CLINICIAN, User.is_active.is_(True))
            .order_by(User.full_name, User.id)
        )
    )


def reassign(
    request: SupportRequest,
    actor: User,
    assignee_id: int | None,
    seen_version: int | None,
    *,
    now: datetime | None = None,
) -> SupportRequest:
    """Give the request to another clinician (clinicians and admins may).

    A conditional UPDATE on the version the actor saw: if anyone changed the request
    meanwhile (claimed it, reassigned it), nothing happens and the actor is told.
    """
    now = now or utcnow()
    if not actor.is_staff:
        raise SupportError("Only clinicians and admins reassign requests.")
    assignee = db.session.get(User, assignee_id) if assignee_id else None
    if assignee is None or assignee.role != Role.CLINICIAN or not assignee.is_active:
        raise SupportError("Choose an active clinician.")
    if request.status in FINISHED_STATUSES:
        raise SupportError(f"This request is {request.status.staff_label.lower()}.")
    if request.claimed_by_id == assignee.id:
        raise SupportError(f"{assignee.full_name} already has this request.")
    before_status, before_owner = request.status, request.claimed_by
    new_status = Status.CLAIMED if before_status == Status.OPEN else before_status
    seen = seen_version or request.version
    changed = 0
    # A version no row can have (a form tampered with) matches nothing, as a stale one does;
    # the database would refuse the number itself.
    if 0 < seen <= LARGEST_ID:
        changed = db.session.execute(
            update(SupportRequest)
            .where(
                SupportRequest.id == request.id,
                SupportRequest.version == seen,
                SupportRequest.status == before_status,
            )
            .values(
                claimed_by_id=assignee.id,
                claimed_at=now,
                status=new_status,
                version=SupportRequest.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.refresh(request)
    if changed != 1:
        owner = request.claimed_by.full_name if request.claimed_by else "nobody"
        raise SupportError(
            "The request changed while you were looking at it "
            f"(it is {request.status.staff_label.lower()}, owner: {owner}). "
            "Look at it again and retry."
        )
    _event(
        request,
        EventKind.REASSIGNED,
        actor,
        now,
        body=f"From {before_owner.full_name if before_owner else 'the queue'} "
        f"to {assignee.full_name}.",
        from_status=before_status,
        to_status=new_status,
        assignee=assignee,
    )
    _audit(
        "support.reassigned",
        request,
        actor,
        from_user_id=before_owner.id if before_owner else None,
        to_user_id=assignee.id,
    )
    if assignee.id != actor.id:
        notifications.alert(assignee, request, AlertKind.ASSIGNED, now)
    db.session.flush()
    return request


def _reply_first(
    request: SupportRequest, clinician: User, message: str | None, now: datetime, why: str
) -> SupportRequest:
    message = (message or "").strip()
    if message:
        reply(request, clinician, message, now=now)
    request = _owned_by(request, clinician, now)
    if request.first_response_at is None:
        raise SupportError(why)
    return request


def await_therapist(
    request: SupportRequest,
    clinician: User,
    message: str | None = None,
    *,
    now: datetime | None = None,
) -> SupportRequest:
    """Wait for the therapist (after telling them what is needed: a reply is required)."""
    now = now or utcnow()
    request = _reply_first(
        request,
        clinician,
        message,
        now,
        "Reply to the therapist first: tell them what you need from them.",
    )
    if request.status != Status.CLAIMED:
        raise SupportError("The request is already waiting for the therapist.")
    _move(request, Status.AWAITING_THERAPIST, EventKind.AWAITING, clinician, now)
    _audit("support.awaiting_therapist", request, clinician)
    db.session.flush()
    return request


def resolve(
    request: SupportRequest,
    clinician: User,
    message: str | None = None,
    *,
    now: datetime | None = None,
) -> SupportRequest:
    """Resolve; a request nobody has answered yet needs a final message to the therapist."""
    now = now or utcnow()
    request = _reply_first(
        request,
        clinician,
        message,
        now,
        "Write a message to the therapist: nobody has replied to this request yet.",
    )
    _move(request, Status.RESOLVED, EventKind.RESOLVED, clinician, now)
    request.resolved_at = now
    _audit("support.resolved", request, clinician)
    notifications.tell_therapist(request, "A clinician marked your request resolved.", now)
    db.session.flush()
    return request


def reopen(
    request: SupportRequest, clinician: User, *, now: datetime | None = None
) -> SupportRequest:
    """Reopen a resolved or closed request; the clinician who reopens it owns it."""
    now = now or utcnow()
    if clinician.role != Role.CLINICIAN:
        raise SupportError("Only clinicians reopen requests.")
    _lock(request)
    if request.status not in FINISHED_STATUSES:
        raise SupportError("The request is not resolved or closed.")
    before = _move(request, Status.CLAIMED, EventKind.REOPENED, clinician, now, assignee=clinician)
    request.claimed_by_id = clinician.id
    request.claimed_at = now
    request.resolved_at = None
    request.closed_at = None
    _audit("support.reopened", request, clinician, from_status=before.value)
    notifications.tell_therapist(request, "A clinician reopened your request.", now)
    db.session.flush()
    return request


# --- therapists' actions ----------------------------------------------------------------------


def therapist_reply(
    request: SupportRequest, therapist: User, body: str | None, *, now: datetime | None = None
) -> SupportEvent:
    """The therapist answers; a resolved request opens again and its clinician is told."""
    now = now or utcnow()
    text = _text(body, "Write your reply.")
    _lock(request)
    if request.therapist_id != therapist.id:
        raise SupportError("This is not your request.")
    if request.status == Status.CLOSED:
        raise SupportError("You closed this request. File a new one if you need more help.")
    before = request.status
    owner = request.claimed_by
    if before in (Status.AWAITING_THERAPIST, Status.RESOLVED):
        if owner is not None and owner.is_active:
            request.status = Status.CLAIMED
        else:  # the owner left: back to the queue, where the on-call clinicians see it
            request.status, request.claimed_by_id, request.claimed_at = Status.OPEN, None, None
        request.resolved_at = None
    event = _event(
        request,
        EventKind.THERAPIST_REPLY,
        therapist,
        now,
        body=text,
        from_status=before if request.status != before else None,
        to_status=request.status if request.status != before else None,
    )
    _touch(request, now)
    _audit("support.therapist_replied", request, therapist, reopened=before == Status.RESOLVED)
    if request.status != Status.OPEN and owner is not None and owner.is_active:
        notifications.alert(owner, request, AlertKind.THERAPIST_REPLY, now)
    elif before != Status.OPEN:
        for user in notifications.first_line()[0]:
            notifications.alert(user, request, AlertKind.THERAPIST_REPLY, now)
    db.session.flush()
    return event


def close(request: SupportRequest, therapist: User, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    _lock(request)
    if request.therapist_id != therapist.id:
        raise SupportError("This is not your request.")
    if request.status == Status.CLOSED:
        raise SupportError("The request is already closed.")
    before = _move(request, Status.CLOSED, EventKind.CLOSED, therapist, now)
    request.closed_at = now
    _audit("support.closed", request, therapist, from_status=before.value)
    db.session.flush()


# --- on call ----------------------------------------------------------------------------------


def is_on_call(user: User) -> bool:
    row = db.session.get(OnCall, user.id)
    return bool(row and row.on_call)


def set_on_call(user: User, on_call: bool, *, now: datetime | None = None) -> bool:
    """Switch ``user`` (a clinician) on or off call; returns whether anything changed."""
    now = now or utcnow()
    if user.role != Role.CLINICIAN:
        raise SupportError("Only clinicians go on call.")
    row = db.session.get(OnCall, user.id, with_for_update=True)
    if row is None:
        row = OnCall(user_id=user.id, on_call=False, changed_at=now)
        db.session.add(row)
    if row.on_call == on_call:
        return False
    row.on_call = on_call
    row.changed_at = now
    audit.record("support.on_call" if on_call else "support.off_call", actor=user)
    db.session.flush()
    return True


# --- the queue --------------------------------------------------------------------------------


@dataclass
class QueueFilter:
    mine: bool = False
    unclaimed: bool = False
    overdue: bool = False
    status: str = ""
    urgency: str = ""
    q: str = ""


# What a row of the clinicians' queue shows (and its timing badge needs): columns, not
# entities, so a page builds no ORM objects and decrypts nothing it does not show. The
# people's names are columns too: a subquery per shown row (the database runs them for the
# page's rows only, by primary key), not a second round trip.
QUEUE_COLUMNS = (
    SupportRequest.id,
    SupportRequest.therapist_id,
    SupportRequest.claimed_by_id,
    SupportRequest.category,
    SupportRequest.urgency,
    SupportRequest.subject,
    SupportRequest.status,
    SupportRequest.filed_at,
    SupportRequest.due_at,
    SupportRequest.first_response_at,
    SupportRequest.target_minutes,
    User.name_of(SupportRequest.therapist_id).label("therapist_name"),
    User.name_of(SupportRequest.claimed_by_id).label("owner_name"),
)


def queue_query(viewer: User, f: QueueFilter, now: datetime) -> Select[Any]:
    """The clinicians' queue (rows of :data:`QUEUE_COLUMNS`): urgent first, then by due
    time; finished requests newest first (:func:`newest_first`). Unfiltered (the queue as
    clinicians keep it open), a statement built once."""
    if f == QueueFilter():
        return _active_queue_statement()
    return _queue_statement(viewer, f, now)


@functools.cache
def _active_queue_statement() -> Select[Any]:
    return _queue_statement(None, QueueFilter(), None)


def _queue_statement(viewer: User | None, f: QueueFilter, now: datetime | None) -> Select[Any]:
    stmt = select(*QUEUE_COLUMNS)
    if f.status:
        stmt = stmt.where(SupportRequest.status == Status(f.status))
    else:
        stmt = stmt.where(SupportRequest.active_condition())
    if f.urgency:
        stmt = stmt.where(SupportRequest.urgency == Urgency(f.urgency))
    if f.mine:
        stmt = stmt.where(SupportRequest.claimed_by_id == viewer.id)
    if f.unclaimed:
        stmt = stmt.where(
            SupportRequest.claimed_by_id.is_(None), SupportRequest.status == Status.OPEN
        )
    if f.overdue:
        stmt = stmt.where(
            SupportRequest.first_response_at.is_(None),
            SupportRequest.due_at <= now,
            SupportRequest.active_condition(),
        )
    text = f.q.strip()
    if text:
        therapist_ids = select(User.id).where(matches_any(text, User.full_name, User.email))
        # The subject is encrypted: it is searched by whole words through its search terms.
        stmt = stmt.where(
            matches_words_or_number(
                SupportRequest.search_terms,
                SupportRequest.id,
                text,
                in_select(SupportRequest.therapist_id, therapist_ids),
            )
        )
    if newest_first(f):
        return stmt.order_by(SupportRequest.filed_at.desc(), SupportRequest.id.desc())
    return stmt.order_by(
        case((SupportRequest.urgency == Urgency.URGENT, 0), else_=1),
        SupportRequest.due_at,
        SupportRequest.id,
    )


def newest_first(f: QueueFilter) -> bool:
    """Whether the queue lists the newest requests first: when it shows finished ones
    (resolved or closed), years of them, where their due times no longer matter."""
    return bool(f.status) and Status(f.status) in FINISHED_STATUSES


@dataclass(frozen=True)
class QueueCounts:
    """The queue's counters, and a fingerprint of the active requests as a whole.

    ``fingerprint`` changes whenever a request is filed, leaves or re-enters the active
    set, or changes at all (every change bumps its ``version``): with the counters and the
    clock's minute it tells an open queue page that its last poll is still current
    (:func:`queue_unchanged_token`). It is read in the counters' statement, at no extra cost.
    """

    unclaimed: int
    overdue: int
    active: int
    fingerprint: tuple[int, int, int] = (0, 0, 0)


@functools.cache
def _counts_statement() -> Select[Any]:
    """The counters' statement, built once with "now" a parameter: building it took half a
    millisecond, a good part of a poll that finds nothing changed."""
    now = bindparam("now", type_=SupportRequest.due_at.type)
    return select(
        func.count().filter(SupportRequest.status == Status.OPEN),
        func.count().filter(
            SupportRequest.first_response_at.is_(None), SupportRequest.due_at <= now
        ),
        func.count(),
        # A filing raises the highest id; a change raises the sum of versions; a request
        # that leaves as another one comes back moves the sum of id × version (two
        # different ids), even when the count and the versions' sum stay the same.
        func.max(SupportRequest.id),
        func.sum(SupportRequest.version),
        func.sum(SupportRequest.id * SupportRequest.version),
    ).where(SupportRequest.active_condition())


def queue_counts(now: datetime) -> QueueCounts:
    """Unclaimed, overdue (no reply past the target) and active requests, now."""
    rows = db.session.execute(_counts_statement(), {"now": now}).one()
    return QueueCounts(
        unclaimed=rows[0] or 0,
        overdue=rows[1] or 0,
        active=rows[2] or 0,
        fingerprint=(int(rows[3] or 0), int(rows[4] or 0), int(rows[5] or 0)),
    )


def queue_unchanged_token(
    viewer: User, f: QueueFilter, page: int, counts: QueueCounts, alerts: Any, now: datetime
) -> str | None:
    """What the queue's live part showed ``viewer``, as a short token: a poll that brings the
    token of the part it shows, and finds the same one, need not be answered with the part
    again (it is answered "no content"; docs/support-queue.md).

    Everything the part shows is in it: the filter and page, the counters (the overdue count
    moves the moment a request passes its due time), the active requests' fingerprint, the
    viewer's alerts, role and time zone, and the minute (the "12 min left" texts), so the
    part is rendered again at least once a minute. ``None`` for a filter on finished
    requests: those are outside the fingerprint, so such a view is always rendered.
    """
    if f.status and Status(f.status) not in ACTIVE_STATUSES:
        return None
    parts = (
        1,  # the token's own version: change it when the part shows something new
        viewer.id,
        viewer.role.value,
        viewer.timezone or "UTC",
        astuple(f),
        page,
        counts.unclaimed,
        counts.overdue,
        counts.active,
        counts.fingerprint,
        tuple((a.request_id, a.kind.value, a.created_at.isoformat()) for a in alerts),
        int(now.timestamp() // 60),
    )
    return _token(parts)


# A request's history is read with its people in the same statement (outer joins): a thread
# has a handful of rows, and a second round trip for their names cost more than the join.


def _token(parts: tuple[Any, ...]) -> str:
    """A short, stable digest of what a live part shows (the same parts give the same token)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def thread_unchanged_token(request: SupportRequest, viewer: User, now: datetime) -> str:
    """What the therapist's open conversation shows, as a short token (the queue's rule,
    :func:`queue_unchanged_token`): every change the therapist sees raises the request's
    version (internal notes and notification records do not, and are never shown); the
    viewer's zone formats the times; the minute has the part rendered again at least once a
    minute (a clinician's name changed, say)."""
    parts = (
        1,
        request.id,
        request.version,
        viewer.id,
        viewer.timezone or "UTC",
        int(now.timestamp() // 60),
    )
    return _token(parts)


@functools.cache
def _visible_events_statement() -> Select[tuple[SupportEvent]]:
    return (
        select(SupportEvent)
        .where(SupportEvent.request_id == bindparam("request_id"), SupportEvent.internal.is_(False))
        .options(joinedload(SupportEvent.actor))
        .order_by(SupportEvent.id)
    )


def visible_events(request: SupportRequest) -> list[SupportEvent]:
    """The history a therapist may see: never an internal row (filtered in SQL)."""
    return list(db.session.scalars(_visible_events_statement(), {"request_id": request.id}))


def all_events(request: SupportRequest) -> list[SupportEvent]:
    return list(
        db.session.scalars(
            select(SupportEvent)
            .where(SupportEvent.request_id == request.id)
            .options(joinedload(SupportEvent.actor), joinedload(SupportEvent.assignee))
            .order_by(SupportEvent.id)
        )
    )
