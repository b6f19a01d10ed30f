"""Question analysis of a module: answers, share fully correct, discrimination index (top and
bottom quarter by attempt score), the most chosen wrong answer; earlier definitions of the
same question count together; the CSV equals the screen."""

from __future__ import annotations

from sqlalchemy import select

from lms.analytics.identity import describe_response, identity, module_questions
from lms.extensions import db
from lms.training.gift import parse_gift
from lms.training.models import AttemptAnswer
from tests.analytics.conftest import QUIZ, SLUG, course, csv_rows, edit_quiz, screen_rows

PAGE = f"/admin/courses/{SLUG}/modules/{QUIZ}"
HEADER = [
    "#",
    "Question",
    "Answered",
    "Fully correct",
    "Discrimination (top − bottom quarter)",
    "Most chosen wrong answer",
]


def _responses(i: int) -> dict:
    """Learner ``i`` of 20 (see the table in the test below)."""
    if i == 0:
        return {"Capital": 0, "Sky": False, "Colour": "blue", "Sum": "4"}  # 50%
    if i <= 4:
        return {"Capital": 1, "Sky": False, "Colour": "blue", "Sum": "4"}  # 25%
    if i <= 9:
        return {"Capital": 0, "Sky": False, "Colour": "blue", "Sum": "5"}  # 25%
    if i <= 14:
        return {"Capital": 0, "Sky": True, "Colour": "Blue", "Sum": "5"}  # 50%
    return {"Capital": 0, "Sky": True, "Colour": "green", "Sum": "5"}  # 75%


def test_question_numbers_on_a_hand_computed_data_set(client, login, admin, learners) -> None:
    for i in range(19):
        learners.new(f"Learner {i:02d}", _responses(i))
    login(admin)
    header, rows = screen_rows(client.get(PAGE).get_data(as_text=True), "questions")
    assert header == HEADER
    # 19 answers: too few for a discrimination index.
    assert [row[4] for row in rows] == ["", "", "", ""]

    learners.new("Learner 19", _responses(19))
    page = client.get(PAGE).get_data(as_text=True)
    assert "top quarter" in page and "bottom quarter" in page
    _, rows = screen_rows(page, "questions")
    # Attempts by score, then by id: 25% x9 (learners 1-9), 50% x6 (0, 10-14), 75% x5 (15-19).
    # ntile(4): bottom quarter = learners 1-5, top quarter = learners 15-19.
    # Capital: 16/20 right; top 5/5, bottom 1/5 (learner 5) -> 0.80; wrong: London x4.
    # Sky: 10/20; top 5/5, bottom 0/5 -> 1.00; wrong: False x10.
    # Colour: 5/20; top 5/5, bottom 0/5 -> 1.00; wrong: "blue" x10 and "Blue" x5, one answer.
    # Sum: 5/20 (learners 0-4); top 0/5, bottom 4/5 -> -0.80; wrong: 5 x15.
    assert rows == [
        ["1", "Capital", "20", "80%", "0.80", "London"],
        ["2", "Sky", "20", "50%", "1.00", "False"],
        ["3", "Colour", "20", "25%", "1.00", "Blue"],
        ["4", "Sum", "20", "25%", "-0.80", "5"],
    ]
    exported = client.get(f"{PAGE}.csv")
    assert exported.status_code == 200
    assert csv_rows(exported.get_data(as_text=True)) == (HEADER, rows)
    assert "'-0.80" in exported.get_data(as_text=True)  # never a live formula in a spreadsheet


def test_unfinished_attempts_and_other_courses_do_not_count(client, login, admin, learners) -> None:
    learners.new("Finished", {"Capital": 1, "Sky": True})
    learners.attempt(learners.new("Still Working"), {"Capital": 2, "Sky": False}, submit=False)
    login(admin)
    _, rows = screen_rows(client.get(PAGE).get_data(as_text=True), "questions")
    assert rows == [
        ["1", "Capital", "1", "0%", "", "London"],
        ["2", "Sky", "1", "100%", "", ""],
        ["3", "Colour", "0", "", "", ""],
        ["4", "Sum", "0", "", "", ""],
    ]


def test_answers_to_earlier_versions_of_a_question_count_with_the_current_one(
    client, login, admin, learners, courses_dir, sync_courses
) -> None:
    learners.new("Before Fix", {"Capital": 0, "Sky": True, "Colour": "blue", "Sum": "4"})
    learners.new("Also Before", {"Capital": 0, "Sky": True, "Colour": "green", "Sum": "4"})
    edit_quiz(courses_dir, "What colour is grass?", "What colour is fresh grass?")
    sync_courses()
    learners.new("After Fix", {"Capital": 0, "Sky": True, "Colour": "verde", "Sum": "4"})
    keys = set(db.session.scalars(select(AttemptAnswer.question_key).distinct()))
    assert len(keys) == 5  # two definitions of Colour
    login(admin)
    page = client.get(PAGE).get_data(as_text=True)
    _, rows = screen_rows(page, "questions")
    assert rows[2] == ["3", "Colour", "3", "67%", "", "blue"]
    # The changed question is offered for regrading, the others are not.
    assert "Question 3: Colour" in page and "2 answers given to an earlier version" in page
    assert "Question 1: Capital" not in page


def test_an_untitled_question_is_the_same_question_while_its_text_is(
    client, login, admin, learners, courses_dir, sync_courses
) -> None:
    edit_quiz(courses_dir, "::Sum::What is 2 + 2? {#4}", "What is 2 + 2? {#4}")
    sync_courses()
    learners.new("Untitled One", {"Capital": 0, "Sky": True, "Colour": "green", "": "5"})
    mq = module_questions(course(), QUIZ)
    assert mq is not None
    position = mq.current[3]
    assert identity(position.question) == "What is 2 + 2?"
    # Feedback added: a new definition of the same question.
    edit_quiz(courses_dir, "What is 2 + 2? {#4}", "What is 2 + 2? {#4#Well done.}")
    sync_courses()
    # The text changes: a different question, its answers no longer count.
    login(admin)
    _, rows = screen_rows(client.get(PAGE).get_data(as_text=True), "questions")
    assert rows[3][:4] == ["4", "What is 2 + 2?", "1", "0%"]
    edit_quiz(courses_dir, "What is 2 + 2? {#4#Well done.}", "What is 3 + 3? {#6}")
    sync_courses()
    _, rows = screen_rows(client.get(PAGE).get_data(as_text=True), "questions")
    assert rows[3][:3] == ["4", "What is 3 + 3?", "0"]


def test_describe_response_reads_like_the_quiz() -> None:
    multi, matching, short = parse_gift(
        "::M::Pick two {~%50%Red ~%50%Blue ~%-100%Green}\n\n"
        "::P::Match {=Cat -> Meow =Dog -> Woof}\n\n"
        "::S::Type it {=yes}\n"
    )
    assert describe_response(multi, [0, 2]) == "Red + Green"
    assert describe_response(multi, []) == "(nothing chosen)"
    assert describe_response(multi, [7]) == "answer 8 of an earlier version"
    assert describe_response(matching, {"0": "Woof", "1": "Meow"}) == "Cat → Woof; Dog → Meow"
    assert describe_response(short, "  nope ") == "nope"
    # A response saved for an earlier definition of another kind reads as it was typed.
    assert describe_response(multi, "green") == "green"
