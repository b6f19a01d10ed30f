"""Which quiz questions are "the same question" across module versions, and how answers read.

A question's key (:meth:`lms.training.gift.Question.key`) is a content hash: it changes
when an author fixes a typo or a wrong answer. For analytics and regrading, the question's
identity is its module slug plus its ``::title::`` (or its text when it has no title), so
answers given to earlier definitions count together with the current one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nh3
from sqlalchemy import select

from lms.extensions import db
from lms.training.gift import Question
from lms.training.models import Course, CourseVersionModule, ModuleVersion
from lms.training.text import gift_text

UNSCORED = ("essay", "description")


def identity(question: Question) -> str:
    """What makes two definitions "the same question" within one module."""
    return question.title.strip() or question.full_text.strip()


def plain(text: str, text_format: str = "moodle") -> str:
    """Question or answer text without markup, on one line (for tables and CSV)."""
    cleaned = nh3.clean(str(gift_text(text, text_format)), tags=set())
    return re.sub(r"\s+", " ", html.unescape(cleaned)).strip()


def shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Definition:
    """One definition of a question, as stored in a module version."""

    key: str
    question: Question
    data: dict[str, Any]

    @property
    def label(self) -> str:
        """How the question is named on screen: its title, else its text."""
        q = self.question
        return shorten(q.title.strip() or plain(q.full_text, q.text_format))

    @property
    def scored(self) -> bool:
        return self.question.kind not in UNSCORED


@dataclass
class ModuleQuestions:
    """The current definitions of a module's questions and every earlier one of each."""

    course: Course
    module: ModuleVersion  # the module version in the course's current version
    version_ids: list[int]  # every version of this module (same slug), oldest first
    current: list[Definition]
    earlier: dict[int, list[Definition]] = field(default_factory=dict)  # position -> defs

    def keys(self, position: int) -> list[str]:
        return [self.current[position].key, *(d.key for d in self.earlier.get(position, []))]

    def key_positions(self) -> dict[str, int]:
        """Every key of a current question or of an earlier definition of it -> its position."""
        mapping: dict[str, int] = {}
        for position in range(len(self.current)):
            for key in self.keys(position):
                mapping.setdefault(key, position)
        return mapping


def current_modules(course: Course) -> list[ModuleVersion]:
    """The module versions of the course's current version, in order (one query)."""
    if course.current_version_id is None:
        return []
    return list(
        db.session.scalars(
            select(ModuleVersion)
            .join(CourseVersionModule, CourseVersionModule.module_version_id == ModuleVersion.id)
            .where(CourseVersionModule.course_version_id == course.current_version_id)
            .order_by(CourseVersionModule.position)
        )
    )


def _definition(data: Mapping[str, Any]) -> Definition:
    question = Question.from_dict(data)
    return Definition(question.key(), question, dict(data))


def module_questions(course: Course, module_slug: str) -> ModuleQuestions | None:
    """The module ``module_slug`` of the course's current version with its question history.

    None when the current version has no such module. Two queries, whatever the history.
    """
    module = db.session.scalar(
        select(ModuleVersion)
        .join(CourseVersionModule, CourseVersionModule.module_version_id == ModuleVersion.id)
        .where(
            CourseVersionModule.course_version_id == course.current_version_id,
            ModuleVersion.slug == module_slug,
        )
    )
    if module is None:
        return None
    current = [_definition(data) for data in module.questions]
    positions: dict[str, int] = {}
    for position, definition in enumerate(current):
        positions.setdefault(identity(definition.question), position)
    versions = db.session.execute(
        select(ModuleVersion.id, ModuleVersion.questions)
        .where(ModuleVersion.course_id == course.id, ModuleVersion.slug == module_slug)
        .order_by(ModuleVersion.id)
    ).all()
    current_keys = {d.key for d in current}
    earlier: dict[int, list[Definition]] = {}
    seen: set[str] = set()
    for _version_id, questions in versions:
        for data in questions or []:
            definition = _definition(data)
            if definition.key in current_keys or definition.key in seen:
                continue
            position = positions.get(identity(definition.question))
            if position is None:
                continue  # a question that was removed (or renamed): nothing to compare
            seen.add(definition.key)
            earlier.setdefault(position, []).append(definition)
    return ModuleQuestions(course, module, [v.id for v in versions], current, earlier)


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def describe_response(question: Question, response: Any) -> str:
    """A learner's saved response as a person reads it (answer text, typed text...).

    A response saved for an earlier definition of another kind is shown as it was typed.
    """
    kind = question.kind
    choices = response if isinstance(response, list) else [response]
    if kind in ("multichoice", "multiresponse") and all(_is_index(i) for i in choices):
        texts = []
        for index in choices:
            if 0 <= index < len(question.answers):
                answer = question.answers[index]
                texts.append(plain(answer.text, answer.text_format))
            else:
                texts.append(f"answer {index + 1} of an earlier version")
        return " + ".join(texts) if texts else "(nothing chosen)"
    if kind == "truefalse" and isinstance(response, bool):
        return "True" if response else "False"
    if kind == "matching" and isinstance(response, Mapping):
        pairs = question.pairs
        parts = []
        for key, value in response.items():
            index = int(key) if str(key).isdigit() else -1
            left = plain(pairs[index].left) if 0 <= index < len(pairs) else f"item {key}"
            parts.append(f"{left} → {value}")
        return "; ".join(parts)
    return shorten(str(response).strip())
