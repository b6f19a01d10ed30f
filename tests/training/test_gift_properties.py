"""Property tests for the GIFT parser, writer and grader (pure, no app or database)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.training.gift import (
    FORMATS,
    Answer,
    GiftError,
    Question,
    ResponseError,
    check_gift,
    grade,
    max_fraction_reachable,
    numeric_text,
    parse_gift,
    to_gift,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------- arbitrary text

GIFT_TOKENS = [
    "{", "}", "=", "~", "#", "####", ":", "::", "%", "%50%", "%-100%", "%abc%", "->", "..",
    "\n", "\n\n", "\\", "\\n", "\\{", "\\}", "\\=", "\\~", "\\#", "\\:", "\\\\", "//", "/",
    "$CATEGORY:", "[html]", "[markdown]", "[plain]", "[moodle]", "[", "]", "T", "TRUE",
    "FALSE", "F", " ", "\t", "*", "1", "3.14", "-2", "1e3", "0.5", "\r\n", "\ufeff",
]  # fmt: skip
WORDS = st.text(st.characters(codec="utf-8"), max_size=6)
GIFTISH = st.lists(st.sampled_from(GIFT_TOKENS) | WORDS, max_size=40).map("".join)


def _roundtrip_holds(questions: list[Question]) -> None:
    again = parse_gift(to_gift(questions))
    assert again == questions
    assert [q.key() for q in again] == [q.key() for q in questions]
    for question in questions:
        data = json.loads(json.dumps(question.to_dict()))
        assert Question.from_dict(data) == question


def _only_gift_errors(text: str) -> None:
    errors = check_gift(text, "fuzz.gift")
    assert all(
        isinstance(e, GiftError) and str(e).startswith(f"fuzz.gift:{e.line}:") for e in errors
    )
    try:
        questions = parse_gift(text, "fuzz.gift")
    except GiftError as error:
        assert errors and str(error) == str(errors[0])
        return
    assert errors == []
    _roundtrip_holds(questions)


@SETTINGS
@given(st.text())
def test_any_text_raises_only_gift_error(text: str) -> None:
    _only_gift_errors(text)


@SETTINGS
@given(GIFTISH)
def test_giftish_text_raises_only_gift_error(text: str) -> None:
    _only_gift_errors(text)


@SETTINGS
@given(GIFTISH.map(lambda body: f"::t:: question {{{body}}}"))
def test_any_answer_block_raises_only_gift_error(text: str) -> None:
    _only_gift_errors(text)


# ----------------------------------------------------------------- valid questions

SPECIAL = st.sampled_from(list("~=#{}:\\[]%/*->.\n\t "))
ALPHABET = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"))
TEXT = st.text(SPECIAL | ALPHABET, min_size=1, max_size=12).map(str.strip).filter(bool)
PLAIN_TEXT = TEXT.filter(lambda t: "->" not in t)
FMT = st.sampled_from(FORMATS)
NUMBER = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6).map(float)


@st.composite
def feedback(draw: st.DrawFn, default: str) -> tuple[str, str]:
    text = draw(st.just("") | TEXT)
    return text, (draw(FMT) if text else default)


@st.composite
def choice(draw: st.DrawFn, weight: float, fmt: str, text: st.SearchStrategy[str] = TEXT) -> Answer:
    note, note_fmt = draw(feedback(fmt))
    return Answer(draw(text), weight, note, draw(FMT), note_fmt)


@st.composite
def choices(draw: st.DrawFn, fmt: str, kind: str) -> list[Answer]:
    if kind == "multichoice":
        weights = [100.0] + draw(
            st.lists(st.sampled_from([0.0, 50.0, -100.0, 12.5, 100.0]), min_size=1, max_size=4)
        )
    else:
        right = draw(
            st.sampled_from([[100.0], [50.0, 50.0], [25.0, 75.0], [33.33333] * 2 + [33.33334]])
        )
        weights = right + draw(st.lists(st.sampled_from([-100.0, -50.0, -12.5]), max_size=3))
        if len(weights) < 2:
            weights.append(-100.0)
    answers = [draw(choice(w, fmt)) for w in weights]
    return draw(st.permutations(answers))


@st.composite
def short_answers(draw: st.DrawFn, fmt: str) -> list[Answer]:
    weights = [100.0] + draw(st.lists(st.sampled_from([0.0, 50.0, 12.5, 100.0]), max_size=3))
    answers = [draw(choice(w, fmt, PLAIN_TEXT)) for w in weights]
    return draw(st.permutations(answers))


@st.composite
def numbers(draw: st.DrawFn, fmt: str) -> list[Answer]:
    answers = []
    weights = [100.0] + draw(st.lists(st.sampled_from([0.0, 50.0, 100.0]), max_size=3))
    for weight in draw(st.permutations(weights)):
        note, note_fmt = draw(feedback(fmt))
        answer = Answer("", weight, note, fmt, note_fmt)
        shape = draw(st.sampled_from(["exact", "tolerance", "range"]))
        if shape == "range":
            answer.minimum, answer.maximum = sorted([draw(NUMBER), draw(NUMBER)])
        else:
            answer.value = draw(NUMBER)
            if shape == "tolerance":
                answer.tolerance = abs(draw(NUMBER))
        answer.__post_init__()  # normalise -0.0 like the parser does
        answer.text = numeric_text(answer)
        answers.append(answer)
    if draw(st.booleans()):
        note, note_fmt = draw(feedback(fmt))
        answers.append(Answer("*", 0.0, note, fmt, note_fmt))
    return answers


@st.composite
def pairs(draw: st.DrawFn, fmt: str) -> list[Answer]:
    count = draw(st.integers(2, 4))
    return [
        Answer(draw(PLAIN_TEXT), 0.0, "", draw(FMT), fmt, match=draw(TEXT)) for _ in range(count)
    ]


@st.composite
def truefalse(draw: st.DrawFn, fmt: str) -> list[Answer]:
    right = draw(st.booleans())
    true_note, false_note = draw(feedback(fmt)), draw(feedback(fmt))
    return [
        Answer("True", 100.0 if right else 0.0, true_note[0], fmt, true_note[1]),
        Answer("False", 0.0 if right else 100.0, false_note[0], fmt, false_note[1]),
    ]


ANSWERS = {
    "multichoice": lambda fmt: choices(fmt, "multichoice"),
    "multiresponse": lambda fmt: choices(fmt, "multiresponse"),
    "shortanswer": short_answers,
    "numerical": numbers,
    "matching": pairs,
    "truefalse": truefalse,
    "essay": lambda fmt: st.just([]),
    "description": lambda fmt: st.just([]),
}


@st.composite
def questions(draw: st.DrawFn, category: str = "") -> Question:
    kind = draw(st.sampled_from(sorted(ANSWERS)))
    fmt = draw(FMT)
    text_after = "" if kind == "description" else draw(st.just("") | TEXT)
    text = draw(TEXT | st.just("")) if text_after else draw(TEXT)
    general, general_fmt = ("", fmt) if kind == "description" else draw(feedback(fmt))
    return Question(
        kind,
        text,
        draw(ANSWERS[kind](fmt)),
        title=draw(st.just("") | TEXT),
        text_format=fmt,
        text_after=text_after,
        general_feedback=general,
        general_feedback_format=general_fmt,
        category=category,
    )


@st.composite
def quizzes(draw: st.DrawFn) -> list[Question]:
    category = draw(st.just("") | TEXT.filter(lambda t: "\n" not in t and "\t" not in t))
    return draw(st.lists(questions(category), min_size=1, max_size=3))


@SETTINGS
@given(quizzes())
def test_generated_questions_round_trip(quiz: list[Question]) -> None:
    assert check_gift(to_gift(quiz)) == []
    _roundtrip_holds(quiz)


RESPONSES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10) | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=2) | st.integers(-1, 5), inner)
    ),
    max_leaves=8,
)


def _check_grade(question: Question, response: Any) -> None:
    try:
        result = grade(question, response)
    except ResponseError:
        return
    if question.is_scored:
        assert result.fraction is not None and 0.0 <= result.fraction <= 1.0
        assert result.fraction <= max_fraction_reachable(question)
        assert result.correct == (result.fraction == 1.0)
    else:
        assert result.fraction is None and result.correct is None


SAMPLE = parse_gift(
    """
