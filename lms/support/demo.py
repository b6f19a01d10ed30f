"""Demo data: the demo clinician on call, a few requests in various states, weeks of history.

Idempotent: nothing is filed again once the partner has requests. The live requests go
through the services (so the on-call clinician is really notified and the partner really
gets the reply e-mail); the past weeks, there for the metrics, are written as finished
history without sending anything.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.support import services
from lms.support.models import (
    Category,
    EventKind,
    Status,
    Step,
    SupportEvent,
    SupportNotification,
    SupportRequest,
    Urgency,
)
from lms.support.timing import due_time, target_minutes

PHONE = "303-555-0142"

LIVE = [
    # (urgency, category, subject, description, minutes ago)
    (
        "urgent",
        "acute_dosing",
        "Patient anxious and nauseous 20 minutes into the session",
        "Demo request. Patient reports strong nausea and rising anxiety; vitals stable so far.",
        3,
    ),
    (
        "high",
        "side_effects",
        "Headache the evening after the session",
        "Demo request. Patient has a persistent headache six hours after yesterday's session.",
        40,
    ),
    (
        "routine",
        "medication",
        "Can the patient keep taking lamotrigine?",
        "Demo request. Question about lamotrigine before the next series of sessions.",
        2 * 24 * 60,
    ),
]

HISTORY_SUBJECTS = {
    Category.ACUTE_DOSING: "Dissociation stronger than expected",
    Category.SIDE_EFFECTS: "Dizziness the next morning",
    Category.MEDICATION: "Interaction question before a session",
    Category.ELIGIBILITY: "Is the patient eligible with controlled hypertension?",
    Category.OTHER: "Scheduling the integration session with the prescriber",
}


def seed_support(clinician: User, partner: User) -> list[str]:
    """Put the demo clinician on call and give the partner requests to follow."""
    lines = []
    if services.set_on_call(clinician, True):
        lines.append(f"support: {clinician.email} is now on call")
    else:
        lines.append(f"support: {clinician.email} is on call")
    has_requests = db.session.scalar(
        select(exists().where(SupportRequest.therapist_id == partner.id))
    )
    if has_requests:
        return [*lines, "support: the partner already has requests"]
    now = utcnow()
    history = _history(clinician, partner, now)
    live = _live(clinician, partner, now)
    db.session.flush()
    return [
        *lines,
        f"support: {len(live)} requests for {partner.email} (one urgent and unclaimed, "
        f"one answered, one resolved) and {history} past ones for the metrics",
    ]


def _live(clinician: User, partner: User, now: datetime) -> list[SupportRequest]:
    filed = []
    for urgency, category, subject, description, minutes_ago in LIVE:
        at = now - timedelta(minutes=minutes_ago)
        request = services.file_request(
            partner,
            {
                "urgency": urgency,
                "category": category,
                "subject": subject,
                "description": description,
                "callback_phone": PHONE,
            },
            now=at,
        )
        filed.append(request)
        if urgency == "urgent":
            continue  # left for the on-call clinician to claim
        services.claim(request.id, clinician.id, now=at + timedelta(minutes=4))
        services.reply(
            request,
            clinician,
            "Thanks, I have read this. I will call you on the number you gave.",
            now=at + timedelta(minutes=9),
        )
        if urgency == "routine":
            services.resolve(
                request,
                clinician,
                "Discussed by phone; no change needed.",
                now=at + timedelta(minutes=30),
            )
    return filed


def _history(clinician: User, partner: User, now: datetime) -> int:
    """Six weeks of finished requests with realistic response times (a few late)."""
    rng = random.Random(2026)  # the same history on every machine
    count = 0
    for day in range(42, 2, -1):
        if rng.random() < 0.55:
            continue
        urgency = rng.choice([Urgency.URGENT, Urgency.HIGH, Urgency.HIGH, Urgency.ROUTINE])
        category = rng.choice(list(Category))
        minutes = target_minutes(urgency)
        filed_at = now - timedelta(days=day, hours=rng.randint(0, 20), minutes=rng.randint(0, 59))
        # Mostly within target; about one in six late.
        share = rng.uniform(0.1, 0.9) if rng.random() > 1 / 6 else rng.uniform(1.05, 1.8)
        answered = filed_at + timedelta(minutes=max(1, round(minutes * share)))
        claimed = filed_at + (answered - filed_at) / 3
        resolved = answered + timedelta(minutes=rng.randint(10, 240))
        request = SupportRequest(
            therapist_id=partner.id,
            category=category,
            urgency=urgency,
            subject=HISTORY_SUBJECTS[category],
            description="Demo history.",
            callback_phone=PHONE,
            status=Status.RESOLVED,
            target_minutes=minutes,
            filed_at=filed_at,
            due_at=due_time(filed_at, minutes),
            claimed_by_id=clinician.id,
            claimed_at=claimed,
            first_response_at=answered,
            first_response_by_id=clinician.id,
            breached_at=due_time(filed_at, minutes)
            if answered > due_time(filed_at, minutes)
            else None,
            resolved_at=resolved,
            updated_at=resolved,
            version=4,
        )
        db.session.add(request)
        db.session.flush()
        db.session.add(
            SupportNotification(
                request_id=request.id,
                step=Step.FILED,
                sequence=0,
                due_at=filed_at,
                sent_at=filed_at,
                recipient_count=1,
            )
        )
        for kind, at, actor, body in (
            (EventKind.FILED, filed_at, partner, None),
            (EventKind.CLAIMED, claimed, clinician, None),
            (EventKind.REPLY, answered, clinician, "Answered by phone (demo history)."),
            (EventKind.RESOLVED, resolved, clinician, None),
        ):
            db.session.add(
                SupportEvent(
                    request_id=request.id,
                    actor_id=actor.id,
                    kind=kind,
                    internal=False,
                    body=body,
                    created_at=at,
                )
            )
        count += 1
    return count
