"""Training forms and the mapping of posted quiz fields to GIFT responses."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from lms.forms import StringField
from lms.training.gift import Question


class ConfirmForm(FlaskForm):
    submit = SubmitField("Confirm")


class VerifyForm(FlaskForm):
    class Meta:
        csrf = False

    code = StringField(
        "Certificate code",
        validators=[DataRequired("Enter the code printed on the certificate."), Length(max=40)],
        description="For example ABCD-EFGH-JKLM-NPQR-STUV",
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"},
    )


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        "Reason (kept in the audit log)",
        validators=[DataRequired("Give a reason for revoking the certificate."), Length(max=2000)],
    )
    submit = SubmitField("Revoke certificate")


def field_name(position: int) -> str:
    return f"q{position}"


def response_from_form(
    question: Question, position: int, form: MultiDict[str, str]
) -> tuple[bool, Any]:
    """(answered?, response) for one question from posted fields named ``q<position>...``.

    Nothing posted means "not answered" (the saved answer, if any, stays as it is).
    Values that are not even the right shape are passed through as-is, so the
    grader rejects them with a clear message instead of silently guessing.
    """
    name = field_name(position)
    kind = question.kind
    if kind == "multiresponse":
        values = form.getlist(name)
        if not values and f"{name}-present" not in form:
            return False, None
        return True, [_int_or_raw(v) for v in values]
    if kind == "matching":
        response = {}
        for key in form:
            if key.startswith(f"{name}-m"):
                value = form.get(key, "")
                if value:
                    response[key[len(name) + 2 :]] = value
        return (bool(response), response)
    raw = form.get(name)
    if raw is None or raw == "":
        return False, None
    if kind == "multichoice":
        return True, _int_or_raw(raw)
    if kind == "truefalse":
        return True, {"true": True, "false": False}.get(raw, raw)
    return True, raw[:5000]


def _int_or_raw(value: str) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
