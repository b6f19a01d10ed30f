"""Resource library fixtures: the certification fixtures, and a small library in a temp folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)

INDEX = """\
[categories]
consent = "Consent templates"
handouts = "Patient handouts"
crisis = "Crisis lines"

[[resources]]
slug = "consent-template"
title = "Consent template"
category = "consent"
kind = "document"
file = "consent.md"
summary = "A consent form for the psychotherapy."
updated = 2026-10-01

[[resources]]
slug = "aftercare-handout"
title = "Aftercare handout"
category = "handouts"
kind = "document"
file = "aftercare.md"
summary = "What to do on the evening after a session."

[[resources]]
slug = "lifeline"
title = "988 Lifeline"
category = "crisis"
kind = "link"
url = "https://988lifeline.org/"
summary = "Call or text 988."
"""

CONSENT = """\
> **Template: review before use.**

## Risks

Some patients feel nauseous. The word zephyrine appears only here.

- [ ] Patient has read the form
- [x] Therapist explained the risks
"""

AFTERCARE = """\
## Evening

Rest, drink water, and do not drive until tomorrow.
"""


def write_library(root: Path, index: str = INDEX, files: dict[str, str] | None = None) -> Path:
    """Write ``library.toml`` and its documents into ``root`` (created if needed)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "library.toml").write_text(index, encoding="utf-8")
    for name, text in (
        files if files is not None else {"consent.md": CONSENT, "aftercare.md": AFTERCARE}
    ).items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def use_library(app: Flask, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``use_library(index=..., files=...)`` writes a library and points the app at it."""
    old = app.config.get("RESOURCES_PATH")

    def use(index: str = INDEX, files: dict[str, str] | None = None) -> Path:
        root = write_library(tmp_path / "library", index, files)
        app.config["RESOURCES_PATH"] = str(root)
        return root

    yield use
    app.config["RESOURCES_PATH"] = old


@pytest.fixture
def small_library(use_library: Callable[..., Path]) -> Path:
    return use_library()
