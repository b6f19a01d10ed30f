"""Moodle's GIFT quiz format: parse, check, write back and grade questions.

Pure Python (no Flask, no database). The format is the one documented at
https://docs.moodle.org/en/GIFT_format, with the same reading as Moodle's importer:

* Questions are separated by blank lines; ``//`` lines are comments;
  ``$CATEGORY: path`` sets the category of the questions that follow.
* ``::title::`` names a question; ``[moodle]``, ``[html]``, ``[plain]`` or
  ``[markdown]`` before a text sets its format (answers and feedback default to
  the format of the question text).
* The answer block ``{...}`` decides the kind: ``{}`` essay, no block at all a
  description, ``{T}``/``{TRUE}``/``{F}``/``{FALSE}`` true/false (feedback
  ``{T#shown if wrong#shown if right}``), ``{#...}`` numerical (``3.14``,
  ``3.14:0.01``, ``1..5``, several ``=%50%...`` answers, ``~#feedback`` for any
  other number), any ``~`` multiple choice (single answer when some answer uses
  ``=``, several answers - "multiresponse" - when all use ``~%weight%``),
  ``=left -> right`` matching, otherwise short answer (``*`` wildcard, case
  insensitive). Text after the block makes it a missing-word question.
* ``#feedback`` follows an answer, ``####feedback`` ends the block (general
  feedback), ``%50%`` after ``=``/``~`` weights an answer (-100..100).
* ``\\~ \\= \\# \\{ \\} \\: \\\\`` escape special characters and ``\\n`` is a newline.

Public API: :func:`parse_gift`, :func:`check_gift`, :func:`to_gift`, :func:`grade`,
:func:`max_fraction_reachable`, the dataclasses :class:`Question`,
:class:`Answer`, :class:`Grade`, and the errors :class:`GiftError` and
:class:`ResponseError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, NoReturn

KINDS = (
    "multichoice",
    "multiresponse",
    "truefalse",
    "shortanswer",
    "numerical",
    "matching",
    "essay",
    "description",
)
UNSCORED_KINDS = ("essay", "description")
FORMATS = ("moodle", "html", "plain", "markdown")
BLANK = "_____"

_ESCAPES = {"~": "~", "=": "=", "#": "#", "{": "{", "}": "}", ":": ":", "\\": "\\", "n": "\n"}
_TO_ESCAPE = "\\~=#{}:"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_UNESCAPED_STARS = re.compile(r"(?<!\\)\*+")
_TRUE_WORDS = ("T", "TRUE")
_FALSE_WORDS = ("F", "FALSE")
_CATEGORY = "$CATEGORY:"
_CLOSE = 1e-4  # weights (in %) and fractions this close count as equal
_STRAY_BRACE = "unbalanced braces: '}' without an opening '{' (write \\} for a brace)"


# --------------------------------------------------------------------------- errors


class GiftError(ValueError):
    """A problem in GIFT text. ``str(error)`` is ``"<source>:<line>: <message>"``."""

    def __init__(self, message: str, line: int, source: str = "<string>") -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.message = message
        self.line = line
        self.source = source

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.line, self.source))


class ResponseError(ValueError):
    """A learner's response that does not fit the question (wrong type, unknown choice...)."""


# --------------------------------------------------------------------------- data model


class Pair(NamedTuple):
    """One pair of a matching question."""

    left: str
    right: str
    left_format: str = "moodle"


@dataclass
class Answer:
    """One answer of a question.

    ``weight`` is in percent (-100..100). Per kind:

    * multichoice / multiresponse / shortanswer: ``text`` (a short answer may use
      ``*`` as a wildcard, ``\\*`` for a literal star), ``weight``, ``feedback``.
    * truefalse: always two answers, ``"True"`` then ``"False"``; the right one
      weighs 100 and each carries the feedback shown when the learner picks it.
    * numerical: ``value`` with ``tolerance``, or ``minimum``..``maximum``; neither
      means "any other number" (written ``~#feedback``). ``text`` is a canonical
      rendering such as ``"3.14:0.01"``, ``"1..5"`` or ``"*"``.
    * matching: ``text`` is the left side and ``match`` the right side.
    """

    text: str
    weight: float = 0.0
    feedback: str = ""
    text_format: str = "moodle"
    feedback_format: str = "moodle"
    match: str = ""
    value: float | None = None
    tolerance: float = 0.0
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        self.weight = float(self.weight) + 0.0  # + 0.0 turns -0.0 into 0.0
        self.tolerance = float(self.tolerance) + 0.0
        for name in ("value", "minimum", "maximum"):
            number = getattr(self, name)
            if number is not None:
                setattr(self, name, float(number) + 0.0)
        _check_format(self.text_format)
        _check_format(self.feedback_format)

    @property
    def is_range(self) -> bool:
        """Numerical: the answer is an interval ``minimum..maximum``."""
        return self.minimum is not None and self.maximum is not None

    @property
    def is_catch_all(self) -> bool:
        """Numerical: the answer matches any number (``~#feedback``)."""
        return self.value is None and not self.is_range

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; :meth:`from_dict` reads it back (every field is a
        string or a number: copied as they are, what ``dataclasses.asdict`` gives, faster)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES[Answer]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """The answer described by ``data`` (as made by :meth:`to_dict`)."""
        return cls(**_known_fields(cls, data))


