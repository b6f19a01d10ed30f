"""Training fixtures: the small test course synced into the per-test database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lms.extensions import db
from lms.training.models import Course
from lms.training.sync import sync_all

FIXTURES = Path(__file__).parent / "fixtures" / "courses"


@pytest.fixture
def courses_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture courses, so tests can change content."""
    target = tmp_path / "courses"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def sync_courses(app, db_session, courses_dir: Path):
    old = app.config["COURSES_PATH"]
    app.config["COURSES_PATH"] = str(courses_dir)

    def run():
        results, problems = sync_all(courses_dir)
        assert problems == []
        db.session.commit()
        return results

    yield run
    app.config["COURSES_PATH"] = old


@pytest.fixture
def mini_course(sync_courses) -> Course:
    sync_courses()
    from sqlalchemy import select

    return db.session.scalar(select(Course).where(Course.slug == "mini-course"))
