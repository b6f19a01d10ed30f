"""Load course folders into the database, idempotently, creating versions on change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from lms import audit
from lms.extensions import db
from lms.training.content import CourseSpec, ModuleSpec, load_all, render_lesson
from lms.training.models import (
    Course,
    CourseVersion,
    CourseVersionModule,
    Enrollment,
    EnrollmentStatus,
    ModuleVersion,
)

ASSET_PREFIX = "/learn/assets"


def courses_root() -> Path:
    return Path(current_app.config["COURSES_PATH"])


def asset_base_url(slug: str) -> str:
    return f"{ASSET_PREFIX}/{slug}"


@dataclass
class SyncResult:
    slug: str
    version: int
    outcome: str  # "created", "new version", "unchanged"
    moved_enrollments: int = 0

    def __str__(self) -> str:
        extra = f", {self.moved_enrollments} learners moved to it" if self.moved_enrollments else ""
        return f"{self.slug}: {self.outcome} (version {self.version}{extra})"


def _module_version(course: Course, spec: ModuleSpec) -> ModuleVersion:
    digest = spec.content_hash
    existing = db.session.scalar(
        select(ModuleVersion).where(
            ModuleVersion.course_id == course.id,
            ModuleVersion.slug == spec.slug,
            ModuleVersion.content_hash == digest,
        )
    )
    if existing is not None:
        # The HTML is derived from the Markdown: refresh it when the renderer improves.
        html = render_lesson(spec.lesson_markdown, asset_base_url(course.slug))
        if existing.lesson_html != html:
            existing.lesson_html = html
        return existing
    version = ModuleVersion(
        course_id=course.id,
        slug=spec.slug,
        content_hash=digest,
        title=spec.title,
        summary=spec.summary,
        estimated_minutes=spec.estimated_minutes,
        lesson_markdown=spec.lesson_markdown,
        lesson_html=render_lesson(spec.lesson_markdown, asset_base_url(course.slug)),
        quiz_settings=asdict(spec.quiz) if spec.quiz else None,
        questions=[q.to_dict() for q in spec.questions],
    )
    db.session.add(version)
    db.session.flush()
    return version


def sync_course(spec: CourseSpec) -> SyncResult:
    """Bring one course's rows in line with its folder. Safe to run again."""
    course = db.session.scalar(select(Course).where(Course.slug == spec.slug))
    created = course is None
    if course is None:
        course = Course(slug=spec.slug, title=spec.title)
        db.session.add(course)
    course.title = spec.title
    course.summary = spec.summary
    course.price_cents = spec.price_cents
    course.currency = spec.currency
    course.ce_hours = Decimal(str(spec.ce_hours))
    course.approval_statement = spec.approval_statement
    course.pass_mark = spec.pass_mark
    course.required_for_certification = spec.required_for_certification
    course.certificate_validity_months = spec.certificate_validity_months
    course.content_status = spec.content_status
    course.content_review_note = spec.content_review_note
    db.session.flush()

    digest = spec.content_hash
    version = db.session.scalar(
        select(CourseVersion).where(
            CourseVersion.course_id == course.id, CourseVersion.content_hash == digest
        )
    )
    outcome = "created" if created else "unchanged"
    if version is None:
        number = (
            db.session.scalar(
                select(func.max(CourseVersion.number)).where(CourseVersion.course_id == course.id)
            )
            or 0
        ) + 1
        version = CourseVersion(
            course_id=course.id,
            number=number,
            label=spec.version,
            content_hash=digest,
            evaluation={
                "title": spec.evaluation_title,
                "intro": spec.evaluation_intro,
                "items": [asdict(item) for item in spec.evaluation],
            },
        )
        db.session.add(version)
        db.session.flush()
        for position, module in enumerate(spec.modules):
            db.session.add(
                CourseVersionModule(
                    course_version_id=version.id,
                    position=position,
                    module_version_id=_module_version(course, module).id,
                )
            )
        outcome = "created" if created else "new version"
    moved = 0
    if course.current_version_id != version.id:
        course.current_version_id = version.id
        # Learners still working move to the new version; their completions of
        # unchanged modules carry over because they point at module versions.
        for enrollment in db.session.scalars(
            select(Enrollment).where(
                Enrollment.course_id == course.id,
                Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING_PAYMENT]),
            )
        ):
            enrollment.course_version_id = version.id
            moved += 1
        audit.record(
            "course.version_published",
            course,
            actor=None,
            version=version.number,
            label=version.label,
            moved_enrollments=moved,
        )
    db.session.flush()
    return SyncResult(spec.slug, version.number, outcome, moved)


def sync_all(root: Path | None = None) -> tuple[list[SyncResult], list[str]]:
    """Sync every valid course; refuse all if any course has problems."""
    courses, problems = load_all(root or courses_root())
    if problems:
        return [], [str(p) for p in problems]
    return [sync_course(spec) for spec in courses], []
