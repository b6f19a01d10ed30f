"""Course content as data: read and check the folders under ``courses/``.

A course is a folder ``courses/<slug>/`` with ``course.toml``, ``evaluation.toml``
and ``modules/<NN-slug>/{module.toml, lesson.md, quiz.gift}``; images live in
``images/``. This module only reads and validates files; ``sync`` puts them in
the database. Every problem is reported with its file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import markdown
import nh3

from lms.training.gift import GiftError, Question, check_gift, parse_gift

REVIEW_POLICIES = ("score", "correctness", "feedback")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ALLOWED_IMAGE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp"}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class QuizSettings:
    pass_mark: int = 80
    max_attempts: int = 0  # 0 = unlimited
    cooldown_minutes: int = 0
    questions_per_attempt: int = 0  # 0 = all
    shuffle_questions: bool = True
    shuffle_answers: bool = True
    time_limit_minutes: int = 0  # 0 = none
    review: str = "feedback"


@dataclass
class ModuleSpec:
    slug: str
    title: str
    summary: str
    estimated_minutes: int
    lesson_markdown: str
    quiz: QuizSettings | None
    questions: list[Question] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything a learner sees or is graded on changes."""
        payload = {
            "title": self.title,
            "lesson": self.lesson_markdown,
            "quiz": asdict(self.quiz) if self.quiz else None,
            "questions": [q.key() for q in self.questions],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class EvaluationItem:
    id: str
    kind: str  # "likert" or "text"
    prompt: str
    required: bool = True


@dataclass
class CourseSpec:
    slug: str
    title: str
    summary: str
    version: str
    price_cents: int
    currency: str
    ce_hours: float
    approval_statement: str
    pass_mark: int
    required_for_certification: bool
    certificate_validity_months: int
    content_status: str
    content_review_note: str
    folder: Path
    modules: list[ModuleSpec] = field(default_factory=list)
    evaluation_title: str = "Course evaluation"
    evaluation_intro: str = ""
    evaluation: list[EvaluationItem] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        payload = {
            "meta": [
                self.title,
                self.summary,
                self.price_cents,
                self.currency,
                self.ce_hours,
                self.approval_statement,
                self.pass_mark,
                self.required_for_certification,
                self.certificate_validity_months,
            ],
            "modules": [m.content_hash for m in self.modules],
            "evaluation": [asdict(i) for i in self.evaluation],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, path: Path, line: int, message: str) -> None:
        try:
            shown = str(path.relative_to(self.root.parent))
        except ValueError:
            shown = str(path)
        self.problems.append(Problem(shown, line, message))


def _read_toml(path: Path, out: _Collector) -> dict[str, Any] | None:
    if not path.is_file():
        out.add(path, 1, "file is missing")
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _toml_error_line(str(exc))
        out.add(path, line, f"invalid TOML: {exc}")
    except UnicodeDecodeError:
        out.add(path, 1, "not UTF-8 text")
    return None


def _toml_error_line(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 1


def _line_of(path: Path, key: str) -> int:
    """The line where ``key = ...`` appears, for pointing at a bad value."""
    try:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"\s*{re.escape(key)}\s*=", text):
                return number
    except OSError:
        pass
    return 1


def _typed(
    data: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    path: Path,
    out: _Collector,
    default: Any = ...,
    required: bool = True,
) -> Any:
    if key not in data:
        if default is not ...:
            return default
        if required:
            out.add(path, 1, f"'{key}' is missing")
        return None
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        out.add(path, _line_of(path, key), f"'{key}' must be {names}")
        return None
    return value


def _quiz_settings(
    table: Any, path: Path, course_pass_mark: int, out: _Collector
) -> QuizSettings | None:
    if not isinstance(table, dict):
        out.add(path, _line_of(path, "quiz"), "[quiz] must be a table")
        return None
    settings = QuizSettings(pass_mark=course_pass_mark)
    for name, default in asdict(settings).items():
        if name in table:
            value = _typed(table, name, type(default), path, out)
            if value is not None:
                setattr(settings, name, value)
    unknown = set(table) - set(asdict(settings))
    for name in sorted(unknown):
        out.add(path, _line_of(path, name), f"unknown quiz setting '{name}'")
    if not 1 <= settings.pass_mark <= 100:
        out.add(path, _line_of(path, "pass_mark"), "pass_mark must be between 1 and 100")
    for name in ("max_attempts", "cooldown_minutes", "questions_per_attempt", "time_limit_minutes"):
        if getattr(settings, name) < 0:
            out.add(path, _line_of(path, name), f"{name} cannot be negative")
    if settings.review not in REVIEW_POLICIES:
        out.add(
            path, _line_of(path, "review"), f"review must be one of {', '.join(REVIEW_POLICIES)}"
        )
    return settings


def _check_images(markdown_text: str, lesson: Path, course_folder: Path, out: _Collector) -> None:
    for number, text in enumerate(markdown_text.splitlines(), 1):
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text):
            if re.match(r"^[a-z]+:", target) or target.startswith("/"):
                out.add(lesson, number, f"image '{target}' must be a file in the course folder")
                continue
            image = (course_folder / target).resolve()
            if course_folder.resolve() not in image.parents:
                out.add(lesson, number, f"image '{target}' is outside the course folder")
            elif not image.is_file():
                out.add(lesson, number, f"image '{target}' does not exist")
            elif image.suffix.lower() not in ALLOWED_IMAGE_SUFFIXES:
                out.add(lesson, number, f"image '{target}' is not an image type we serve")


