"""Support requests, their append-only history, on-call state and the notification ledger.

A request's history (:class:`SupportEvent`) is never changed or deleted: every claim, reply,
internal note, status change and escalation is a new row. Internal rows (notes,
escalations) carry ``internal = true`` and are never shown to therapists; a CHECK
constraint keeps notes internal whatever the code does.

The notification ledger (:class:`SupportNotification`) holds one row per step sent for a
request (``filed``, ``half`` target, ``breach`` number n); its unique key makes each step go
out exactly once, even when two workers run the escalation job at the same time.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from lms.accounts.models import User
from lms.crypto import EncryptedText
from lms.db import Base, string_enum, utcnow
from lms.referrals.models import Referral


class Category(enum.StrEnum):
    ACUTE_DOSING = "acute_dosing"
    SIDE_EFFECTS = "side_effects"
    MEDICATION = "medication"
    ELIGIBILITY = "eligibility"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "acute_dosing": "Acute concern during a dosing session",
            "side_effects": "After-session side effects",
            "medication": "Medication question",
            "eligibility": "Patient eligibility",
            "other": "Other",
        }[self.value]


class Urgency(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    ROUTINE = "routine"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def tone(self) -> str:
        return {"urgent": "bad", "high": "warn", "routine": "muted"}[self.value]


class Status(enum.StrEnum):
    OPEN = "open"  # filed, nobody has claimed it
    CLAIMED = "claimed"  # a clinician owns it
    AWAITING_THERAPIST = "awaiting_therapist"
    RESOLVED = "resolved"
    CLOSED = "closed"  # closed by the therapist

    @property
    def label(self) -> str:
        return {
            "open": "Waiting for a clinician",
            "claimed": "A clinician is on it",
            "awaiting_therapist": "Waiting for the therapist",
            "resolved": "Resolved",
            "closed": "Closed",
        }[self.value]

    @property
    def staff_label(self) -> str:
        return {
            "open": "Unclaimed",
            "claimed": "Claimed",
            "awaiting_therapist": "Awaiting therapist",
            "resolved": "Resolved",
            "closed": "Closed by therapist",
        }[self.value]

    @property
    def tone(self) -> str:
        return {
            "open": "bad",
            "claimed": "warn",
            "awaiting_therapist": "warn",
            "resolved": "ok",
            "closed": "muted",
        }[self.value]

    @property
    def active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = (Status.OPEN, Status.CLAIMED, Status.AWAITING_THERAPIST)
FINISHED_STATUSES = (Status.RESOLVED, Status.CLOSED)
ACTIVE_CLAUSE = "status IN ('open', 'claimed', 'awaiting_therapist')"


class EventKind(enum.StrEnum):
    FILED = "filed"
    CLAIMED = "claimed"
    REPLY = "reply"  # a clinician's reply, seen by the therapist
    THERAPIST_REPLY = "therapist_reply"
    NOTE = "note"  # internal: never shown to therapists
    REASSIGNED = "reassigned"
    AWAITING = "awaiting"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    NOTIFIED = "notified"  # internal: a notification step went out (re-notify, escalation)

    @property
    def label(self) -> str:
        return {
            "filed": "Filed",
            "claimed": "Claimed",
            "reply": "Reply",
            "therapist_reply": "Therapist's reply",
            "note": "Internal note",
            "reassigned": "Reassigned",
            "awaiting": "Waiting for the therapist",
            "resolved": "Resolved",
            "reopened": "Reopened",
            "closed": "Closed by the therapist",
            "notified": "Notification",
        }[self.value]


# Kinds that are always internal (never shown to therapists).
INTERNAL_KINDS = (EventKind.NOTE, EventKind.NOTIFIED)


class Step(enum.StrEnum):
    """A notification step of the escalation ladder."""

    FILED = "filed"  # on filing: on-call clinicians (everyone if nobody is on call)
    HALF = "half"  # unclaimed at half the target: on-call clinicians again
    BREACH = "breach"  # past the target without a reply: escalation contacts, every N minutes

    @property
    def label(self) -> str:
        return {
            "filed": "New request",
            "half": "Re-notification at half the target",
            "breach": "Escalation past the target",
        }[self.value]


class AlertKind(enum.StrEnum):
    NEW_REQUEST = "new_request"
    RENOTIFY = "renotify"
    ESCALATION = "escalation"
    ASSIGNED = "assigned"
    THERAPIST_REPLY = "therapist_reply"
    REPLY = "reply"  # to the therapist: a clinician replied

    @property
    def label(self) -> str:
        return {
            "new_request": "New request",
            "renotify": "Still unclaimed",
            "escalation": "Overdue: escalated",
            "assigned": "Assigned to you",
            "therapist_reply": "The therapist replied",
            "reply": "A clinician replied",
        }[self.value]


class SupportRequest(Base):
    __tablename__ = "support_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    category: Mapped[Category] = mapped_column(string_enum(Category, "support_category"))
    urgency: Mapped[Urgency] = mapped_column(string_enum(Urgency, "support_urgency"))
    # What the therapist wrote may identify a patient: encrypted at rest (lms.crypto);
    # ``search_terms`` lets the queue be searched by a word of the subject.
    subject: Mapped[str] = mapped_column(EncryptedText)
    description: Mapped[str] = mapped_column(EncryptedText)
    callback_phone: Mapped[str] = mapped_column(EncryptedText)
    search_terms: Mapped[str] = mapped_column(
        Text, default="", server_default="", info={"terms_of": "subject"}
    )
    status: Mapped[Status] = mapped_column(
        string_enum(Status, "support_status"), default=Status.OPEN
    )
    # The target in force when it was filed: a later change of settings moves no due time.
    target_minutes: Mapped[int]
    filed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    first_response_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    breached_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped on every change: the conditional UPDATEs (claim, reassign) check it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The filing form's one-time token: a double submit finds the first request.
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    first_response_by: Mapped[User | None] = relationship(foreign_keys=[first_response_by_id])
    referral: Mapped[Referral | None] = relationship()
    events: Mapped[list[SupportEvent]] = relationship(
        back_populates="request", order_by="SupportEvent.id"
    )

    __table_args__ = (
        CheckConstraint("target_minutes > 0", name="target_positive"),
        # Unclaimed exactly while open; a therapist may close a request nobody claimed.
        CheckConstraint(
            "(status = 'open' AND claimed_by_id IS NULL) OR status = 'closed' "
            "OR (status IN ('claimed', 'awaiting_therapist', 'resolved') "
            "AND claimed_by_id IS NOT NULL)",
            name="owner_matches_status",
        ),
        # The live queue and the overdue lists: only the few active requests, by due time,
        # not a walk through years of finished ones (docs/PERFORMANCE.md).
        Index(
            "ix_support_requests_active_due_at",
            "due_at",
            "id",
            postgresql_where=text(ACTIVE_CLAUSE),
            sqlite_where=text(ACTIVE_CLAUSE),
        ),
        # One status, newest first (the queue filtered to resolved or closed requests): an
        # index walk to the page's rows, not a sort of every finished request. It serves
        # any lookup by status as well.
        Index("ix_support_requests_status_filed_at", "status", "filed_at", "id"),
        # The queue's search by words of the subject (``LIKE '% term %'`` on the search
        # terms, lms.crypto): a trigram index on PostgreSQL, where such a pattern can use it;
        # SQLite has none.
        Index(
            "ix_support_requests_search_terms_trgm",
            "search_terms",
            postgresql_using="gin",
            postgresql_ops={"search_terms": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @classmethod
    def active_condition(cls) -> ColumnElement[bool]:
        """SQL: the request is active (open, claimed or waiting for the therapist).

        The statuses are written into the statement as values, not sent as parameters, so
        that its plan can use ``ix_support_requests_active_due_at`` even when the database
        plans it once for every run (a prepared statement's generic plan). Sent as
        parameters, the queue's count took 39 ms instead of 1.6 ms at the seeded scale.
        """
        values = bindparam("active_statuses", list(ACTIVE_STATUSES), expanding=True, unique=True)
        return cls.status.in_(values.render_literal_execute())

    @property
    def response_minutes(self) -> float | None:
        if self.first_response_at is None:
            return None
        return (self.first_response_at - self.filed_at).total_seconds() / 60

    @property
    def met_target(self) -> bool | None:
        if self.first_response_at is None:
            return None
        return self.first_response_at <= self.due_at


class SupportEvent(Base):
    """One change to a request. Never updated, never deleted."""

    __tablename__ = "support_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    kind: Mapped[EventKind] = mapped_column(string_enum(EventKind, "support_event_kind"))
    internal: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str | None] = mapped_column(EncryptedText)
    from_status: Mapped[Status | None] = mapped_column(
        string_enum(Status, "support_event_from_status")
    )
    to_status: Mapped[Status | None] = mapped_column(string_enum(Status, "support_event_to_status"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[SupportRequest] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])

    __table_args__ = (
        CheckConstraint("kind NOT IN ('note', 'notified') OR internal", name="internal_kinds"),
    )


class OnCall(Base):
    """Whether a clinician is on call now (they switch themselves)."""

    __tablename__ = "clinician_on_call"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    on_call: Mapped[bool] = mapped_column(default=False, index=True)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class SupportNotification(Base):
    """A notification step sent for a request: the ledger the escalation job reads."""

    __tablename__ = "support_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    step: Mapped[Step] = mapped_column(string_enum(Step, "support_notification_step"))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # When the step fell due, and when it went out (later than due if the worker was down).
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    # Nobody was on call: every clinician and admin was told instead.
    fallback: Mapped[bool] = mapped_column(default=False)

    request: Mapped[SupportRequest] = relationship()

    __table_args__ = (UniqueConstraint("request_id", "step", "sequence"),)


class SupportAlert(Base):
    """An in-app notification for one user (the badge and the queue's alert list)."""

    __tablename__ = "support_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("support_requests.id"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("support_notifications.id"))
    kind: Mapped[AlertKind] = mapped_column(string_enum(AlertKind, "support_alert_kind"))
    emailed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    request: Mapped[SupportRequest] = relationship()

    __table_args__ = (Index("ix_support_alerts_user_id_read_at", "user_id", "read_at"),)


class SupportHistoryIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_event_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, SupportEvent | SupportNotification) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise SupportHistoryIsAppendOnly("support history cannot be changed or deleted")
