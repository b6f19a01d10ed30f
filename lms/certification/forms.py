"""The partner agreement form: the version read and the typed full name."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import HiddenInput

from lms.forms import StringField


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class AgreementForm(FlaskForm):
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    full_name = StringField(
        "Type your full name to sign",
        description="Exactly as on your account; upper or lower case does not matter.",
        filters=[_strip],
        validators=[DataRequired("Type your full name to accept."), Length(max=200)],
    )
