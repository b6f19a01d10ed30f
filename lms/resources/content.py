"""The resource library's content: ``library.toml`` and its Markdown documents.

The library lives in the repository (``lms/resources/library/`` unless ``RESOURCES_PATH`` says
otherwise), so it is reviewed and versioned like code. :func:`get_library` loads and validates
it once and caches the result until a file in the folder changes. Every problem is reported
at once, each naming the file (and the entry) at fault, and a broken library is never served
half-loaded.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from markupsafe import Markup, escape

from lms.training.content import render_lesson

DEFAULT_ROOT = Path(__file__).parent / "library"
INDEX_FILE = "library.toml"
KINDS = ("document", "link")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")
REQUIRED = ("slug", "title", "category", "kind", "summary")
OPTIONAL = ("file", "url", "updated")
MAX_SLUG = 80


class LibraryError(Exception):
    """The library folder is invalid (a content mistake, found at load time)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "the resource library is invalid:\n" + "\n".join(f"  {p}" for p in problems)
        )
        self.problems = problems


@dataclass(frozen=True)
class Category:
    key: str
    label: str


@dataclass(frozen=True)
class Resource:
    """One item of the library: a Markdown document shipped with the app, or an outside link."""

    slug: str
    title: str
    category: Category
    kind: str
    summary: str
    file: Path | None = None
    url: str | None = None
    updated: date | None = None
    markdown: str = ""
    html: str = field(default="", repr=False)

    @property
    def is_document(self) -> bool:
        return self.kind == "document"

    @property
    def host(self) -> str:
        """The outside site's host name (shown next to a link)."""
        return urlsplit(self.url or "").hostname or ""

    @functools.cached_property
    def plain_text(self) -> str:
        """The document without Markdown punctuation (search and excerpts)."""
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", self.markdown)  # [label](url) -> label
        # A heading ends like a sentence, so that an excerpt does not run it into the text.
        text = re.sub(
            r"^(#+\s.*?)([.:?!]?)\s*$", lambda m: m.group(1) + (m.group(2) or "."), text, flags=re.M
        )
        text = re.sub(r"^\s*(?:[>#|]+|[-*+] \[[ xX]\]|[-*+]|\d+\.)\s*", "", text, flags=re.M)
        text = re.sub(r"[*`]+", "", text)
        text = re.sub(r"\|+|-{3,}", " ", text)
        return " ".join(text.split())

    @functools.cached_property
    def haystack(self) -> dict[str, str]:
        """What a search looks in, by field, case-folded."""
        return {
            "title": self.title.casefold(),
            "summary": self.summary.casefold(),
            "category": self.category.label.casefold(),
            "text": f"{self.plain_text} {self.host}".casefold(),
        }


@dataclass(frozen=True)
class Library:
    categories: tuple[Category, ...]
    resources: tuple[Resource, ...]

    def get(self, slug: str) -> Resource | None:
        return next((r for r in self.resources if r.slug == slug), None)

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)

    def counts(self) -> dict[str, int]:
        """Number of resources in each category, in category order."""
        return {
            c.key: sum(1 for r in self.resources if r.category.key == c.key)
            for c in self.categories
        }


# --- loading and validation -------------------------------------------------------------------


def library_root() -> Path:
    """The library folder: ``RESOURCES_PATH`` if configured, else the one in the package."""
    configured = current_app.config.get("RESOURCES_PATH")
    return Path(configured) if configured else DEFAULT_ROOT


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the folder's files: the cache key."""
    if not root.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in root.iterdir()))


def get_library(root: Path | None = None) -> Library:
    """The parsed library, loaded once and again only after a file changes.

    Raises :class:`LibraryError` listing every problem when the content is invalid.
    """
    root = (root or library_root()).resolve()
    return _cached(str(root), _signature(root))


@functools.lru_cache(maxsize=8)
def _cached(root: str, _signature: tuple[tuple[str, int, int], ...]) -> Library:
    return load_library(Path(root))


def check(root: Path | None = None) -> list[str]:
    """Every problem in the library folder (empty when it is valid): for ``resources check``."""
    try:
        load_library((root or library_root()).resolve())
    except LibraryError as error:
        return error.problems
    return []


