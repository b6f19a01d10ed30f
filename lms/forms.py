"""Form pieces shared by every feature."""

from __future__ import annotations

from wtforms import ValidationError

from lms.timezones import is_valid_zone


def valid_timezone(_form: object, field: object) -> None:
    if not is_valid_zone(field.data or ""):  # type: ignore[attr-defined]
        raise ValidationError("Choose a time zone from the list.")
