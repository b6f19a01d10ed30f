"""Course outlines: the modules of a course version, read once per process.

A course version never changes once written: its list of modules, and each module
version's title, order and quiz settings, are fixed when ``load-courses`` creates it (new
content makes a new version with a new id, see ``lms.training.sync``). So what every
progress page reads first (which modules, in which order, with a quiz or not) is read
from the database once per process and kept, keyed by the version's id: the dashboard,
the course page, a lesson and a quiz's completion check then run two statements fewer
and build no module objects.

What a learner does (progress, attempts) is never kept here. The lesson's HTML and a
quiz's questions are not kept either: they are read when a page needs them.

Two guards keep the cache honest where ids can be reused: a transaction that wrote
something and then rolled back drops the outlines it read (a version created in it is
gone, and on SQLite its id may come back for other content), and the test suite clears
the cache before each test and after each restore of its database (:func:`clear`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from lms.extensions import db
from lms.training.models import CourseVersion, CourseVersionModule, ModuleVersion

_CACHE = "lms.course_outlines"
_READ = "lms.outlines_read"  # session.info: version ids this transaction put in the cache
_WROTE = "lms.outlines_wrote"  # session.info: this transaction flushed something


@dataclass(frozen=True, slots=True)
class ModuleOutline:
    """A module version without its lesson and questions (``questions`` reads them from the
    database when a page needs them; the lesson page reads its lesson with its course)."""

    id: int
    course_id: int
    slug: str
    content_hash: str
    title: str
    summary: str
    estimated_minutes: int
    quiz_settings: Mapping[str, Any] | None  # read-only: the outline is shared

    @property
    def has_quiz(self) -> bool:
        return self.quiz_settings is not None

    @property
    def questions(self) -> list[dict[str, Any]]:
        return (
            db.session.scalar(select(ModuleVersion.questions).where(ModuleVersion.id == self.id))
            or []
        )


@dataclass(frozen=True, slots=True)
class VersionOutline:
    id: int
    course_id: int
    evaluation_required: bool
    modules: tuple[ModuleOutline, ...]


_MODULE_COLUMNS = (
    ModuleVersion.id,
    ModuleVersion.course_id,
    ModuleVersion.slug,
    ModuleVersion.content_hash,
    ModuleVersion.title,
    ModuleVersion.summary,
    ModuleVersion.estimated_minutes,
    ModuleVersion.quiz_settings,
)


def outlines(version_ids: Iterable[int]) -> dict[int, VersionOutline]:
    """The outline of each of these course versions (unknown ids are left out): from the
    cache, and those not in it in two statements whatever their number."""
    cache: dict[int, VersionOutline] = current_app.extensions.setdefault(_CACHE, {})
    wanted = set(version_ids)
    missing = wanted - cache.keys()
    if missing:
        read = _read(missing)
        cache.update(read)
        db.session.info.setdefault(_READ, set()).update(read)
    return {version_id: cache[version_id] for version_id in wanted if version_id in cache}


def _read(version_ids: set[int]) -> dict[int, VersionOutline]:
    versions = db.session.execute(
        select(CourseVersion.id, CourseVersion.course_id, CourseVersion.evaluation).where(
            CourseVersion.id.in_(version_ids)
        )
    ).all()
    modules: dict[int, list[ModuleOutline]] = {row.id: [] for row in versions}
    for version_id, *columns in db.session.execute(
        select(CourseVersionModule.course_version_id, *_MODULE_COLUMNS)
        .join(ModuleVersion, ModuleVersion.id == CourseVersionModule.module_version_id)
        .where(CourseVersionModule.course_version_id.in_(modules))
        .order_by(CourseVersionModule.course_version_id, CourseVersionModule.position)
    ):
        *fields, settings = columns  # shared by every request: read-only from here on
        modules[version_id].append(
            ModuleOutline(*fields, MappingProxyType(settings) if settings is not None else None)
        )
    return {
        row.id: VersionOutline(
            row.id,
            row.course_id,
            bool((row.evaluation or {}).get("items")),
            tuple(modules[row.id]),
        )
        for row in versions
    }


def clear(app: Flask | None = None) -> None:
    """Forget every outline: after the database was replaced under a running app (the
    tests, whose rolled-back or restored rows' ids come back with other content)."""
    (app or current_app).extensions.pop(_CACHE, None)


@event.listens_for(Session, "after_flush")
def _wrote(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop(_READ, None)
    session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is not None:
        return
    read = session.info.pop(_READ, None)
    if session.info.pop(_WROTE, None) and read and has_app_context():
        cache = current_app.extensions.get(_CACHE, {})
        for version_id in read:
            cache.pop(version_id, None)
