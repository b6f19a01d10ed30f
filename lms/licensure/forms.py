"""Licensure forms: license, insurance, attestation, the admin's decision and queue filters."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, IntegerField, RadioField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms.forms import DateField, SelectField, StringField, choices
from lms.licensure.data import license_type_pairs, state_pairs
from lms.licensure.npi import is_valid_npi, normalise_npi
from lms.licensure.services import QUEUE_STATUSES


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def valid_npi(_form: object, field: object) -> None:
    value = normalise_npi(field.data)  # type: ignore[attr-defined]
    field.data = value or None  # type: ignore[attr-defined]
    if value and not is_valid_npi(value):
        raise ValidationError(
            "This is not a valid NPI: 10 digits starting with 1 or 2, with a correct check digit."
        )


DOCUMENTS_HINT = "PDF, JPEG or PNG, up to {mb} MB each. You can choose more than one file."


class LicenseForm(FlaskForm):
    license_type = SelectField(
        "License type",
        choices=choices([("", "Choose a license type"), *license_type_pairs()]),
        validators=[DataRequired("Choose the license type.")],
    )
    state = SelectField(
        "Issuing state",
        choices=choices([("", "Choose a state"), *state_pairs()]),
        validators=[DataRequired("Choose the state that issued the license.")],
    )
    number = StringField(
        "License number",
        filters=[_upper],
        validators=[DataRequired("Enter the license number."), Length(max=64)],
    )
    issued_on = DateField("Issue date", validators=[InputRequired("Enter the issue date.")])
    expires_on = DateField("Expiry date", validators=[InputRequired("Enter the expiry date.")])
    npi = StringField(
        "NPI (optional)",
        description="Your 10-digit National Provider Identifier, if you have one.",
        validators=[Optional(), Length(max=20), valid_npi],
    )
    documents = MultipleFileField("License documents")


class InsuranceForm(FlaskForm):
    carrier = StringField(
        "Insurance carrier",
        filters=[_strip],
        validators=[DataRequired("Enter the carrier."), Length(max=200)],
    )
    policy_number = StringField(
        "Policy number",
        filters=[_strip],
        validators=[DataRequired("Enter the policy number."), Length(max=100)],
    )
    per_claim = IntegerField(
        "Coverage per claim (US dollars)",
        validators=[
            InputRequired("Enter the coverage per claim."),
            NumberRange(min=1, max=1_000_000_000),
        ],
    )
    aggregate = IntegerField(
        "Aggregate coverage (US dollars)",
        validators=[
            InputRequired("Enter the aggregate coverage."),
            NumberRange(min=1, max=1_000_000_000),
        ],
    )
    expires_on = DateField("Expiry date", validators=[InputRequired("Enter the expiry date.")])
    documents = MultipleFileField("Certificate of insurance")

    def validate_aggregate(self, field: IntegerField) -> None:
        if self.per_claim.data and field.data is not None and field.data < self.per_claim.data:
            raise ValidationError("The aggregate cannot be less than the coverage per claim.")


YES_NO = choices([("yes", "Yes"), ("no", "No")])


def _question(label: str) -> RadioField:
    return RadioField(label, choices=YES_NO, validators=[InputRequired("Answer this question.")])


class AttestationForm(FlaskForm):
    discipline_history = _question(
        "Has any licensing board ever disciplined you, or is an investigation pending?"
    )
    license_restrictions = _question(
        "Is any of your licenses currently restricted, on probation, suspended or surrendered?"
    )
    felony = _question("Have you ever been convicted of a felony?")
    impairment = _question(
        "Do you have any condition (including substance use) that impairs your ability to "
        "practise safely?"
    )
    current_coverage = _question("Do you currently hold malpractice insurance?")
    explanation = TextAreaField(
        "Explanation",
        description="Required if any answer above is yes, or if you have no current coverage.",
        validators=[Optional(), Length(max=5000)],
    )
    signed_name = StringField(
        "Your full name (signature)",
        filters=[_strip],
        validators=[DataRequired("Type your full name to sign."), Length(max=200)],
    )
    signed_on = DateField("Date", validators=[InputRequired("Enter today's date.")])


ACTIONS = [
    ("verify", "Verify"),
    ("request_changes", "Request changes"),
    ("reject", "Reject"),
]


class DecisionForm(FlaskForm):
    revision = HiddenField()
    action = RadioField(
        "Decision", choices=choices(ACTIONS), validators=[InputRequired("Choose a decision.")]
    )
    method = StringField(
        "How it was checked",
        description='For example "State board website, checked on 2026-03-02".',
        validators=[Optional(), Length(max=500)],
    )
    reverify_on = DateField(
        "Re-verify on",
        description="When this verification is due again (default 36 months).",
        validators=[Optional()],
    )
    message = TextAreaField(
        "Message to the therapist",
        description="Required to reject (the reason) or to request changes (what to change).",
        validators=[Optional(), Length(max=2000)],
    )


AGES = [("", "Any age"), ("3", "Waiting 3+ days"), ("7", "Waiting 7+ days"), ("14", "14+ days")]


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField(
        "Record",
        choices=choices([("license", "Licenses"), ("insurance", "Malpractice insurance")]),
        default="license",
        validators=[Optional()],
    )
    status = SelectField(
        "Status", choices=choices(QUEUE_STATUSES), default="awaiting", validators=[Optional()]
    )
    state = SelectField(
        "State", choices=choices([("", "Any state"), *state_pairs()]), validators=[Optional()]
    )
    license_type = SelectField(
        "License type",
        choices=choices([("", "Any type"), *license_type_pairs()]),
        validators=[Optional()],
    )
    age = SelectField("Waiting", choices=choices(AGES), validators=[Optional()])
    q = StringField(
        "Therapist, e-mail or number",
        description="Part of the therapist's name or e-mail, or of the license or policy number.",
        validators=[Optional(), Length(max=200)],
    )