def load_library(root: Path) -> Library:
    """Read and validate ``root/library.toml`` and its documents (uncached)."""
    index = root / INDEX_FILE
    if not index.is_file():
        raise LibraryError([f"{index}: not found"])
    try:
        data = tomllib.loads(index.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise LibraryError([f"{index}: not valid TOML: {error}"]) from error

    problems: list[str] = []
    unknown = sorted(set(data) - {"categories", "resources"})
    if unknown:
        problems.append(f"{index}: unknown top-level keys: {', '.join(unknown)}")
    categories = _categories(data.get("categories"), index, problems)
    entries = data.get("resources")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{index}: no [[resources]] entries")
        entries = []

    resources: list[Resource] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, 1):
        where = f"{index}: resource {number}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table ([[resources]])")
            continue
        slug = entry.get("slug")
        if isinstance(slug, str) and slug:
            where = f"{index}: resource {number} ({slug})"
            if slug in seen:
                problems.append(f"{where}: duplicate slug '{slug}' (also resource {seen[slug]})")
            else:
                seen[slug] = number
        resource = _resource(entry, root, categories, where, problems)
        if resource is not None:
            resources.append(resource)
    if problems:
        raise LibraryError(problems)
    return Library(tuple(categories.values()), tuple(resources))


def _categories(raw: Any, index: Path, problems: list[str]) -> dict[str, Category]:
    if not isinstance(raw, dict) or not raw:
        problems.append(f'{index}: [categories] is missing or empty (key = "Label" lines)')
        return {}
    out: dict[str, Category] = {}
    for key, label in raw.items():
        if not CATEGORY_KEY.match(key):
            problems.append(f"{index}: category key '{key}' must be lower-case letters and digits")
        elif not isinstance(label, str) or not label.strip():
            problems.append(f"{index}: category '{key}' needs a label")
        else:
            out[key] = Category(key, label.strip())
    return out


