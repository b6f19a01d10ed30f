"""Support forms: filing, replies, notes, the clinicians' actions, the queue and metrics filters."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    TelField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from lms.forms import BooleanField, DateField, SelectField, StringField, choices
from lms.support.models import Category, Status, Urgency

CATEGORY_PAIRS = [(c.value, c.label) for c in Category]
URGENCY_PAIRS = [(u.value, u.label) for u in Urgency]
STATUS_PAIRS = [(s.value, s.staff_label) for s in Status]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class RequestForm(FlaskForm):
    category = SelectField(
        "Category",
        choices=choices([("", "Choose one"), *CATEGORY_PAIRS]),
        validators=[DataRequired("Choose a category.")],
    )
    # Labels with the response targets are set by the view (they come from the settings).
    urgency = RadioField(
        "Urgency", choices=choices(URGENCY_PAIRS), validators=[InputRequired("Choose the urgency.")]
    )
    referral_id = SelectField(
        "Patient (optional: one of the patients you referred)",
        choices=[],
        validators=[Optional()],
    )
    subject = StringField(
        "Subject",
        filters=[_strip],
        validators=[DataRequired("Write a subject."), Length(max=200)],
    )
    description = TextAreaField(
        "What do you need?",
        filters=[_strip],
        validators=[DataRequired("Describe what you need."), Length(max=10000)],
    )
    callback_phone = TelField(
        "Phone number to call you back",
        filters=[_strip],
        validators=[DataRequired("Give a phone number to call you back."), Length(max=40)],
    )
    submission_token = HiddenField()

    def validate_callback_phone(self, field: TelField) -> None:
        digits = [c for c in field.data or "" if c.isdigit()]
        if len(digits) < 7:
            raise ValidationError("Enter a phone number with at least 7 digits.")


class ReplyForm(FlaskForm):
    body = TextAreaField(
        "Reply to the therapist",
        filters=[_strip],
        validators=[DataRequired("Write the reply."), Length(max=10000)],
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Internal note (never shown to the therapist)",
        filters=[_strip],
        validators=[DataRequired("Write the note."), Length(max=10000)],
    )


class MessageForm(FlaskForm):
    """Waiting for the therapist, or resolving: an optional message sent as a reply first."""

    message = TextAreaField(
        "Message to the therapist (optional if you already replied)",
        filters=[_strip],
        validators=[Optional(), Length(max=10000)],
    )


class ReassignForm(FlaskForm):
    assignee_id = SelectField(
        "Reassign to", choices=[], validators=[DataRequired("Choose a clinician.")]
    )
    version = IntegerField(validators=[Optional()])


class TherapistReplyForm(FlaskForm):
    body = TextAreaField(
        "Your reply",
        filters=[_strip],
        validators=[DataRequired("Write your reply."), Length(max=10000)],
    )


class ActionForm(FlaskForm):
    """A button that changes something (claim, reopen, close, on call): CSRF only."""


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    mine = BooleanField("Mine")
    unclaimed = BooleanField("Unclaimed")
    overdue = BooleanField("Overdue")
    status = SelectField(
        "Status", choices=choices([("", "Open, claimed or awaiting"), *STATUS_PAIRS]), default=""
    )
    urgency = SelectField(
        "Urgency", choices=choices([("", "Any urgency"), *URGENCY_PAIRS]), default=""
    )
    q = StringField("Search", filters=[_strip], validators=[Optional(), Length(max=200)])


class OwnRequestFilterForm(FlaskForm):
    """The partner's search of their own requests (statuses as the partner reads them)."""

    class Meta:
        csrf = False

    q = StringField(
        "Request number or words of the subject",
        description="Whole words, e.g. nausea (subjects are stored encrypted), or #1234.",
        filters=[_strip],
        validators=[Optional(), Length(max=200)],
    )
    status = SelectField(
        "Status",
        choices=choices([("", "Any status"), *((s.value, s.label) for s in Status)]),
        validators=[Optional()],
    )


class MetricsFilterForm(FlaskForm):
    class Meta:
        csrf = False

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")
        if field.data and field.data > date(2100, 1, 1):
            raise ValidationError("Choose an earlier end date.")