@dataclass
class Question:
    """One GIFT question. Equality ignores ``line``.

    ``text`` is the question text; for a missing-word question (text after the
    answer block) it is the text before the blank and ``text_after`` the text
    after it (see :attr:`full_text`). ``answers`` depend on ``kind`` (see
    :class:`Answer`); essays and descriptions have none.
    """

    kind: str
    text: str
    answers: list[Answer] = field(default_factory=list)
    title: str = ""
    text_format: str = "moodle"
    text_after: str = ""
    general_feedback: str = ""
    general_feedback_format: str = "moodle"
    category: str = ""
    line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown question kind {self.kind!r}")
        _check_format(self.text_format)
        _check_format(self.general_feedback_format)

    @property
    def is_missing_word(self) -> bool:
        """The answer block sits inside the text (there is text after it)."""
        return bool(self.text_after)

    @property
    def full_text(self) -> str:
        """The text as shown, with ``_____`` for the blank of a missing-word question."""
        return f"{self.text}{BLANK}{self.text_after}" if self.text_after else self.text

    @property
    def is_scored(self) -> bool:
        """Graded automatically (everything except essays and descriptions)."""
        return self.kind not in UNSCORED_KINDS

    @property
    def pairs(self) -> list[Pair]:
        """Matching: the pairs in order; a response's keys index this list."""
        if self.kind != "matching":
            return []
        return [Pair(a.text, a.match, a.text_format) for a in self.answers]

    @property
    def choices(self) -> list[str]:
        """Matching: the distinct right-hand sides, in order of first appearance."""
        return list(dict.fromkeys(pair.right for pair in self.pairs))

    @property
    def correct_answer(self) -> bool | None:
        """True/false: the right answer; None for other kinds."""
        if self.kind != "truefalse" or not self.answers:
            return None
        return self.answers[0].weight > 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; :meth:`from_dict` reads it back (the same dict as
        ``dataclasses.asdict``, made field by field: a submit hashes each new answer's
        question, and ``asdict`` deep-copies every value on the way)."""
        values = {name: getattr(self, name) for name in _FIELD_NAMES[Question]}
        values["answers"] = [a.to_dict() for a in self.answers]
        return values

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """The question described by ``data`` (as made by :meth:`to_dict`)."""
        values = _known_fields(cls, data)
        values["answers"] = [Answer.from_dict(a) for a in values.get("answers", [])]
        return cls(**values)

    def key(self) -> str:
        """A stable hash of everything but the line number: changes iff the question does."""
        content = self.to_dict()
        del content["line"]
        payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# Each dataclass's field names, in order (``to_dict`` copies them).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in (Answer, Question)
}


@dataclass(frozen=True)
class Grade:
    """The result of :func:`grade`.

    ``fraction`` is 0..1 (None when not auto-scored), ``correct`` is True for full
    marks (None when not auto-scored), ``feedback`` the non-empty feedback of what
    was chosen or typed, ``matched`` the indices of those answers (matching: the
    pairs matched correctly).
    """

    fraction: float | None
    feedback: list[str] = field(default_factory=list)
    correct: bool | None = None
    matched: list[int] = field(default_factory=list)


def _check_format(name: str) -> None:
    if name not in FORMATS:
        raise ValueError(f"unknown text format {name!r}; use one of {', '.join(FORMATS)}")


def _known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    return dict(data)


# --------------------------------------------------------------------------- parsing


def parse_gift(text: str, source: str = "<string>") -> list[Question]:
    """Parse GIFT ``text`` into questions.

    Raises the first :class:`GiftError` that :func:`check_gift` would report
    (``str(error)`` starts with ``f"{source}:{line}:"``); so ``parse_gift`` succeeds
    exactly when ``check_gift`` finds nothing.
    """
    questions, errors = _parse(text, source)
    if errors:
        raise errors[0]
    return questions


def check_gift(text: str, source: str = "<string>") -> list[GiftError]:
    """Every problem in GIFT ``text``, in file order (empty when it is valid).

    Parsing continues after a bad question, so one run reports them all: braces,
    titles, weights (format and range), answers that cannot give full marks,
    numbers, matching pairs, empty answers or texts, categories.
    """
    return _parse(text, source)[1]


def _parse(text: str, source: str) -> tuple[list[Question], list[GiftError]]:
    questions: list[Question] = []
    errors: list[GiftError] = []
    category = ""
    for block in _blocks(text):
        while block and block[0][1].strip().startswith(_CATEGORY):
            number, line = block.pop(0)
            category = line.strip()[len(_CATEGORY) :].strip()
            if not category:
                errors.append(GiftError("$CATEGORY: needs a category path", number, source))
        if not block:
            continue
        parser = _QuestionParser(block, source, category)
        question = parser.parse()
        errors.extend(parser.errors)
        if question is not None:
            questions.append(question)
    return questions, errors


def _blocks(text: str) -> Iterator[list[tuple[int, str]]]:
    """Numbered non-comment lines of each question, split at blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            if block:
                yield block
            block = []
        elif not stripped.startswith("//"):
            block.append((number, line))
    if block:
        yield block


