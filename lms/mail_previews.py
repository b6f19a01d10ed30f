"""Previews of every e-mail template, for admins in development (Admin → E-mail previews).

Each template is rendered with a few realistic sample values and, for anything else it
reads, a visible placeholder such as ``⟨record.number⟩``, so a new template appears here
without any registration and a broken one shows its error instead of breaking the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import current_app
from jinja2 import ChainableUndefined, TemplateError

from lms.db import utcnow


class PreviewUndefined(ChainableUndefined):
    """A missing value that renders as ``⟨its name⟩`` and survives being used."""

    def __str__(self) -> str:
        return f"⟨{self._undefined_name or 'value'}⟩"

    def __call__(self, *args: Any, **kwargs: Any) -> PreviewUndefined:
        return self

    def __lt__(self, other: Any) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__

    def __add__(self, other: Any) -> PreviewUndefined:
        return self

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__

    def __int__(self) -> int:
        return 0

    def __float__(self) -> float:
        return 0.0


def _samples() -> dict[str, Any]:
    now = utcnow()
    person = SimpleNamespace(
        full_name="Alex Example",
        email="alex.example@example.org",
        timezone="America/New_York",
        role=SimpleNamespace(value="therapist", label="Therapist"),
    )
    base = current_app.config.get("BASE_URL") or "http://127.0.0.1:5000"
    return {
        "user": person,
        "therapist": person,
        "recipient": person,
        "link": f"{base}/dashboard",
        "url": f"{base}/dashboard",
        "reason": "This is a preview of an e-mail the Partner LMS sends.",
        "now": now,
        "expires_at": now + timedelta(days=1),
        "due_at": now + timedelta(minutes=15),
    }


@dataclass
class Preview:
    name: str
    html: str
    text: str
    error: str | None = None


def template_names() -> list[str]:
    """Every e-mail (``templates/mail/<name>.html``), partials (``_*``) left out."""
    root = Path(current_app.root_path, current_app.template_folder or "templates", "mail")
    return sorted(p.stem for p in root.glob("*.html") if not p.name.startswith("_"))


def render(name: str) -> Preview:
    env = current_app.jinja_env.overlay(undefined=PreviewUndefined)
    context = {**_samples(), "config": current_app.config}
    try:
        html = env.get_template(f"mail/{name}.html").render(**context)
        text = env.get_template(f"mail/{name}.txt").render(**context)
    except (TemplateError, TypeError, ValueError, AttributeError) as error:
        return Preview(name, "", "", f"{type(error).__name__}: {error}")
    return Preview(name, html, text)
