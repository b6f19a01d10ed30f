"""Outcome forms: one questionnaire form per instrument (built from its items), search."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectChoice, ValidationError
from wtforms.validators import InputRequired, Length, Optional, StopValidation

from lms.forms import DateField, StringField
from lms.outcomes import scoring
from lms.outcomes.services import date_problem
from lms.referrals.models import Referral


class QuestionnaireForm(FlaskForm):
    """Base: the date administered; the item fields ``item1``... are added per instrument.

    The view sets ``referral`` and ``today`` so that the date rule
    (:func:`lms.outcomes.services.date_problem`) can be checked with the other fields.
    """

    instrument: scoring.Instrument
    referral: Referral | None = None
    today: date | None = None

    administered_on = DateField(
        "Date completed",
        validators=[InputRequired("Enter the date the questionnaire was completed.")],
    )

    def validate_administered_on(self, field: DateField) -> None:
        if field.data and self.referral is not None and self.today is not None:
            problem = date_problem(self.referral, field.data, self.today)
            if problem:
                raise ValidationError(problem)

    @property
    def item_fields(self) -> list[Field]:
        return [self[f"item{n}"] for n in range(1, len(self.instrument.items) + 1)]

    @property
    def answers(self) -> list[int]:
        return [int(f.data) for f in self.item_fields]


class AnswerField(RadioField):
    """One item: a required answer 0-3. Missing, unknown or malformed values all get the
    same plain message (only a tampered request can send the latter two)."""

    def __init__(self, label: str, number: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [SelectChoice(v, text) for v, text in scoring.ANSWERS])
        super().__init__(label, coerce=int, **kwargs)
        self.message = f"Choose an answer for item {number}."

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None

    def pre_validate(self, form: Any) -> None:
        if self.data not in scoring.ANSWER_LABELS:
            raise StopValidation(self.message)


@functools.cache
def form_class(key: str) -> type[QuestionnaireForm]:
    """The form for instrument ``key``: one required 0-3 radio group per item."""
    inst = scoring.instrument(key)
    attrs: dict[str, Any] = {"instrument": inst}
    for number, text in enumerate(inst.items, start=1):
        attrs[f"item{number}"] = AnswerField(text, number)
    return type(f"{inst.name.replace('-', '')}Form", (QuestionnaireForm,), attrs)


class PatientSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search by patient name", validators=[Optional(), Length(max=200)])


class DeleteForm(FlaskForm):
    """CSRF only."""