class _Text:
    """A question block, unescaped: its characters, which of them are active
    (special: not written with a backslash) and the source line of each."""

    def __init__(self, numbered: list[tuple[int, str]]) -> None:
        chars: list[str] = []
        self.active: list[bool] = []
        self.lines: list[int] = []
        for position, (number, line) in enumerate(numbered):
            if position:
                self._add(chars, "\n", True, numbered[position - 1][0])
            i = 0
            while i < len(line):
                if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in _ESCAPES:
                    self._add(chars, _ESCAPES[line[i + 1]], False, number)
                    i += 2
                else:
                    self._add(chars, line[i], True, number)
                    i += 1
        self.chars = "".join(chars)

    def _add(self, chars: list[str], char: str, active: bool, number: int) -> None:
        chars.append(char)
        self.active.append(active)
        self.lines.append(number)

    def __len__(self) -> int:
        return len(self.chars)

    def get(self, start: int, end: int) -> str:
        return self.chars[start:end]

    def line_at(self, index: int) -> int:
        return self.lines[max(0, min(index, len(self.lines) - 1))]

    def is_at(self, index: int, token: str) -> bool:
        end = index + len(token)
        return self.chars.startswith(token, index) and all(self.active[index:end])

    def find(self, token: str, start: int, end: int) -> int:
        """First active ``token`` within ``[start, end)``, or -1."""
        i = self.chars.find(token, start, end)
        while i >= 0 and not self.is_at(i, token):
            i = self.chars.find(token, i + 1, end)
        return i

    def rfind(self, token: str, start: int, end: int) -> int:
        """Last active ``token`` within ``[start, end)``, or -1."""
        i = self.chars.rfind(token, start, end)
        while i >= 0 and not self.is_at(i, token):
            i = self.chars.rfind(token, start, i + len(token) - 1)
        return i

    def strip(self, start: int, end: int) -> tuple[int, int]:
        while start < end and self.chars[start].isspace():
            start += 1
        while end > start and self.chars[end - 1].isspace():
            end -= 1
        return start, end

    def split(self, markers: str, start: int, end: int) -> list[tuple[str, int, int]]:
        """Pieces ``(marker, start, end)`` cut at active ``markers``; a blank
        piece before the first marker is dropped."""
        pieces = []
        marker, piece_start = "", start
        for i in range(start, end):
            if self.active[i] and self.chars[i] in markers:
                pieces.append((marker, piece_start, i))
                marker, piece_start = self.chars[i], i + 1
        pieces.append((marker, piece_start, end))
        first_start, first_end = self.strip(pieces[0][1], pieces[0][2])
        if pieces[0][0] == "" and first_start == first_end:
            pieces.pop(0)
        return pieces


class _Stop(Exception):
    """This question cannot be read any further."""


