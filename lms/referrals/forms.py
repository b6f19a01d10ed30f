"""Referral forms: the therapist's referral, the clinician's status change, note and filter."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from lms.db import utcnow
from lms.forms import BooleanField, DateField, EmailField, SelectField, StringField, choices
from lms.licensure.data import state_pairs
from lms.referrals.models import PrimaryConcern, ReferralSource, ReferralStatus
from lms.timezones import viewer_zone

CONCERN_PAIRS = [(c.value, c.label) for c in PrimaryConcern]
STATUS_PAIRS = [(s.value, s.label) for s in ReferralStatus]
SOURCE_PAIRS = [(s.value, s.label) for s in ReferralSource]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class ReferralForm(FlaskForm):
    patient_name = StringField(
        "Patient's full name",
        filters=[_strip],
        validators=[DataRequired("Enter the patient's name."), Length(max=200)],
    )
    date_of_birth = DateField(
        "Date of birth", validators=[InputRequired("Enter the patient's date of birth.")]
    )
    email = EmailField(
        "Patient's e-mail address",
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
        validators=[DataRequired("Enter the patient's e-mail address."), Email(), Length(max=254)],
    )
    phone = StringField(
        "Patient's phone",
        filters=[_strip],
        validators=[DataRequired("Enter the patient's phone number."), Length(max=40)],
    )
    state = SelectField(
        "State of residence",
        choices=choices([("", "Choose a state"), *state_pairs()]),
        validators=[DataRequired("Choose the state where the patient lives.")],
    )
    primary_concern = SelectField(
        "Primary concern",
        choices=choices([("", "Choose one"), *CONCERN_PAIRS]),
        validators=[DataRequired("Choose the primary concern.")],
    )
    prior_treatments = TextAreaField(
        "Prior treatments", filters=[_strip], validators=[Optional(), Length(max=5000)]
    )
    current_medications = TextAreaField(
        "Current medications", filters=[_strip], validators=[Optional(), Length(max=5000)]
    )
    gad7 = IntegerField(
        "Baseline GAD-7 (optional)",
        validators=[Optional(), NumberRange(0, 21, "GAD-7 scores run from 0 to 21.")],
    )
    phq9 = IntegerField(
        "Baseline PHQ-9 (optional)",
        validators=[Optional(), NumberRange(0, 27, "PHQ-9 scores run from 0 to 27.")],
    )
    consent = BooleanField(
        "The patient consented to my sharing this information with the network's medical team.",
        validators=[InputRequired("Confirm the patient's consent; without it nothing is sent.")],
    )

    def validate_date_of_birth(self, field: DateField) -> None:
        # Before today where the therapist is (not the server's date).
        today = utcnow().astimezone(viewer_zone()).date()
        if field.data and (field.data >= today or field.data.year < 1900):
            raise ValidationError("Enter a valid date of birth.")


class StatusForm(FlaskForm):
    status = SelectField("New status", choices=[], validators=[DataRequired("Choose a status.")])
    reason = TextAreaField(
        "Reason (required when not eligible)",
        filters=[_strip],
        validators=[Optional(), Length(max=2000)],
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Note", filters=[_strip], validators=[DataRequired("Write a note."), Length(max=5000)]
    )


class OwnReferralFilterForm(FlaskForm):
    """The partner's search of their own referrals."""

    class Meta:
        csrf = False

    q = StringField(
        "Patient name or referral number",
        description="Whole words of the name, e.g. Alvarez (names are stored encrypted).",
        validators=[Optional(), Length(max=200)],
    )
    status = SelectField(
        "Status", choices=choices([("", "Any status"), *STATUS_PAIRS]), validators=[Optional()]
    )


class ReferralFilterForm(OwnReferralFilterForm):
    """The clinicians' pipeline: the partner's search, and the referral's source."""

    source = SelectField(
        "Source",
        choices=choices(
            [("", "Any source"), *SOURCE_PAIRS, ("awaiting_match", "Waiting for a partner")]
        ),
        validators=[Optional()],
    )