Pick one {=right#yes ~wrong#no ~%-50%bad}

Pick some {~%50%a ~%50%b ~%-100%c}

The sky is blue {T#no#yes}

Name it {=Paris =%50%Par* #close}

A number {#=%100%3.14:0.01 =%50%1..5 ~#far}

Match {=a -> 1 =b -> 2 =c -> 2}

Tell us {}

Just words.
"""
)


@SETTINGS
@given(st.sampled_from(SAMPLE), RESPONSES)
def test_grade_raises_only_response_error(question: Question, response: Any) -> None:
    _check_grade(question, response)


@SETTINGS
@given(questions(), st.data())
def test_grade_of_plausible_responses(question: Question, data: st.DataObject) -> None:
    count = len(question.answers)
    response = {
        "multichoice": st.integers(0, count - 1) if count else st.none(),
        "multiresponse": st.lists(st.integers(0, max(count - 1, 0)), unique=True),
        "truefalse": st.booleans(),
        "shortanswer": st.sampled_from([a.text for a in question.answers] or [""]) | TEXT,
        "numerical": NUMBER | st.text(max_size=8),
        "matching": st.dictionaries(
            st.integers(0, max(count - 1, 0)), st.sampled_from(question.choices or [""])
        ),
        "essay": TEXT,
        "description": st.none(),
    }[question.kind]
    _check_grade(question, data.draw(response))
