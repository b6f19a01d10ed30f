"""Payment forms: the admin filters, the refund confirmation, the comped enrolment."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from lms.forms import BooleanField, DateField, EmailField, SelectField, StringField, choices
from lms.payments.models import PaymentStatus

STATUS_PAIRS = [(s.value, s.label) for s in PaymentStatus]


class PaymentFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Therapist, e-mail or PaymentIntent", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Status", choices=choices([("", "Any status"), *STATUS_PAIRS]), validators=[Optional()]
    )
    course = SelectField("Course", choices=[], validators=[Optional()])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class RefundForm(FlaskForm):
    reason = TextAreaField(
        "Reason (kept in the audit log)",
        validators=[DataRequired("Give a reason for the refund."), Length(max=2000)],
    )
    confirm = BooleanField(
        "I understand the full amount goes back to the card, the enrolment ends and a "
        "certificate earned through it is revoked.",
        validators=[InputRequired("Tick the box to confirm the refund.")],
    )


class CompForm(FlaskForm):
    email = EmailField(
        "Therapist's e-mail address",
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
        validators=[
            DataRequired("Enter the therapist's e-mail address."),
            Email(),
            Length(max=254),
        ],
    )
    course = SelectField("Course", choices=[], validators=[DataRequired("Choose a course.")])
    reason = TextAreaField(
        "Reason (kept in the audit log)",
        validators=[DataRequired("Give a reason for the comped enrolment."), Length(max=2000)],
    )