def _quiz_passable(questions: list[Question], settings: QuizSettings) -> bool:
    from lms.training.gift import max_fraction_reachable

    scored = [q for q in questions if q.kind not in ("essay", "description")]
    if not scored:
        return False
    reach = sorted((max_fraction_reachable(q) for q in scored), reverse=True)
    drawn = settings.questions_per_attempt or len(scored)
    # The worst draw: the questions with the lowest reachable scores.
    worst = sorted(reach)[:drawn]
    return 100 * sum(worst) / max(1, len(worst)) >= settings.pass_mark


def _load_module(folder: Path, course: Path, pass_mark: int, out: _Collector) -> ModuleSpec | None:
    meta_path = folder / "module.toml"
    meta = _read_toml(meta_path, out)
    lesson_path = folder / "lesson.md"
    if not lesson_path.is_file():
        out.add(lesson_path, 1, "lesson is missing")
        lesson = ""
    else:
        lesson = lesson_path.read_text(encoding="utf-8")
        _check_images(lesson, lesson_path, course, out)
    if meta is None:
        return None
    title = _typed(meta, "title", str, meta_path, out)
    summary = _typed(meta, "summary", str, meta_path, out, default="")
    minutes = _typed(meta, "estimated_minutes", int, meta_path, out, default=30)
    quiz = _quiz_settings(meta["quiz"], meta_path, pass_mark, out) if "quiz" in meta else None
    questions: list[Question] = []
    gift_path = folder / "quiz.gift"
    if quiz is not None:
        if not gift_path.is_file():
            out.add(gift_path, 1, "the module has a [quiz] table but no quiz.gift")
        else:
            text = gift_path.read_text(encoding="utf-8")
            errors = check_gift(text, source=_shown(gift_path, out.root))
            for error in errors:
                out.problems.append(Problem(_shown(gift_path, out.root), error.line, error.message))
            if not errors:
                questions = parse_gift(text, source=str(gift_path))
                if not _quiz_passable(questions, quiz):
                    out.add(gift_path, 1, f"this quiz cannot be passed at {quiz.pass_mark}%")
                if quiz.questions_per_attempt > len(questions):
                    out.add(
                        meta_path,
                        _line_of(meta_path, "questions_per_attempt"),
                        f"questions_per_attempt is {quiz.questions_per_attempt} "
                        f"but quiz.gift has {len(questions)} questions",
                    )
    elif gift_path.is_file():
        out.add(gift_path, 1, "quiz.gift exists but module.toml has no [quiz] table")
    if title is None:
        return None
    return ModuleSpec(
        slug=folder.name,
        title=title,
        summary=summary or "",
        estimated_minutes=minutes or 30,
        lesson_markdown=lesson,
        quiz=quiz,
        questions=questions,
    )


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _load_evaluation(path: Path, out: _Collector) -> tuple[str, str, list[EvaluationItem]]:
    if not path.is_file():
        return "Course evaluation", "", []
    data = _read_toml(path, out) or {}
    items: list[EvaluationItem] = []
    seen: set[str] = set()
    for raw in data.get("items", []):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            out.add(path, 1, "each [[items]] needs an 'id'")
            continue
        line = _line_of(path, "id")
        kind = raw.get("kind", "likert")
        if kind not in ("likert", "text"):
            out.add(path, line, f"item '{raw['id']}': kind must be likert or text")
            continue
        if raw["id"] in seen:
            out.add(path, line, f"duplicate evaluation item id '{raw['id']}'")
            continue
        if not isinstance(raw.get("prompt"), str) or not raw["prompt"].strip():
            out.add(path, line, f"item '{raw['id']}' has no prompt")
            continue
        seen.add(raw["id"])
        items.append(
            EvaluationItem(raw["id"], kind, raw["prompt"], bool(raw.get("required", True)))
        )
    return str(data.get("title", "Course evaluation")), str(data.get("intro", "")), items