class _QuestionParser:
    """Reads one question block; collects its problems in ``errors``."""

    def __init__(self, block: list[tuple[int, str]], source: str, category: str) -> None:
        self.t = _Text(block)
        self.source = source
        self.category = category
        self.first_line = block[0][0]
        self.errors: list[GiftError] = []
        self.fmt = "moodle"

    def error(self, at: int, message: str) -> None:
        self.errors.append(GiftError(message, self.t.line_at(at), self.source))

    def stop(self, at: int, message: str) -> NoReturn:
        self.error(at, message)
        raise _Stop

    def parse(self) -> Question | None:
        try:
            question = self._question()
        except _Stop:
            return None
        return None if self.errors else question

    def _question(self) -> Question:
        t = self.t
        start, end = t.strip(0, len(t))
        title, start = self._title(start, end)
        block = self._answer_block(start, end)
        if block is None:
            self.fmt, text_start = self._format(start, end, "moodle")
            text = t.get(text_start, end).strip()
            question = Question("description", text, title=title, text_format=self.fmt)
            question.general_feedback_format = self.fmt
            return self._finish(question)
        opening, closing = block
        self.fmt, text_start = self._format(start, opening, "moodle")
        text_after = t.get(closing + 1, end)  # ``end`` is already stripped
        if text_after.strip():
            text = t.get(text_start, opening).lstrip()
        else:
            text, text_after = t.get(text_start, opening).strip(), ""
        body_start, body_end = opening + 1, closing
        general, general_fmt = "", self.fmt
        hashes = t.rfind("####", body_start, body_end)
        if hashes >= 0:
            general, general_fmt = self._formatted(hashes + 4, body_end, self.fmt)
            body_end = hashes
        body_start, body_end = t.strip(body_start, body_end)
        kind, answers = self._answers(body_start, body_end, opening)
        question = Question(
            kind,
            text,
            answers,
            title=title,
            text_format=self.fmt,
            text_after=text_after,
            general_feedback=general,
            general_feedback_format=general_fmt,
        )
        return self._finish(question)

    def _finish(self, question: Question) -> Question:
        if not question.text and not question.text_after:
            self.error(0, "the question has no text")
        question.category = self.category
        question.line = self.first_line
        return question

    def _title(self, start: int, end: int) -> tuple[str, int]:
        if not self.t.is_at(start, "::"):
            return "", start
        closing = self.t.find("::", start + 2, end)
        if closing < 0:
            self.stop(start, "unclosed question title: '::title' needs a closing '::'")
        title = self.t.get(start + 2, closing).strip()
        return title, self.t.strip(closing + 2, end)[0]

    def _answer_block(self, start: int, end: int) -> tuple[int, int] | None:
        """Positions of the ``{`` and ``}`` of the one answer block, if any."""
        t = self.t
        opening, closing = t.find("{", start, end), t.find("}", start, end)
        if opening < 0 and closing < 0:
            return None
        if closing >= 0 and (opening < 0 or closing < opening):
            self.stop(closing, _STRAY_BRACE)
        nested = t.find("{", opening + 1, closing if closing >= 0 else end)
        if nested >= 0:
            self.stop(nested, "unbalanced braces: '{' inside an answer block (is a '}' missing?)")
        if closing < 0:
            self.stop(opening, "unclosed answer block: '{' without a closing '}'")
        again, stray = t.find("{", closing + 1, end), t.find("}", closing + 1, end)
        if again >= 0 and (stray < 0 or again < stray):
            self.stop(again, "a second answer block: separate questions with a blank line")
        if stray >= 0:
            self.stop(stray, _STRAY_BRACE)
        return opening, closing

    def _format(self, start: int, end: int, default: str) -> tuple[str, int]:
        """A ``[format]`` prefix at ``start``: (format, where the text starts)."""
        start, end = self.t.strip(start, end)
        if start < end and self.t.chars[start] == "[":
            closing = self.t.chars.find("]", start, end)
            name = self.t.get(start + 1, closing) if closing > 0 else ""
            if name in FORMATS:
                return name, closing + 1
        return default, start

    def _formatted(self, start: int, end: int, default: str) -> tuple[str, str]:
        """(text, format) of a piece of text with an optional ``[format]`` prefix."""
        fmt, start = self._format(start, end, default)
        text = self.t.get(start, end).strip()
        return text, fmt if text else default

    def _answers(self, start: int, end: int, opening: int) -> tuple[str, list[Answer]]:
        t = self.t
        if start == end:
            return "essay", []
        if t.is_at(start, "#"):
            return "numerical", self._numerical(start + 1, end, opening)
        if t.find("~", start, end) >= 0:
            return self._multichoice(start, end, opening)
        items = t.split("=", start, end)
        if any("->" in t.get(s, self._feedback_at(s, e)) for _, s, e in items):
            return "matching", self._matching(items, opening)
        sharp = t.find("#", start, end)
        head = t.get(start, sharp if sharp >= 0 else end).strip()
        if head in _TRUE_WORDS + _FALSE_WORDS:
            return "truefalse", self._truefalse(head in _TRUE_WORDS, sharp, end)
        if items[0][0] == "" and head.upper() in _TRUE_WORDS + _FALSE_WORDS:
            self.error(
                start,
                f"{{{head}}} reads as a short answer: true/false is {{T}}, {{TRUE}}, "
                f"{{F}} or {{FALSE}} in capitals (write {{={head}}} for a short answer)",
            )
        return "shortanswer", self._shortanswer(items, opening)

    def _feedback_at(self, start: int, end: int) -> int:
        sharp = self.t.find("#", start, end)
        return sharp if sharp >= 0 else end

    def _weight(self, start: int, end: int, default: float) -> tuple[float, int]:
        """An optional ``%weight%`` at ``start``: (weight, where the text starts)."""
        t = self.t
        start, end = t.strip(start, end)
        if start >= end or t.chars[start] != "%":
            return default, start
        closing = t.chars.find("%", start + 1, end)
        spec = t.get(start + 1, closing).strip() if closing >= 0 else ""
        if closing < 0 or not _NUMBER.fullmatch(spec):
            shown = t.get(start, closing + 1 if closing >= 0 else end)[:40]
            self.error(
                start, f"unknown weight format {shown!r}: write a percentage like %50% or %-25%"
            )
            return default, (closing + 1 if closing >= 0 else start + 1)
        weight = float(spec) + 0.0
        if not -100 <= weight <= 100:
            self.error(start, f"weight {spec}% is out of range: weights go from -100% to 100%")
        return weight, closing + 1

    def _answer(self, start: int, end: int, weight: float, at: int) -> Answer:
        sharp = self._feedback_at(start, end)
        text, text_fmt = self._formatted(start, sharp, self.fmt)
        feedback, feedback_fmt = ("", self.fmt)
        if sharp < end:
            feedback, feedback_fmt = self._formatted(sharp + 1, end, self.fmt)
        if not text:
            self.error(at, "empty answer")
        return Answer(text, weight, feedback, text_fmt, feedback_fmt)

    def _multichoice(self, start: int, end: int, opening: int) -> tuple[str, list[Answer]]:
        items = self.t.split("~=", start, end)
        single = any(marker == "=" for marker, _, _ in items)
        answers = []
        for marker, s, e in items:
            at = s - 1 if marker else s
            weight, s = self._weight(s, e, 100.0 if marker == "=" else 0.0)
            answers.append(self._answer(s, e, weight, at))
        weights = [a.weight for a in answers]
        if len(answers) < 2:
            self.error(opening, "a multiple choice question needs at least 2 answers")
        elif single and max(weights) < 100 - _CLOSE:
            self.error(opening, "no answer is worth 100%: mark the right answer with '='")
        elif not single:
            self._check_multiresponse(weights, opening)
        return ("multichoice" if single else "multiresponse"), answers

    def _check_multiresponse(self, weights: list[float], opening: int) -> None:
        positive = sum(w for w in weights if w > 0)
        if abs(positive - 100) > _CLOSE:
            self.error(
                opening,
                f"the positive weights add up to {positive:g}%: with several right answers "
                "(~%50%a ~%50%b) they must add up to 100%, or mark the one right answer with '='",
            )
        elif min(weights) <= 0 and sum(weights) >= 100 - _CLOSE:
            self.error(
                opening,
                "ticking every answer scores 100%: give the wrong answers negative weights "
                "(~%-100%wrong)",
            )

    def _shortanswer(self, items: list[tuple[str, int, int]], opening: int) -> list[Answer]:
        answers = []
        for marker, s, e in items:
            at = s - 1 if marker else s
            weight, s = self._weight(s, e, 100.0)
            if weight < 0:
                self.error(at, "negative weights are only allowed in multiple choice questions")
            answers.append(self._answer(s, e, weight, at))
        self._check_full_marks(answers, opening)
        return answers

    def _check_full_marks(self, answers: list[Answer], opening: int) -> None:
        if answers and max(a.weight for a in answers) < 100 - _CLOSE:
            self.error(opening, "no answer is worth 100%")

    def _truefalse(self, right: bool, sharp: int, end: int) -> list[Answer]:
        wrong_feedback = right_feedback = ("", self.fmt)
        if sharp >= 0:
            second = self.t.find("#", sharp + 1, end)
            wrong_feedback = self._formatted(sharp + 1, second if second >= 0 else end, self.fmt)
            if second >= 0:
                right_feedback = self._formatted(second + 1, end, self.fmt)
        true_feedback, false_feedback = (
            (right_feedback, wrong_feedback) if right else (wrong_feedback, right_feedback)
        )
        return [
            Answer("True", 100.0 if right else 0.0, true_feedback[0], self.fmt, true_feedback[1]),
            Answer(
                "False", 0.0 if right else 100.0, false_feedback[0], self.fmt, false_feedback[1]
            ),
        ]

    def _matching(self, items: list[tuple[str, int, int]], opening: int) -> list[Answer]:
        t = self.t
        answers = []
        for _, s, e in items:
            sharp = t.find("#", s, e)
            if sharp >= 0:
                self.error(sharp, "matching pairs cannot have feedback (write \\# for a '#')")
                e = sharp
            arrow = t.find("->", s, e)
            if arrow < 0:
                self.error(
                    s, "a matching pair needs '->' between its sides, as in =cat -> cat food"
                )
                continue
            left, left_fmt = self._formatted(s, arrow, self.fmt)
            right = t.get(arrow + 2, e).strip()
            if not left or not right:
                self.error(s, "both sides of a matching pair must have text")
            answers.append(Answer(left, 0.0, "", left_fmt, self.fmt, match=right))
        if len(answers) < 2:
            self.error(opening, f"a matching question needs at least 2 pairs, found {len(answers)}")
        return answers

    def _numerical(self, start: int, end: int, opening: int) -> list[Answer]:
        t = self.t
        catch_all = None
        tilde = t.find("~", start, end)
        if tilde >= 0:
            sharp = self._feedback_at(tilde + 1, end)
            if t.get(tilde + 1, sharp).strip():
                self.error(
                    tilde, "in a numerical question '~' only starts feedback for other numbers"
                )
            feedback, feedback_fmt = ("", self.fmt)
            if sharp < end:
                feedback, feedback_fmt = self._formatted(sharp + 1, end, self.fmt)
            catch_all = Answer("*", 0.0, feedback, self.fmt, feedback_fmt)
            end = tilde
        answers = []
        for _, s, e in t.split("=", start, end):
            weight, s = self._weight(s, e, 100.0)
            if weight < 0:
                self.error(s, "negative weights are only allowed in multiple choice questions")
            sharp = self._feedback_at(s, e)
            answer = self._numeric_answer(s, sharp, weight)
            if sharp < e:
                answer.feedback, answer.feedback_format = self._formatted(sharp + 1, e, self.fmt)
            answers.append(answer)
        if not answers:
            self.error(opening, "a numerical question needs an answer, as in {#3.14:0.01}")
        self._check_full_marks(answers, opening)
        return answers + ([catch_all] if catch_all else [])

    def _numeric_answer(self, start: int, end: int, weight: float) -> Answer:
        t = self.t
        start, end = t.strip(start, end)
        answer = Answer("", weight, text_format=self.fmt, feedback_format=self.fmt)
        dots = t.find("..", start + 1, end)
        colon = t.find(":", start, end)
        if dots >= 0:
            answer.minimum = self._number(start, dots)
            answer.maximum = self._number(dots + 2, end)
            if answer.minimum is not None and answer.maximum is not None:
                if answer.minimum > answer.maximum:
                    self.error(start, "the range is empty: its minimum is greater than its maximum")
            else:
                answer.minimum = answer.maximum = None
        elif colon >= 0:
            answer.value = self._number(start, colon)
            answer.tolerance = self._number(colon + 1, end) or 0.0
            if answer.tolerance < 0:
                self.error(start, "the tolerance must not be negative")
        else:
            answer.value = self._number(start, end)
        answer.text = numeric_text(answer)
        return answer

    def _number(self, start: int, end: int) -> float | None:
        raw = self.t.get(start, end).strip()
        number = _to_number(raw)
        if number is None:
            shown = raw[:40] or "nothing"
            self.error(start, f"numerical answer: {shown!r} is not a number")
        return number


