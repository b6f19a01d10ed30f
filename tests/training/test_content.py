"""Course folders: loading, checking with file and line, lesson rendering."""

from __future__ import annotations

import shutil
from pathlib import Path

from lms.training.content import load_all, render_lesson
from lms.training.sync import asset_base_url


def _problems(root: Path) -> list[str]:
    return [str(p) for p in load_all(root)[1]]


def test_fixture_course_loads_cleanly(courses_dir: Path) -> None:
    courses, problems = load_all(courses_dir)
    assert problems == []
    (course,) = courses
    assert course.slug == "mini-course" and course.ce_hours == 1.5
    assert [m.slug for m in course.modules] == ["01-basics", "02-practice"]
    assert course.modules[0].quiz.max_attempts == 2
    assert course.modules[1].quiz is None
    assert [i.id for i in course.evaluation] == ["objectives-met", "improve"]


def test_malformed_gift_is_reported_with_file_and_line(courses_dir: Path) -> None:
    quiz = courses_dir / "mini-course/modules/01-basics/quiz.gift"
    quiz.write_text(quiz.read_text() + "\n::Broken::Unclosed block {=yes ~no\n")
    problems = _problems(courses_dir)
    assert any(
        p.startswith("courses/mini-course/modules/01-basics/quiz.gift:8:") for p in problems
    ), problems


def test_missing_lesson_and_image_are_reported(courses_dir: Path) -> None:
    (courses_dir / "mini-course/images/diagram.svg").unlink()
    (courses_dir / "mini-course/modules/02-practice/lesson.md").unlink()
    problems = _problems(courses_dir)
    lesson = "courses/mini-course/modules/01-basics/lesson.md"
    assert f"{lesson}:12: image 'images/diagram.svg' does not exist" in problems
    assert "courses/mini-course/modules/02-practice/lesson.md:1: lesson is missing" in problems


def test_duplicate_slugs_are_reported(courses_dir: Path) -> None:
    shutil.copytree(courses_dir / "mini-course", courses_dir / "mini-copy")
    problems = _problems(courses_dir)
    assert any("slug 'mini-course'" in p and "match the folder name" in p for p in problems), (
        problems
    )


def test_a_quiz_that_cannot_be_passed_is_reported(courses_dir: Path) -> None:
    quiz = courses_dir / "mini-course/modules/01-basics/quiz.gift"
    quiz.write_text("::Essay only::Describe your approach. {}\n")
    problems = _problems(courses_dir)
    assert any("cannot be passed at 80%" in p for p in problems), problems


def test_invalid_toml_reports_its_line(courses_dir: Path) -> None:
    meta = courses_dir / "mini-course/modules/02-practice/module.toml"
    meta.write_text('title = "Practice"\nsummary = \n')
    problems = _problems(courses_dir)
    assert any(
        p.startswith("courses/mini-course/modules/02-practice/module.toml:2: invalid TOML")
        for p in problems
    ), problems


def test_unlisted_module_folder_and_bad_quiz_settings_are_reported(courses_dir: Path) -> None:
    (courses_dir / "mini-course/modules/03-extra").mkdir()
    meta = courses_dir / "mini-course/modules/01-basics/module.toml"
    meta.write_text(meta.read_text().replace('review = "feedback"', 'review = "everything"'))
    problems = _problems(courses_dir)
    assert any("'03-extra' is not listed" in p for p in problems)
    assert any("module.toml:13: review must be one of" in p for p in problems), problems


def test_lesson_rendering_keeps_structure_and_removes_scripts(courses_dir: Path) -> None:
    markdown_text = (courses_dir / "mini-course/modules/01-basics/lesson.md").read_text()
    html = render_lesson(markdown_text, asset_base_url("mini-course"))
    assert '<table tabindex="0">' in html and "<h2>" in html
    assert 'class="admonition note"' in html
    assert 'src="/learn/assets/mini-course/images/diagram.svg"' in html
    assert "<script" not in html