def load_course(folder: Path, root: Path | None = None) -> tuple[CourseSpec | None, list[Problem]]:
    """Read one course folder; return the course (None if unusable) and every problem found."""
    out = _Collector(root or folder.parent)
    meta_path = folder / "course.toml"
    meta = _read_toml(meta_path, out)
    if meta is None:
        return None, out.problems
    slug = _typed(meta, "slug", str, meta_path, out)
    if slug is not None and (not SLUG.match(slug) or slug != folder.name):
        out.add(
            meta_path,
            _line_of(meta_path, "slug"),
            f"slug '{slug}' must be lower-case letters, digits and dashes, "
            "and match the folder name",
        )
    pass_mark = _typed(meta, "pass_mark", int, meta_path, out, default=80) or 80
    module_names = _typed(meta, "modules", list, meta_path, out) or []
    modules = []
    seen: set[str] = set()
    for name in module_names:
        if not isinstance(name, str) or name in seen:
            out.add(
                meta_path,
                _line_of(meta_path, "modules"),
                f"module '{name}' is listed twice or is not a name",
            )
            continue
        seen.add(name)
        module_folder = folder / "modules" / name
        if not module_folder.is_dir():
            out.add(
                meta_path,
                _line_of(meta_path, "modules"),
                f"module folder 'modules/{name}' does not exist",
            )
            continue
        module = _load_module(module_folder, folder, pass_mark, out)
        if module is not None:
            modules.append(module)
    if (folder / "modules").is_dir():
        for extra in sorted(p.name for p in (folder / "modules").iterdir() if p.is_dir()):
            if extra not in seen:
                out.add(
                    meta_path,
                    _line_of(meta_path, "modules"),
                    f"module folder '{extra}' is not listed in modules",
                )
    if not module_names:
        out.add(meta_path, _line_of(meta_path, "modules"), "a course needs at least one module")
    eval_title, eval_intro, evaluation = _load_evaluation(folder / "evaluation.toml", out)
    values = {
        "title": _typed(meta, "title", str, meta_path, out),
        "summary": _typed(meta, "summary", str, meta_path, out, default=""),
        "version": str(meta.get("version", "1")),
        "price_cents": _typed(meta, "price_cents", int, meta_path, out, default=0),
        "currency": (_typed(meta, "currency", str, meta_path, out, default="usd") or "usd").lower(),
        "ce_hours": _typed(meta, "ce_hours", float, meta_path, out, default=0.0),
        "approval_statement": _typed(meta, "approval_statement", str, meta_path, out, default=""),
        "required_for_certification": _typed(
            meta, "required_for_certification", bool, meta_path, out, default=False
        ),
        "certificate_validity_months": _typed(
            meta, "certificate_validity_months", int, meta_path, out, default=24
        ),
        "content_status": str(meta.get("content_status", "published")),
        "content_review_note": str(meta.get("content_review_note", "")),
    }
    if values["price_cents"] is not None and values["price_cents"] < 0:
        out.add(meta_path, _line_of(meta_path, "price_cents"), "price_cents cannot be negative")
    if not 1 <= pass_mark <= 100:
        out.add(meta_path, _line_of(meta_path, "pass_mark"), "pass_mark must be between 1 and 100")
    if (
        values["certificate_validity_months"] is not None
        and values["certificate_validity_months"] < 1
    ):
        out.add(meta_path, _line_of(meta_path, "certificate_validity_months"), "must be at least 1")
    if slug is None or any(v is None for v in values.values()):
        return None, out.problems
    course = CourseSpec(
        slug=slug,
        pass_mark=pass_mark,
        folder=folder,
        modules=modules,
        evaluation_title=eval_title,
        evaluation_intro=eval_intro,
        evaluation=evaluation,
        **values,
    )
    return course, out.problems


def load_all(root: Path) -> tuple[list[CourseSpec], list[Problem]]:
    """Every course under ``root``, and every problem (including duplicate slugs)."""
    courses: list[CourseSpec] = []
    problems: list[Problem] = []
    if not root.is_dir():
        return [], [Problem(str(root), 1, "the courses folder does not exist")]
    slugs: dict[str, Path] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        course, found = load_course(folder, root)
        problems.extend(found)
        if course is None:
            continue
        if course.slug in slugs:
            problems.append(
                Problem(
                    f"{root.name}/{folder.name}/course.toml",
                    1,
                    f"duplicate slug '{course.slug}' (also in {slugs[course.slug].name})",
                )
            )
            continue
        slugs[course.slug] = folder
        courses.append(course)
    return courses, problems


# --- lesson rendering ------------------------------------------------------------------

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "span",
    "caption",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "div": {"class"},
    "p": {"class"},
    "span": {"class"},
    "th": {"align", "scope"},
    "td": {"align"},
    "code": {"class"},
}


def render_lesson(markdown_text: str, image_base_url: str) -> str:
    """Markdown to sanitised HTML; relative image paths point at ``image_base_url``."""
    html = markdown.markdown(
        markdown_text,
        extensions=["tables", "admonition", "fenced_code", "sane_lists", "attr_list", "def_list"],
        output_format="html",
    )
    html = re.sub(
        r'(<img[^>]*\bsrc=")(?!https?:|/|data:)([^"]+)"',
        lambda m: f'{m.group(1)}{image_base_url.rstrip("/")}/{m.group(2)}"',
        html,
    )
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    # Wide tables scroll sideways on phones: make them reachable by keyboard too.
    return clean.replace("<table>", '<table tabindex="0">')


def check_root(root: Path) -> list[Problem]:
    """Everything ``courses check`` reports."""
    _, problems = load_all(root)
    return problems


__all__ = [
    "CourseSpec",
    "EvaluationItem",
    "GiftError",
    "ModuleSpec",
    "Problem",
    "QuizSettings",
    "check_root",
    "load_all",
    "load_course",
    "render_lesson",
]