def _to_number(raw: str) -> float | None:
    if not _NUMBER.fullmatch(raw):
        return None
    number = float(raw)
    return number + 0.0 if math.isfinite(number) else None


def _format_number(number: float) -> str:
    """Shortest text that reads back as ``number``."""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def numeric_text(answer: Answer) -> str:
    """How a numerical answer is written: ``3.14``, ``3.14:0.01``, ``1..5`` or ``*``."""
    if answer.minimum is not None and answer.maximum is not None:
        return f"{_format_number(answer.minimum)}..{_format_number(answer.maximum)}"
    if answer.value is None:
        return "*"
    if answer.tolerance:
        return f"{_format_number(answer.value)}:{_format_number(answer.tolerance)}"
    return _format_number(answer.value)


# --------------------------------------------------------------------------- writing


def to_gift(questions: Iterable[Question]) -> str:
    """GIFT text for ``questions``, which :func:`parse_gift` reads back as equal questions.

    Categories become ``$CATEGORY:`` lines when they change. Raises ValueError for
    what GIFT cannot express (a category with a line break, or going back to no
    category; ``->`` in a short answer or the left side of a matching pair; a
    numerical "any other number" answer that is not the last).
    """
    chunks = []
    category = ""
    for question in questions:
        if question.category != category:
            if not question.category.strip() or any(c in question.category for c in "\r\n"):
                raise ValueError(f"category {question.category!r} cannot be written in GIFT")
            chunks.append(f"{_CATEGORY} {question.category}")
            category = question.category
        chunks.append(_write_question(question))
    return "\n\n".join(chunks) + "\n" if chunks else ""


