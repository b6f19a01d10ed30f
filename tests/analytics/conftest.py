"""Analytics fixtures: a three-module course (the quiz in the last module) and learners who
work through it with the real training services (enrol, lessons, quiz attempts, evaluation)."""

from __future__ import annotations

import csv
import io
import random
import re
import shutil
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.training import quiz, services
from lms.training.models import Course, Enrollment, QuizAttempt
from lms.training.sync import sync_all

FIXTURES = Path(__file__).parent / "fixtures" / "courses"
SLUG = "stats-course"
QUIZ = "03-final"
GIFT = f"{SLUG}/modules/{QUIZ}/quiz.gift"

# Responses by question title (the fixture quiz: Capital, Sky, Colour, Sum).
ALL_RIGHT = {"Capital": 0, "Sky": True, "Colour": "green", "Sum": "4"}


@pytest.fixture
def courses_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture course, so tests can correct questions."""
    target = tmp_path / "courses"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def sync_courses(app: Flask, db_session: Any, courses_dir: Path) -> Iterator[Callable[[], Any]]:
    old = app.config["COURSES_PATH"]
    app.config["COURSES_PATH"] = str(courses_dir)

    def run() -> Any:
        results, problems = sync_all(courses_dir)
        assert problems == []
        db.session.commit()
        return results

    yield run
    app.config["COURSES_PATH"] = old


def edit_quiz(courses_dir: Path, old: str, new: str) -> None:
    path = courses_dir / GIFT
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def course() -> Course:
    found = db.session.scalar(select(Course).where(Course.slug == SLUG))
    assert found is not None
    return found


@pytest.fixture
def stats_course(sync_courses: Callable[[], Any]) -> Course:
    sync_courses()
    return course()


class Learners:
    """Learners going through the course with the training services, as the web pages do."""

    def __init__(self, make_user: Callable[..., User]) -> None:
        self.make_user = make_user

    def enrollment(self, user: User) -> Enrollment:
        found = services.get_enrollment(user, course())
        return found if found is not None else services.enroll(user, course())

    def reach_quiz(self, user: User) -> Enrollment:
        """Enrol (if needed) and complete every lesson up to the quiz module."""
        enrollment = self.enrollment(user)
        for slug in ("01-intro", "02-practice", QUIZ):
            state = services.module_state(enrollment, slug)
            if not state.lesson_done:
                services.complete_lesson(enrollment, state)
        return enrollment

    def attempt(self, user: User, responses: dict[str, Any], *, submit: bool = True) -> QuizAttempt:
        """One quiz attempt with ``responses`` by question title (missing: unanswered)."""
        enrollment = self.reach_quiz(user)
        state = services.module_state(enrollment, QUIZ)
        attempt = quiz.start_attempt(enrollment, state, random.Random(1))
        for frozen in quiz.frozen_questions(attempt):
            title = frozen.question.title
            if title in responses:
                quiz.save_answer(attempt, frozen.position, responses[title])
        if submit:
            quiz.submit(attempt)
        db.session.commit()
        return attempt

    def new(self, name: str, responses: dict[str, Any] | None = None) -> User:
        user = self.make_user(full_name=name)
        if responses is not None:
            self.attempt(user, responses)
        return user

    def finish(self, user: User, likert: str = "4", comment: str = "") -> None:
        """The course evaluation (after passing the quiz)."""
        enrollment = self.enrollment(user)
        answers = {"objectives-met": likert}
        if comment:
            answers["improve"] = comment
        services.submit_evaluation(enrollment, answers)
        db.session.commit()


@pytest.fixture
def learners(make_user: Callable[..., User], stats_course: Course) -> Learners:
    return Learners(make_user)


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("admin", full_name="Ada Admin")


def screen_rows(html: str, table_id: str) -> tuple[list[str], list[list[str]]]:
    """The header and the cells of the table ``table_id`` as text ("—" read as "")."""
    start = html.index(f'id="{table_id}"')
    body = html[start : html.index("</table>", start)]

    def text(cell: str) -> str:
        value = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell))).strip()
        return "" if value == "—" else value

    header = [text(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S)]
    rows = [
        [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]
    ]
    return header, rows


def csv_rows(data: str) -> tuple[list[str], list[list[str]]]:
    parsed = list(csv.reader(io.StringIO(data)))
    return parsed[0], [[cell.removeprefix("'") for cell in row] for row in parsed[1:]]
