"""The resource library's search form (GET, no CSRF: it changes nothing)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import ValidationError
from wtforms.validators import Length, Optional

from lms.forms import SearchField, SelectField, choices
from lms.resources.content import Library


class ResourceSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField(
        "Search the library",
        description="Words from the title, summary or text, for example “consent” or “dosing”.",
        validators=[Optional(), Length(max=200, message="Use at most 200 characters.")],
    )
    category = SelectField("Category", validate_choice=False, validators=[Optional()])

    def __init__(self, library: Library, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._library = library
        self.category.choices = choices(
            [("", "All categories"), *((c.key, c.label) for c in library.categories)]
        )

    def validate_category(self, field: SelectField) -> None:
        if field.data and self._library.category(field.data) is None:
            raise ValidationError("Choose a category from the list.")
