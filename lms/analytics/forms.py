"""Analytics forms: the regrade confirmation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import InputRequired

from lms.forms import BooleanField


class RegradeForm(FlaskForm):
    # The dry run the admin looked at; apply refuses if the list changed since.
    fingerprint = HiddenField()
    confirm = BooleanField(
        "I have checked the list above: apply the corrected question to these attempts and "
        "e-mail each learner whose score changes.",
        validators=[InputRequired("Tick the box to confirm the regrade.")],
    )
