"""Question and feedback text as HTML, by its GIFT format, always sanitised."""

from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup, escape

_INLINE_TAGS = {
    "a",
    "b",
    "br",
    "code",
    "em",
    "i",
    "strong",
    "sub",
    "sup",
    "p",
    "ul",
    "ol",
    "li",
    "span",
}


def gift_text(value: str | None, text_format: str | None = "moodle") -> Markup:
    """Render ``value`` written in a GIFT text format: markdown, html, plain or moodle."""
    if not value:
        return Markup("")
    fmt = (text_format or "moodle").lower()
    if fmt == "markdown":
        html = markdown.markdown(value)
    elif fmt in ("html", "moodle"):
        html = value  # Moodle's auto-format accepts simple HTML
    else:
        return escape(value).replace("\n", Markup("<br>"))
    clean = nh3.clean(
        html, tags=_INLINE_TAGS, attributes={"a": {"href"}}, link_rel="noopener noreferrer"
    )
    if clean.startswith("<p>") and clean.endswith("</p>") and clean.count("<p>") == 1:
        clean = clean[3:-4]
    return Markup(clean)  # noqa: S704 - sanitised by nh3 above