def _text(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = entry.get(key)
    if value is None:
        problems.append(f"{where}: '{key}' is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: '{key}' must be a non-empty string")
        return None
    return " ".join(value.split()) if key != "url" else value.strip()


def _resource(
    entry: dict[str, Any],
    root: Path,
    categories: dict[str, Category],
    where: str,
    problems: list[str],
) -> Resource | None:
    before = len(problems)
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        problems.append(f"{where}: unknown keys: {', '.join(unknown)}")
    values = {key: _text(entry, key, where, problems) for key in REQUIRED}
    slug, category_key, kind = values["slug"], values["category"], values["kind"]
    if slug and (not SLUG.match(slug) or len(slug) > MAX_SLUG):
        problems.append(
            f"{where}: slug '{slug}' must be lower-case words joined by hyphens "
            f"(at most {MAX_SLUG} characters)"
        )
    category = categories.get(category_key or "")
    if category_key and category is None:
        known = ", ".join(categories) or "none defined"
        problems.append(f"{where}: unknown category '{category_key}' (known: {known})")
    updated = entry.get("updated")
    if updated is not None and (not isinstance(updated, date) or hasattr(updated, "hour")):
        problems.append(f"{where}: 'updated' must be a date such as 2026-11-02 (no quotes)")

    file: Path | None = None
    url: str | None = None
    markdown = ""
    if kind == "document":
        if "url" in entry:
            problems.append(f"{where}: a document has a 'file', not a 'url'")
        file, markdown = _document(entry.get("file"), root, where, problems)
    elif kind == "link":
        if "file" in entry:
            problems.append(f"{where}: a link has a 'url', not a 'file'")
        url = _url(entry.get("url"), where, problems)
    elif kind:
        problems.append(f"{where}: kind '{kind}' must be one of: {', '.join(KINDS)}")

    if len(problems) > before:
        return None
    assert slug and category and kind  # checked above
    return Resource(
        slug=slug,
        title=values["title"] or "",
        category=category,
        kind=kind,
        summary=values["summary"] or "",
        file=file,
        url=url,
        updated=updated,
        markdown=markdown,
        html=render_document(markdown) if markdown else "",
    )


def _document(name: Any, root: Path, where: str, problems: list[str]) -> tuple[Path | None, str]:
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: a document needs 'file', the name of a .md file in {root}")
        return None, ""
    if Path(name).name != name or not name.endswith(".md") or name.startswith("."):
        problems.append(
            f"{where}: file '{name}' must be a .md file name in {root}, without folders"
        )
        return None, ""
    path = root / name
    if not path.is_file():
        problems.append(f"{where}: file '{name}' not found in {root}")
        return None, ""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text")
        return None, ""
    if not text.strip():
        problems.append(f"{path}: the document is empty")
        return None, ""
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^#(?!#)\s", line):
            problems.append(
                f"{path}:{number}: start headings at '##'; the page title comes from 'title'"
            )
            return None, ""
    return path, text


def _url(value: Any, where: str, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: a link needs 'url', an https:// address")
        return None
    url = value.strip()
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or "." not in parts.hostname
        or parts.username is not None
        or parts.password is not None
        or any(c.isspace() for c in url)
    ):
        problems.append(f"{where}: url '{url}' must be an https:// address on a public host")
        return None
    return url


# --- rendering and search ----------------------------------------------------------------------

_MARK = Markup("<mark>%s</mark>")  # the argument is escaped by %
_TASK = re.compile(r"<li>(\s*(?:<p>)?)\[([ xX])\]\s")


def render_document(markdown_text: str) -> str:
    """Markdown to sanitised HTML (the lesson renderer), with ``- [ ]`` items as check boxes."""
    html = render_lesson(markdown_text, "")
    # Only literal characters are inserted into the already sanitised HTML.
    return _TASK.sub(
        lambda m: f'<li class="task">{m.group(1)}{"☑" if m.group(2) != " " else "☐"} ', html
    )


def terms(query: str | None) -> list[str]:
    """The search terms of ``query``: case-folded words, duplicates dropped, at most ten."""
    words = [w for w in re.split(r"\s+", (query or "").casefold()) if w]
    return list(dict.fromkeys(words))[:10]


_WEIGHTS = {"title": 8, "category": 4, "summary": 3, "text": 1}


def score(resource: Resource, words: list[str]) -> int:
    """0 when a term is missing; otherwise higher for hits in the title, category, summary."""
    total = 0
    for word in words:
        hits = sum(w for name, w in _WEIGHTS.items() if word in resource.haystack[name])
        if not hits:
            return 0
        total += hits
    return total


def search(
    library: Library, query: str | None = None, category: str | None = None
) -> list[Resource]:
    """Resources in ``category`` (all when None) matching every term of ``query``.

    Without a query they come in library order (grouped by category); with one, best first.
    """
    pool = [r for r in library.resources if not category or r.category.key == category]
    words = terms(query)
    if not words:
        order = {c.key: i for i, c in enumerate(library.categories)}
        return sorted(pool, key=lambda r: order[r.category.key])  # stable: file order within
    scored = [(score(r, words), i, r) for i, r in enumerate(pool)]
    return [r for s, _, r in sorted(scored, key=lambda t: (-t[0], t[1])) if s]


def excerpt(resource: Resource, words: list[str], width: int = 90) -> Markup | None:
    """A short passage of the document around the first term found only in its text, with
    the terms marked; None when title and summary already show why it matched."""
    shown = resource.haystack["title"] + " " + resource.haystack["summary"]
    hidden = [w for w in words if w not in shown and w in resource.haystack["text"]]
    if not hidden:
        return None
    text = resource.plain_text
    at = text.casefold().find(hidden[0])
    start, end = max(0, at - width), min(len(text), at + len(hidden[0]) + width)
    if start:
        start = text.find(" ", start) + 1 or start
    if end < len(text):
        end = text.rfind(" ", at, end) if text.rfind(" ", at, end) > at else end
    passage = text[start:end]
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.I)
    pieces = [escape("…" if start else "")]
    last = 0
    for match in pattern.finditer(passage):
        pieces += [escape(passage[last : match.start()]), _MARK % match.group(0)]
        last = match.end()
    pieces += [escape(passage[last:]), escape("…" if end < len(text) else "")]
    return Markup("").join(pieces)
