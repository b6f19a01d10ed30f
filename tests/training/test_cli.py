"""`flask courses check | sync | export-gift`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from lms.extensions import db
from lms.training.gift import parse_gift
from lms.training.models import Course, CourseVersion


def test_check_passes_on_valid_courses_and_fails_with_file_and_line(
    app, db_session, courses_dir: Path
) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["courses", "check", "--path", str(courses_dir)])
    assert ok.exit_code == 0 and "All courses are valid" in ok.output
    quiz = courses_dir / "mini-course/modules/01-basics/quiz.gift"
    quiz.write_text(quiz.read_text() + "\n::Bad::Weight out of range {~%150%a =b}\n")
    bad = runner.invoke(args=["courses", "check", "--path", str(courses_dir)])
    assert bad.exit_code != 0
    assert "courses/mini-course/modules/01-basics/quiz.gift:8:" in bad.output


def test_sync_is_idempotent_and_refuses_invalid_content(app, db_session, courses_dir: Path) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["courses", "sync", "--path", str(courses_dir)])
    assert first.exit_code == 0 and "mini-course: created (version 1)" in first.output
    second = runner.invoke(args=["courses", "sync", "--path", str(courses_dir)])
    assert "mini-course: unchanged (version 1)" in second.output
    (courses_dir / "mini-course/modules/02-practice/lesson.md").unlink()
    refused = runner.invoke(args=["courses", "sync", "--path", str(courses_dir)])
    assert refused.exit_code != 0 and "nothing was synced" in refused.output
    assert db.session.scalar(select(func.count()).select_from(CourseVersion)) == 1


def test_export_then_import_gives_the_same_questions(
    app, db_session, courses_dir: Path, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["courses", "sync", "--path", str(courses_dir)])
    out = tmp_path / "export"
    result = runner.invoke(args=["courses", "export-gift", "mini-course", str(out)])
    assert result.exit_code == 0, result.output
    original = parse_gift((courses_dir / "mini-course/modules/01-basics/quiz.gift").read_text())
    exported = parse_gift((out / "01-basics.gift").read_text())
    assert [q.key() for q in exported] == [q.key() for q in original]
    missing = runner.invoke(args=["courses", "export-gift", "no-such-course", str(out)])
    assert missing.exit_code != 0
    assert db.session.scalar(select(Course.slug)) == "mini-course"