def _escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join("\\n" if c == "\n" else "\\" + c if c in _TO_ESCAPE else c for c in text)


def _write_text(text: str, fmt: str, default: str) -> str:
    """``text`` escaped, with a ``[format]`` prefix when needed."""
    if not text:
        return ""
    prefix = f"[{fmt}]" if fmt != default or text.startswith(("[", "//")) else ""
    return prefix + _escape(text)


def _write_feedback(text: str, fmt: str, default: str) -> str:
    return "#" + _write_text(text, fmt, default) if text else ""


def _write_weight(weight: float, implicit: float, text: str) -> str:
    if weight == implicit and not text.startswith("%"):
        return ""
    return f"%{_format_number(weight)}%"


def _write_question(q: Question) -> str:
    head = f"::{_escape(q.title)}:: " if q.title else ""
    if q.text_format != "moodle" or q.text.startswith(("[", "//", "\ufeff")):
        head += f"[{q.text_format}]"
    head += _escape(q.text)
    if q.kind == "description":
        return head
    general = ""
    if q.general_feedback:
        general = "####" + _write_text(q.general_feedback, q.general_feedback_format, q.text_format)
    if q.kind == "essay":
        body = "{" + general + "}"
    elif q.kind == "truefalse":
        body = "{" + _write_truefalse(q) + general + "}"
    else:
        lines = [f"\t{line}" for line in _ANSWER_WRITERS[q.kind](q)]
        if general:
            lines.append(f"\t{general}")
        opener = "{#\n" if q.kind == "numerical" else "{\n"
        body = opener + "\n".join(lines) + "\n}"
    if q.text_after:
        return head + body + _escape(q.text_after)
    return head + " " + body


def _write_truefalse(q: Question) -> str:
    if len(q.answers) != 2:
        raise ValueError("a true/false question has exactly 2 answers: True, False")
    true, false = q.answers
    right, wrong = (true, false) if true.weight > 0 else (false, true)
    out = "TRUE" if true.weight > 0 else "FALSE"
    if wrong.feedback or right.feedback:
        out += "#" + _write_text(wrong.feedback, wrong.feedback_format, q.text_format)
    if right.feedback:
        out += "#" + _write_text(right.feedback, right.feedback_format, q.text_format)
    return out


