"""The escalation ladder, worked by a job every minute (``lms.support.tasks``).

For a request nobody has answered yet:

1. on filing: the on-call clinicians (every clinician and admin if nobody is on call);
2. still unclaimed at half its target: the on-call clinicians again;
3. past its target (claimed or not): the escalation contacts, and the request is marked
   breached; again every ``SUPPORT_ESCALATION_REPEAT_MINUTES`` until a clinician replies.

The ledger (``support_notifications``) says what went out. Each run works out which steps
are due *now* from the request alone and sends those missing from the ledger, so a run
after an outage sends what was missed (each step once; of the repeats, only the latest).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select

from lms.extensions import db
from lms.support import notifications
from lms.support.models import Status, Step, SupportNotification, SupportRequest
from lms.support.timing import half_time, repeat_minutes

# A request is on the ladder while nobody has answered it and it is open or claimed
# (waiting for the therapist and resolving both need a reply first).
LADDER_STATUSES = (Status.OPEN, Status.CLAIMED)


def due_steps(
    request: SupportRequest, now: datetime, repeat: int
) -> list[tuple[Step, int, datetime]]:
    """The steps that are due at ``now``: (step, sequence, when it fell due)."""
    if request.first_response_at is not None or request.status not in LADDER_STATUSES:
        return []
    steps: list[tuple[Step, int, datetime]] = [(Step.FILED, 0, request.filed_at)]
    half = half_time(request)
    if request.status == Status.OPEN and now >= half:
        steps.append((Step.HALF, 0, half))
    if now >= request.due_at:
        n = math.floor((now - request.due_at) / timedelta(minutes=repeat))
        steps.append((Step.BREACH, n, request.due_at + n * timedelta(minutes=repeat)))
    return steps


def candidates() -> list[int]:
    """Ids of the requests on the ladder (few: they leave it with the first reply)."""
    return list(
        db.session.scalars(
            select(SupportRequest.id)
            .where(
                SupportRequest.first_response_at.is_(None),
                SupportRequest.status.in_(LADDER_STATUSES),
            )
            .order_by(SupportRequest.due_at, SupportRequest.id)
        )
    )


def escalate(request_id: int, now: datetime) -> list[SupportNotification]:
    """Send the due steps of one request that are not in the ledger yet (flushes only)."""
    request = db.session.get(
        SupportRequest, request_id, with_for_update=True, populate_existing=True
    )
    if request is None:
        return []
    sent = notifications.sent_steps(request.id)
    out = []
    for step, sequence, due_at in due_steps(request, now, repeat_minutes()):
        if (step, sequence) in sent:
            continue
        row = notifications.send_step(request, step, sequence, due_at=due_at, now=now)
        if row is not None:
            out.append(row)
    return out
