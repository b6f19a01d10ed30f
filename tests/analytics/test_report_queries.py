"""How the course report reads years of history: the evaluation's answers read once a
statement whatever the number of items, and the drop-off's completions read by module
version through their index (docs/PERFORMANCE.md, "The eighteenth round")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from lms.analytics import queries
from lms.db import utcnow
from lms.extensions import db
from lms.training.models import CourseVersion, EvaluationResponse
from tests.analytics.conftest import SLUG, course, screen_rows
from tests.perf.test_query_plans import captured, postgresql_plan, reads

LIKERT_IDS = ("clear", "relevant", "paced")
TEXT_IDS = ("liked", "improve")


def _evaluation_of_five_items() -> None:
    """The course's current version asks three statements and two open questions."""
    version = db.session.get(CourseVersion, course().current_version_id)
    version.evaluation = {
        "title": "Course evaluation",
        "items": [
            *({"id": i, "kind": "likert", "prompt": f"Statement {i}"} for i in LIKERT_IDS),
            *({"id": i, "kind": "text", "prompt": f"Question {i}"} for i in TEXT_IDS),
        ],
    }
    db.session.commit()


def _respond(learners: Any, name: str, answers: dict[str, Any], minutes_ago: int) -> None:
    enrollment = learners.enrollment(learners.new(name))
    db.session.add(
        EvaluationResponse(
            enrollment_id=enrollment.id,
            course_version_id=enrollment.course_version_id,
            answers=answers,
            submitted_at=utcnow() - timedelta(minutes=minutes_ago),
        )
    )
    db.session.commit()


def test_every_item_is_summed_from_one_reading_of_the_answers(
    learners: Any, count_queries: Any
) -> None:
    _evaluation_of_five_items()
    for name, answers, minutes_ago in (
        ("Ann", {"clear": "5", "relevant": "4", "paced": "4", "liked": "Cases"}, 50),
        # An item left out, an answer to an item the evaluation no longer asks, an empty
        # comment: none of them counts.
        ("Ben", {"clear": "4", "paced": "2", "gone": "5", "improve": ""}, 40),
        ("Cal", {"clear": "4", "relevant": "5", "paced": "4", "improve": "Less"}, 30),
        ("Dee", {"clear": "1", "relevant": "5", "liked": "Pace", "improve": "More"}, 20),
        ("Eve", {"clear": "4", "relevant": "4", "paced": "5", "improve": "Videos"}, 10),
        # A number where the form stores a string is read as its text, on either database.
        ("Fay", {"clear": "3", "relevant": "3", "paced": 3, "improve": "Maps"}, 5),
    ):
        _respond(learners, name, answers, minutes_ago)

    with count_queries as q:
        summary = queries.evaluation_summary(course())

    assert summary.responses == 6
    assert [(s.prompt, s.counts, s.total) for s in summary.likert] == [
        ("Statement clear", [1, 0, 1, 3, 1], 6),
        ("Statement relevant", [0, 0, 1, 2, 2], 5),
        ("Statement paced", [0, 1, 1, 2, 1], 5),
    ]
    assert summary.likert[0].mean_text == "3.50"  # (5 + 4 + 4 + 1 + 4 + 3) / 6
    liked, improve = summary.text
    assert (liked.prompt, liked.total, [text for _at, text in liked.latest]) == (
        "Question liked",
        2,
        ["Pace", "Cases"],
    )
    assert improve.total == 4
    assert [text for _at, text in improve.latest] == ["Maps", "Videos", "More"]  # the latest 3

    # The version, the count of responses, the Likert counts, the latest comments: the
    # answers are read once a statement, not once an item (five items here).
    statements = [s for s in q.statements if "evaluation_responses" in s]
    assert len(statements) == 3, statements
    for statement in statements:
        assert statement.count("evaluation_responses.answers") <= 1, statement
        assert len(re.findall(r"\b(?:FROM|JOIN)\s+evaluation_responses\b", statement)) == 1


def _indexes_reading(statement: str, parameters: Any, table: str) -> list[str]:
    """The indexes the database would read ``table`` through (a whole-table read: "scan")."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        found: list[str] = []

        def index_names(node: dict[str, Any]) -> list[str]:
            names = [node["Index Name"]] if "Index Name" in node else []
            return names + [n for child in node.get("Plans", []) for n in index_names(child)]

        def walk(node: dict[str, Any]) -> None:
            if node.get("Relation Name") == table:
                # An index scan names its index; a bitmap heap scan, the index scans under it.
                found.extend(index_names(node) or ["scan"])
            for child in node.get("Plans", []):
                walk(child)

        walk(postgresql_plan(statement, parameters))
        return found
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [
        str(row[-1]).split(" INDEX ")[1].split()[0] if " INDEX " in str(row[-1]) else "scan"
        for row in rows
        if f" {table}" in str(row[-1])
    ]


def test_the_dropoff_reads_completions_by_module_version(
    app: Any, client: Any, login: Any, admin: Any, learners: Any
) -> None:
    for i in range(3):
        learners.reach_quiz(learners.new(f"Learner {i}"))
    login(admin)
    with captured(app) as sent:
        page = client.get(f"/admin/courses/{SLUG}")
    assert page.status_code == 200
    dropoff = [(s, p) for s, p in sent if reads(s, "module_progress")]
    assert len(dropoff) == 1, [s for s, _p in sent]
    assert _indexes_reading(*dropoff[0], "module_progress") == [
        "ix_module_progress_completed_version_user"
    ]
    # The counts are the page's: three learners through both lessons, none past the quiz.
    _header, rows = screen_rows(page.get_data(as_text=True), "dropoff")
    assert [row[:2] for row in rows] == [
        ["Enrolled", "3"],
        ["Introduction", "3"],
        ["Practice", "3"],
        ["Final test", "0"],
    ]
