"""Form pieces shared by every feature."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms import SelectChoice, ValidationError

from lms.timezones import is_valid_zone


def valid_timezone(_form: object, field: object) -> None:
    if not is_valid_zone(field.data or ""):  # type: ignore[attr-defined]
        raise ValidationError("Choose a time zone from the list.")


def choices(pairs: Iterable[tuple[str, str]], optgroup: str | None = None) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label, optgroup=optgroup) for value, label in pairs]
