"""Form pieces shared by every feature."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import wtforms
from markupsafe import Markup, escape
from wtforms import SelectChoice, ValidationError
from wtforms.widgets import Select as _Select

from lms.timezones import is_valid_zone


def valid_timezone(_form: object, field: object) -> None:
    if not is_valid_zone(field.data or ""):  # type: ignore[attr-defined]
        raise ValidationError("Choose a time zone from the list.")


def choices(pairs: Iterable[tuple[str, str]], optgroup: str | None = None) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label, optgroup=optgroup) for value, label in pairs]


class Select(_Select):
    """WTForms' ``<select>``, with each plain option written directly.

    WTForms builds every ``<option>`` through its generic attribute writer and looks up the
    signature of ``render_option`` on every render; the therapist directory's state list,
    the queue's filters and the time-zone list (600 options) spent a fifth of their page in
    it. An option with no extra attributes is written here in the same form, byte for byte
    (``tests/test_forms.py`` holds the two equal); any other goes to WTForms.
    """

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Markup:
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        quoted = escape(value).replace(Markup('"'), Markup("&quot;"))
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        # Every part is escaped above (Markup.format would escape again, at twice the cost).
        return Markup(f'<option {selected}value="{quoted}">{label}</option>')  # noqa: S704

    @classmethod
    def _dispatch_render_option(cls) -> Callable[..., Markup]:
        return cls.render_option


class SelectField(wtforms.SelectField):
    widget = Select()


class SelectMultipleField(wtforms.SelectMultipleField):
    widget = Select(multiple=True)