def _write_choices(q: Question) -> list[str]:
    full = set()
    if q.kind == "multichoice" and q.answers:
        full = {i for i, a in enumerate(q.answers) if a.weight == 100}
        best = max(range(len(q.answers)), key=lambda i: q.answers[i].weight)
        full = full or {best}
        if len(full) == len(q.answers) > 1:
            full = {0}  # keep one '~' so it still reads as multiple choice, not short answer
    lines = []
    for i, a in enumerate(q.answers):
        marker, implicit = ("=", 100.0) if i in full else ("~", 0.0)
        lines.append(
            marker
            + _write_weight(a.weight, implicit, a.text)
            + _write_text(a.text, a.text_format, q.text_format)
            + _write_feedback(a.feedback, a.feedback_format, q.text_format)
        )
    return lines


def _write_shortanswers(q: Question) -> list[str]:
    lines = []
    for a in q.answers:
        if "->" in a.text:
            raise ValueError(f"short answer {a.text!r}: '->' cannot be written in GIFT")
        lines.append(
            "="
            + _write_weight(a.weight, 100.0, a.text)
            + _write_text(a.text, a.text_format, q.text_format)
            + _write_feedback(a.feedback, a.feedback_format, q.text_format)
        )
    return lines


def _write_numbers(q: Question) -> list[str]:
    lines = []
    for i, a in enumerate(q.answers):
        feedback = _write_feedback(a.feedback, a.feedback_format, q.text_format)
        if a.is_catch_all:
            if i != len(q.answers) - 1:
                raise ValueError("the 'any other number' answer (~) must be the last one")
            lines.append("~" + feedback)
        else:
            lines.append("=" + _write_weight(a.weight, 100.0, "") + numeric_text(a) + feedback)
    return lines


def _write_pairs(q: Question) -> list[str]:
    lines = []
    for a in q.answers:
        if "->" in a.text:
            raise ValueError(f"matching pair {a.text!r}: '->' cannot be written on the left side")
        left = _write_text(a.text, a.text_format, q.text_format)
        lines.append(f"={left} -> {_escape(a.match)}")
    return lines


_ANSWER_WRITERS: dict[str, Callable[[Question], list[str]]] = {
    "multichoice": _write_choices,
    "multiresponse": _write_choices,
    "shortanswer": _write_shortanswers,
    "numerical": _write_numbers,
    "matching": _write_pairs,
}


# --------------------------------------------------------------------------- grading


def grade(question: Question, response: Any) -> Grade:
    """Grade a learner's ``response`` to ``question`` (pure; raises :class:`ResponseError`).

    Response formats:

    * multichoice: ``int``, the index of the chosen answer in ``question.answers``.
    * multiresponse: ``list`` (or tuple/set) of distinct ``int`` indices; the
      fraction is the sum of their weights / 100, clamped to 0..1.
    * truefalse: ``bool``.
    * shortanswer: ``str``; trimmed, compared case-insensitively with ``*`` as a
      wildcard; the best-weighted matching answer counts; no match scores 0.
    * numerical: ``int``, ``float`` or a numeric ``str`` (``"3.14"``, ``"-1e3"``);
      the best-weighted answer whose value +- tolerance or range contains it counts.
    * matching: ``dict`` {pair index: right-hand text}; the index is the position
      in ``question.pairs`` as an ``int`` or a decimal ``str`` (JSON keys); the
      text must be one of ``question.choices``; a missing key (or a None value)
      is an unanswered pair; the fraction is the share of pairs matched right.
    * essay: ``str``; fraction and correct are None (graded by a person).
    * description: anything (ignored); fraction and correct are None.

    Anything else (wrong type, index out of range, unknown pair or choice,
    a numerical response that is not a finite number) raises ResponseError.
    """
    return _GRADERS[question.kind](question, response)


def max_fraction_reachable(question: Question) -> float | None:
    """The best fraction (0..1) any response can score; None when not auto-scored."""
    if not question.is_scored:
        return None
    weights = [a.weight for a in question.answers]
    if question.kind == "matching":
        return 1.0 if question.answers else 0.0
    if question.kind == "multiresponse":
        return _clamp(sum(w for w in weights if w > 0) / 100)
    return _clamp(max(weights, default=0.0) / 100)


def _clamp(fraction: float) -> float:
    if fraction > 1 - _CLOSE / 100:
        return 1.0
    return max(0.0, fraction)


def _result(fraction: float, answers: list[Answer], matched: list[int]) -> Grade:
    fraction = _clamp(fraction)
    feedback = [a.feedback for a in answers if a.feedback]
    return Grade(fraction, feedback, fraction >= 1.0, matched)


def _kind_name(value: Any) -> str:
    return type(value).__name__


