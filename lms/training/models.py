"""Training: courses and their versions, modules, enrolments, progress, attempts, certificates.

Versioning: a course's content lives in immutable ``ModuleVersion`` rows (one per
distinct content hash). A ``CourseVersion`` lists the module versions in order.
Completions point at module versions, so a module whose content did not change
keeps its completion when the course moves to a new version.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, string_enum, utcnow


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    ce_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    approval_statement: Mapped[str] = mapped_column(Text, default="")
    pass_mark: Mapped[int] = mapped_column(default=80)
    required_for_certification: Mapped[bool] = mapped_column(default=False)
    certificate_validity_months: Mapped[int] = mapped_column(default=24)
    content_status: Mapped[str] = mapped_column(String(40), default="published")
    content_review_note: Mapped[str] = mapped_column(Text, default="")
    is_listed: Mapped[bool] = mapped_column(default=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_versions.id", use_alter=True, name="fk_courses_current_version_id")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    current_version: Mapped[CourseVersion | None] = relationship(foreign_keys=[current_version_id])

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0


class CourseVersion(Base):
    __tablename__ = "course_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64))
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(foreign_keys=[course_id])
    entries: Mapped[list[CourseVersionModule]] = relationship(
        order_by="CourseVersionModule.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("course_id", "number"),
        UniqueConstraint("course_id", "content_hash"),
    )

    @property
    def modules(self) -> list[ModuleVersion]:
        return [entry.module_version for entry in self.entries]


class ModuleVersion(Base):
    """Immutable content of one module: lesson and quiz exactly as learners saw them."""

    __tablename__ = "module_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    estimated_minutes: Mapped[int] = mapped_column(default=30)
    lesson_markdown: Mapped[str] = mapped_column(Text, default="")
    lesson_html: Mapped[str] = mapped_column(Text, default="")
    quiz_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("course_id", "slug", "content_hash"),)

    @property
    def has_quiz(self) -> bool:
        return self.quiz_settings is not None


class CourseVersionModule(Base):
    __tablename__ = "course_version_modules"

    course_version_id: Mapped[int] = mapped_column(
        ForeignKey("course_versions.id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_versions.id"), index=True)

    module_version: Mapped[ModuleVersion] = relationship()


class EnrollmentStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class EnrollmentSource(enum.StrEnum):
    FREE = "free"
    PAID = "paid"
    COMPED = "comped"
    NO_PAYMENT_CONFIGURED = "no_payment_configured"


class Enrollment(Base):
    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    course_version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        string_enum(EnrollmentStatus, "enrollment_status")
    )
    source: Mapped[EnrollmentSource] = mapped_column(
        string_enum(EnrollmentSource, "enrollment_source")
    )
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    last_module_version_id: Mapped[int | None] = mapped_column(ForeignKey("module_versions.id"))

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()
    course_version: Mapped[CourseVersion] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    @property
    def is_open(self) -> bool:
        return self.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


class ModuleProgress(Base):
    """A learner's progress on one module version (kept across course versions)."""

    __tablename__ = "module_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_versions.id"))
    lesson_completed_at: Mapped[datetime | None]
    quiz_passed_at: Mapped[datetime | None]
    best_score: Mapped[float | None] = mapped_column(Float)
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("user_id", "module_version_id"),
        # The course analytics' drop-off: each module version's learners who completed it,
        # read from the index alone, not from a scan of every learner's progress in every
        # course (docs/PERFORMANCE.md).
        Index(
            "ix_module_progress_completed_version_user",
            "module_version_id",
            "user_id",
            postgresql_where=text("completed_at IS NOT NULL"),
            sqlite_where=text("completed_at IS NOT NULL"),
        ),
    )


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    TIMED_OUT = "timed_out"


class QuizAttempt(Base):
    """One try at a module's quiz, with the exact questions it was given, frozen."""

    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_versions.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[AttemptStatus] = mapped_column(string_enum(AttemptStatus, "attempt_status"))
    # [{"question": {...}, "order": [answer indices as shown]}], frozen at start
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    pass_mark: Mapped[int]
    review: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    score: Mapped[float | None] = mapped_column(Float)  # 0..1
    passed: Mapped[bool | None]

    answers: Mapped[list[AttemptAnswer]] = relationship(
        order_by="AttemptAnswer.position", cascade="all, delete-orphan"
    )
    # Scoring needs the enrolment; a submit reads it with the attempt (one statement).
    enrollment: Mapped[Enrollment] = relationship(viewonly=True)
    # The learner's progress on the attempt's module, which scoring updates: a submit reads
    # it with the attempt too. None until the learner has progress on the module.
    progress: Mapped[ModuleProgress | None] = relationship(
        primaryjoin="and_(foreign(ModuleProgress.user_id) == QuizAttempt.user_id, "
        "foreign(ModuleProgress.module_version_id) == QuizAttempt.module_version_id)",
        viewonly=True,
        uselist=False,
    )

    __table_args__ = (
        UniqueConstraint("user_id", "module_version_id", "number"),
        Index("ix_quiz_attempts_user_id_module_version_id", "user_id", "module_version_id"),
    )


class AttemptAnswer(Base):
    """A learner's saved response to one question of an attempt (saved as they go)."""

    __tablename__ = "attempt_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id"))
    position: Mapped[int]
    question_key: Mapped[str] = mapped_column(String(64), index=True)
    response: Mapped[Any] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    fraction: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("attempt_id", "position"),)


class EvaluationResponse(Base):
    __tablename__ = "evaluation_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), unique=True)
    course_version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    # Course progress looks certificates up by enrolment (lms.training.services).
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    course_version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id"))
    holder_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    ce_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    approval_statement: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()

    __table_args__ = (Index("ix_certificates_user_id_course_id", "user_id", "course_id"),)

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "valid"
