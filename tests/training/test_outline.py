"""Course outlines (lms.training.outline): read once per process, equal to the database,
and never kept from a transaction that wrote and rolled back."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import current_app

from lms import audit
from lms.extensions import db
from lms.training import outline
from lms.training.models import Course, CourseVersion
from tests.conftest import QueryCounter


def _cached() -> dict[int, Any]:
    return current_app.extensions.get("lms.course_outlines", {})


def test_the_outline_is_the_versions_modules_in_order(mini_course: Course) -> None:
    version = db.session.get(CourseVersion, mini_course.current_version_id)
    assert version is not None
    found = outline.outlines([version.id, 987654])  # an unknown id is left out
    assert set(found) == {version.id}
    shown = found[version.id]
    assert shown.course_id == mini_course.id
    assert shown.evaluation_required == bool((version.evaluation or {}).get("items"))
    modules = version.modules
    assert [m.id for m in shown.modules] == [m.id for m in modules]
    for kept, orm in zip(shown.modules, modules, strict=True):
        assert (kept.slug, kept.title, kept.summary, kept.estimated_minutes) == (
            orm.slug,
            orm.title,
            orm.summary,
            orm.estimated_minutes,
        )
        assert (kept.has_quiz, kept.quiz_settings) == (orm.has_quiz, orm.quiz_settings)
        # Not kept: read from the database when a page asks.
        assert kept.questions == orm.questions
    assert any(m.has_quiz for m in shown.modules)


def test_read_once_then_from_memory(mini_course: Course, count_queries: QueryCounter) -> None:
    version_id = mini_course.current_version_id
    with count_queries:
        first = outline.outlines([version_id])
    assert count_queries.count == 2, count_queries.statements  # the version, its modules
    with count_queries:
        again = outline.outlines([version_id])
    assert count_queries.count == 0, count_queries.statements
    assert again == first


def test_a_read_only_rollback_keeps_the_outline(mini_course: Course) -> None:
    version_id = mini_course.current_version_id
    outline.outlines([version_id])
    db.session.rollback()
    assert version_id in _cached()


def test_a_write_rolled_back_drops_what_it_read(mini_course: Course) -> None:
    """A version created in a transaction that rolls back is gone (and on SQLite its id can
    come back for other content): whatever that transaction read is dropped, not kept."""
    version_id = mini_course.current_version_id
    audit.record("test.write", actor=None)
    db.session.flush()
    outline.outlines([version_id])
    assert version_id in _cached()
    db.session.rollback()
    assert version_id not in _cached()
    outline.outlines([version_id])  # read again: a committed write keeps it
    audit.record("test.write", actor=None)
    db.session.commit()
    assert version_id in _cached()


def test_clear_forgets_everything(mini_course: Course) -> None:
    outline.outlines([mini_course.current_version_id])
    outline.clear()
    assert _cached() == {}


def test_an_attempts_module_comes_from_the_outline_while_the_version_has_it(
    mini_course: Course, count_queries: QueryCounter
) -> None:
    from lms.training.models import Enrollment, ModuleVersion
    from lms.training.services import attempted_module

    version_id = mini_course.current_version_id
    enrollment = Enrollment(course_version_id=version_id)
    listed = outline.outlines([version_id])[version_id].modules[0]
    with count_queries:
        assert attempted_module(enrollment, listed.id) is listed
    assert count_queries.count == 0
    # A module no longer in the learner's version (moved to newer content): from the database.
    elsewhere = ModuleVersion(
        course_id=mini_course.id, slug="retired", content_hash="0" * 64, title="Retired"
    )
    db.session.add(elsewhere)
    db.session.flush()
    found = attempted_module(enrollment, elsewhere.id)
    assert isinstance(found, ModuleVersion) and found.slug == "retired"
    assert attempted_module(None, listed.id).id == listed.id


def test_an_outline_cannot_be_changed_by_a_page(mini_course: Course) -> None:
    """Every request shares the outline: its fields and a quiz's settings are read-only."""
    version_id = mini_course.current_version_id
    quiz = next(m for m in outline.outlines([version_id])[version_id].modules if m.has_quiz)
    with pytest.raises(TypeError):
        quiz.quiz_settings["max_attempts"] = 99  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        quiz.title = "Changed"  # type: ignore[misc]