def _index(value: Any, count: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResponseError(f"expected the number of an answer, got {_kind_name(value)}")
    if not 0 <= value < count:
        raise ResponseError(f"there is no answer {value}: this question has {count} answers")
    return value


def _grade_multichoice(q: Question, response: Any) -> Grade:
    index = _index(response, len(q.answers))
    answer = q.answers[index]
    return _result(answer.weight / 100, [answer], [index])


def _grade_multiresponse(q: Question, response: Any) -> Grade:
    if not isinstance(response, list | tuple | set | frozenset):
        raise ResponseError(f"expected a list of answer numbers, got {_kind_name(response)}")
    indices = [_index(value, len(q.answers)) for value in response]
    if len(set(indices)) != len(indices):
        raise ResponseError("the same answer was chosen twice")
    indices.sort()
    chosen = [q.answers[i] for i in indices]
    return _result(sum(a.weight for a in chosen) / 100, chosen, indices)


def _grade_truefalse(q: Question, response: Any) -> Grade:
    if not isinstance(response, bool):
        raise ResponseError(f"expected true or false, got {_kind_name(response)}")
    index = 0 if response else 1
    answer = q.answers[index]
    return _result(answer.weight / 100, [answer], [index])


def _best(q: Question, matches: Callable[[Answer], bool]) -> Grade:
    best: int | None = None
    for i, answer in enumerate(q.answers):
        if matches(answer) and (best is None or answer.weight > q.answers[best].weight):
            best = i
    if best is None:
        return Grade(0.0, [], False, [])
    return _result(q.answers[best].weight / 100, [q.answers[best]], [best])


def _grade_shortanswer(q: Question, response: Any) -> Grade:
    if not isinstance(response, str):
        raise ResponseError(f"expected text, got {_kind_name(response)}")
    typed = response.strip()
    if not typed:
        return Grade(0.0, [], False, [])
    return _best(q, lambda answer: wildcard_match(answer.text, typed))


def wildcard_match(pattern: str, text: str) -> bool:
    """Case-insensitive match of the whole ``text``; ``*`` matches anything, ``\\*`` a star."""
    parts = [part.replace("\\*", "*").casefold() for part in _UNESCAPED_STARS.split(pattern)]
    subject = text.casefold()
    if len(parts) == 1:
        return subject == parts[0]
    first, *middle, last = parts
    if len(subject) < len(first) + len(last):
        return False
    if not (subject.startswith(first) and subject.endswith(last)):
        return False
    position, stop = len(first), len(subject) - len(last)
    for part in middle:
        found = subject.find(part, position, stop)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _response_number(response: Any) -> float:
    if isinstance(response, bool) or not isinstance(response, int | float | str):
        raise ResponseError(f"expected a number, got {_kind_name(response)}")
    if isinstance(response, str):
        number = _to_number(response.strip())
        if number is None:
            raise ResponseError(f"{response.strip()[:40]!r} is not a number")
        return number
    try:
        number = float(response)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ResponseError("the number is too large")
    return number


def _number_matches(answer: Answer, number: float) -> bool:
    if answer.minimum is not None and answer.maximum is not None:
        slack = 1e-12 * max(1.0, abs(answer.minimum), abs(answer.maximum))
        return answer.minimum - slack <= number <= answer.maximum + slack
    if answer.value is None:
        return True
    slack = 1e-12 * max(1.0, abs(answer.value), answer.tolerance)
    return abs(number - answer.value) <= answer.tolerance + slack


def _grade_numerical(q: Question, response: Any) -> Grade:
    number = _response_number(response)
    return _best(q, lambda answer: _number_matches(answer, number))


def _pair_index(key: Any, count: int) -> int:
    if isinstance(key, str) and key.isascii() and key.isdigit():
        key = int(key)
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < count:
        raise ResponseError(f"unknown item {key!r}: this question has {count} items to match")
    return key


def _grade_matching(q: Question, response: Any) -> Grade:
    if not isinstance(response, Mapping):
        raise ResponseError(f"expected a choice for each item, got {_kind_name(response)}")
    pairs, choices = q.pairs, set(q.choices)
    right: set[int] = set()
    seen: set[int] = set()
    for key, value in response.items():
        index = _pair_index(key, len(pairs))
        if index in seen:
            raise ResponseError(f"item {index} was answered twice")
        seen.add(index)
        if value is None:
            continue
        if not isinstance(value, str) or value not in choices:
            raise ResponseError(f"{str(value)[:40]!r} is not one of the offered choices")
        if value == pairs[index].right:
            right.add(index)
    fraction = len(right) / len(pairs) if pairs else 0.0
    return _result(fraction, [], sorted(right))


def _grade_essay(q: Question, response: Any) -> Grade:
    if not isinstance(response, str):
        raise ResponseError(f"expected text, got {_kind_name(response)}")
    return Grade(None, [], None, [])


def _grade_description(q: Question, response: Any) -> Grade:
    return Grade(None, [], None, [])


_GRADERS: dict[str, Callable[[Question, Any], Grade]] = {
    "multichoice": _grade_multichoice,
    "multiresponse": _grade_multiresponse,
    "truefalse": _grade_truefalse,
    "shortanswer": _grade_shortanswer,
    "numerical": _grade_numerical,
    "matching": _grade_matching,
    "essay": _grade_essay,
    "description": _grade_description,
}
