"""The library's content: the shipped library, validation errors, caching, rendering, search."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask import Flask

from lms.resources import cli
from lms.resources.content import (
    DEFAULT_ROOT,
    LibraryError,
    check,
    excerpt,
    get_library,
    load_library,
    search,
    terms,
)
from tests.resources.conftest import AFTERCARE, CONSENT, INDEX, write_library

# --- the library shipped in the repository ---------------------------------------------------


def test_the_shipped_library_is_valid_and_complete() -> None:
    assert check(DEFAULT_ROOT) == []
    library = load_library(DEFAULT_ROOT)
    assert 6 <= len(library.resources) <= 10
    used = {r.category.key for r in library.resources}
    for key in ("consent", "preparation", "integration", "protocols", "handouts"):
        assert key in used, key
    documents = [r for r in library.resources if r.is_document]
    links = [r for r in library.resources if not r.is_document]
    assert len(documents) >= 6 and links
    for doc in documents:
        # Every document says up front that it must be reviewed before use.
        opening = doc.markdown.split("\n\n", 1)[0].lower()
        assert opening.startswith("> **") and "review" in opening, doc.slug
        assert "counsel" in doc.markdown, doc.slug
        assert doc.html.startswith("<blockquote>"), doc.slug
        assert len(doc.plain_text) > 1500, doc.slug  # real documents, not stubs
    for link in links:
        assert link.url.startswith("https://") and link.host, link.slug


def test_every_file_in_the_folder_is_used() -> None:
    library = load_library(DEFAULT_ROOT)
    used = {r.file.name for r in library.resources if r.file}
    on_disk = {p.name for p in DEFAULT_ROOT.iterdir() if p.suffix == ".md"}
    assert used == on_disk


# --- validation --------------------------------------------------------------------------------


def _problems(tmp_path: Path, index: str, files: dict[str, str] | None = None) -> list[str]:
    root = write_library(tmp_path / "lib", index, files)
    with pytest.raises(LibraryError) as caught:
        load_library(root)
    assert check(root) == caught.value.problems
    return caught.value.problems


def _one(problems: list[str], pattern: str) -> str:
    found = [p for p in problems if re.search(pattern, p)]
    assert len(found) == 1, problems
    return found[0]


def test_a_valid_library_loads(tmp_path: Path) -> None:
    library = load_library(write_library(tmp_path / "lib"))
    assert [r.slug for r in library.resources] == [
        "consent-template",
        "aftercare-handout",
        "lifeline",
    ]
    assert [c.label for c in library.categories] == [
        "Consent templates",
        "Patient handouts",
        "Crisis lines",
    ]
    consent = library.get("consent-template")
    assert (
        consent.category.label == "Consent templates"
        and consent.updated.isoformat() == "2026-10-01"
    )
    assert consent.markdown == CONSENT
    assert library.get("lifeline").url == "https://988lifeline.org/"
    assert library.get("nope") is None
    assert library.counts() == {"consent": 1, "handouts": 1, "crisis": 1}


def test_unknown_category(tmp_path: Path) -> None:
    problems = _problems(tmp_path, INDEX.replace('category = "handouts"', 'category = "forms"'))
    message = _one(problems, "unknown category")
    assert "resource 2 (aftercare-handout)" in message and "'forms'" in message
    assert "known: consent, handouts, crisis" in message


def test_missing_file(tmp_path: Path) -> None:
    problems = _problems(tmp_path, INDEX, files={"consent.md": CONSENT})
    assert "file 'aftercare.md' not found" in _one(problems, "aftercare-handout")


@pytest.mark.parametrize(
    "url",
    [
        "http://988lifeline.org/",
        "javascript:alert(1)",
        "//evil.example/",
        "https://",
        "https://user:pw@988lifeline.org/",
        "https://localhost/",
        "https://988lifeline.org/a b",
        "",
    ],
)
def test_bad_urls(tmp_path: Path, url: str) -> None:
    problems = _problems(tmp_path, INDEX.replace("https://988lifeline.org/", url))
    assert "(lifeline)" in _one(problems, "url|https")


def test_duplicate_slug(tmp_path: Path) -> None:
    problems = _problems(tmp_path, INDEX.replace('"aftercare-handout"', '"consent-template"'))
    assert "duplicate slug 'consent-template' (also resource 1)" in _one(problems, "duplicate")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('slug = "lifeline"', 'slug = "Life Line"'), "lower-case words joined by hyphens"),
        (('kind = "link"', 'kind = "video"'), "kind 'video' must be one of: document, link"),
        (('summary = "Call or text 988."', 'summary = "  "'), "'summary' must be a non-empty"),
        (('title = "988 Lifeline"\n', ""), "'title' is missing"),
        (('summary = "Call or text 988."', 'summry = "x"'), "unknown keys: summry"),
        (('file = "aftercare.md"', 'file = "../aftercare.md"'), "without folders"),
        (('file = "aftercare.md"', 'file = "aftercare.txt"'), "must be a .md file"),
        (('file = "aftercare.md"', 'url = "https://example.org/"'), "a document has a 'file'"),
        (("updated = 2026-10-01", 'updated = "last week"'), "'updated' must be a date"),
        (('url = "https://988lifeline.org/"', 'file = "consent.md"'), "a link has a 'url'"),
    ],
)
def test_entry_problems(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    assert change[0] in INDEX
    problems = _problems(tmp_path, INDEX.replace(*change, 1))
    _one(problems, re.escape(expected))


def test_library_level_problems(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(LibraryError, match="library.toml: not found"):
        load_library(root)
    assert "not valid TOML" in _problems(tmp_path, "[categories\n")[0]
    problems = _problems(tmp_path, 'title = "x"\n')
    assert any("unknown top-level keys: title" in p for p in problems)
    assert any("[categories] is missing" in p for p in problems)
    assert any("no [[resources]] entries" in p for p in problems)


def test_document_problems(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, INDEX, files={"consent.md": "# A title\n\ntext\n", "aftercare.md": "  \n"}
    )
    assert re.search(r"consent\.md:1: start headings at '##'", _one(problems, "consent.md"))
    assert "the document is empty" in _one(problems, "aftercare.md")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    index = (
        INDEX.replace('category = "consent"', 'category = "nope"')
        .replace('"aftercare-handout"', '"lifeline"')
        .replace("https://988lifeline.org/", "http://988lifeline.org/")
    )
    problems = _problems(tmp_path, index)
    assert len(problems) == 3, problems
    message = str(LibraryError(problems))
    assert message.startswith("the resource library is invalid:") and message.count("\n") == 3


# --- caching -----------------------------------------------------------------------------------


def test_the_parsed_library_is_cached_until_a_file_changes(app: Flask, tmp_path: Path) -> None:
    root = write_library(tmp_path / "lib")
    with app.app_context():
        first = get_library(root)
        assert get_library(root) is first
        doc = root / "aftercare.md"
        doc.write_text(AFTERCARE + "\nAlso: call us.\n", encoding="utf-8")
        stat = doc.stat()
        os.utime(doc, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = get_library(root)
        assert second is not first
        assert "call us" in second.get("aftercare-handout").markdown


def test_a_broken_library_is_never_served(app: Flask, tmp_path: Path) -> None:
    root = write_library(tmp_path / "lib", INDEX.replace('"consent"', '"nope"', 1))
    with app.app_context(), pytest.raises(LibraryError):
        get_library(root)


# --- rendering ---------------------------------------------------------------------------------


def test_documents_are_rendered_and_sanitised(tmp_path: Path) -> None:
    hostile = (
        "## Heading\n\n<script>alert(1)</script>\n\n"
        '<img src="x" onerror="alert(2)">\n\n'
        "[click](javascript:alert(3)) and [good](https://example.org/)\n\n"
        '<p style="color:red" onclick="alert(4)">styled</p>\n\n'
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "- [ ] open item\n- [x] done item\n- plain item\n"
    )
    root = write_library(tmp_path / "lib", files={"consent.md": hostile, "aftercare.md": AFTERCARE})
    html = load_library(root).get("consent-template").html
    assert "<h2>Heading</h2>" in html
    for bad in ("<script", "onerror", "javascript:", "onclick", "style="):
        assert bad not in html, bad
    assert '<a href="https://example.org/" rel="noopener noreferrer">good</a>' in html
    assert '<table tabindex="0">' in html
    assert '<li class="task">☐ open item</li>' in html
    assert '<li class="task">☑ done item</li>' in html
    assert "<li>plain item</li>" in html


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def library(tmp_path: Path):
    return load_library(write_library(tmp_path / "lib"))


def _slugs(resources) -> list[str]:
    return [r.slug for r in resources]


def test_search_without_a_query_lists_everything_in_category_order(library) -> None:
    assert _slugs(search(library)) == ["consent-template", "aftercare-handout", "lifeline"]
    assert _slugs(search(library, "", "handouts")) == ["aftercare-handout"]
    assert _slugs(search(library, None, "crisis")) == ["lifeline"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("consent", ["consent-template"]),  # title
        ("CONSENT", ["consent-template"]),  # case-insensitive
        ("evening", ["aftercare-handout"]),  # summary
        ("patient handouts", ["aftercare-handout"]),  # category label, every term
        ("zephyrine", ["consent-template"]),  # document text only
        ("988lifeline.org", ["lifeline"]),  # a link's host
        ("drive zephyrine", []),  # every term must match, in one resource
        ("nothing-like-this", []),
    ],
)
def test_search_fields(library, query: str, expected: list[str]) -> None:
    assert _slugs(search(library, query)) == expected


def test_search_within_a_category(library) -> None:
    assert _slugs(search(library, "template", "handouts")) == []
    assert _slugs(search(library, "template", "consent")) == ["consent-template"]
    assert _slugs(search(library, "988", "crisis")) == ["lifeline"]


def test_ranking_puts_a_title_match_before_a_text_match(tmp_path: Path) -> None:
    files = {"consent.md": CONSENT + "\nSee also the aftercare notes.\n", "aftercare.md": AFTERCARE}
    library = load_library(write_library(tmp_path / "lib", files=files))
    # "aftercare" is in the handout's title and only in the consent template's text; the
    # consent template comes first in the file.
    assert _slugs(search(library, "aftercare")) == ["aftercare-handout", "consent-template"]


def test_terms() -> None:
    assert terms("  Consent   FORM consent ") == ["consent", "form"]
    assert terms(None) == [] and terms("") == []
    assert len(terms(" ".join(f"w{i}" for i in range(30)))) == 10


def test_excerpt_marks_terms_found_only_in_the_text(library) -> None:
    consent = library.get("consent-template")
    passage = excerpt(consent, ["zephyrine"])
    assert passage is not None and "<mark>zephyrine</mark>" in passage
    assert "nauseous" in passage
    assert excerpt(consent, ["consent"]) is None  # the title already shows the match


def test_excerpt_escapes_the_text(tmp_path: Path) -> None:
    files = {"consent.md": "## Notes\n\nUse a < b & c > d with care.\n", "aftercare.md": AFTERCARE}
    library = load_library(write_library(tmp_path / "lib", files=files))
    passage = str(excerpt(library.get("consent-template"), ["care"]))
    assert "a &lt; b &amp; c &gt; d" in passage and "<mark>care</mark>" in passage


# --- the CLI command ---------------------------------------------------------------------------


def test_the_check_command(tmp_path: Path) -> None:
    app = Flask("resources-cli-test")
    cli.register(app)
    runner = app.test_cli_runner()
    good = write_library(tmp_path / "good")
    result = runner.invoke(args=["resources", "check", "--path", str(good)])
    assert result.exit_code == 0 and "is valid" in result.output
    bad = write_library(tmp_path / "bad", INDEX.replace('category = "crisis"', 'category = "nope"'))
    result = runner.invoke(args=["resources", "check", "--path", str(bad)])
    assert result.exit_code == 1
    assert "unknown category 'nope'" in result.output and "1 problem(s) found" in result.output
