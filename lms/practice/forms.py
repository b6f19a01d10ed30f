"""Forms: the partner's practice profile, the public intake, offers and answers."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, TextAreaField, ValidationError
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    Regexp,
)
from wtforms.widgets import CheckboxInput, ListWidget

from lms.forms import (
    BooleanField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    choices,
)
from lms.licensure.data import state_pairs
from lms.practice.data import APPROACHES, CONDITIONS, LANGUAGES
from lms.referrals.models import AgeBand, CareModality

ZIP_PATTERN = r"^\d{5}(-\d{4})?$"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (rendered as a fieldset by templates/practice/_macros.html)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _at_least_one(message: str) -> Any:
    def check(_form: Any, field: Any) -> None:
        if not field.data:
            raise ValidationError(message)

    return check


class ProfileForm(FlaskForm):
    practice_name = StringField(
        "Practice name",
        filters=[_strip],
        validators=[DataRequired("Enter the name of your practice."), Length(max=200)],
    )
    city = StringField(
        "City",
        filters=[_strip],
        validators=[DataRequired("Enter the city of your practice."), Length(max=100)],
    )
    state = SelectField(
        "State",
        choices=choices([("", "Choose a state"), *state_pairs()]),
        validators=[DataRequired("Choose the state of your practice.")],
    )
    zip_code = StringField(
        "ZIP code (optional)",
        filters=[_strip],
        description="Used to suggest you to patients who want to meet in person nearby.",
        validators=[Optional(), Regexp(ZIP_PATTERN, message="Enter a 5-digit ZIP code.")],
    )
    in_person = BooleanField("I see clients in person")
    telehealth = BooleanField("I offer telehealth (video)")
    conditions = MultiCheckboxField(
        "Conditions you work with",
        choices=choices(CONDITIONS.items()),
        validators=[_at_least_one("Choose at least one condition you work with.")],
    )
    approaches = MultiCheckboxField(
        "Approaches", choices=choices(APPROACHES.items()), validators=[Optional()]
    )
    other_approaches = StringField(
        "Other approaches (optional)", filters=[_strip], validators=[Optional(), Length(max=300)]
    )
    languages = MultiCheckboxField(
        "Languages you offer therapy in",
        choices=choices(LANGUAGES.items()),
        validators=[_at_least_one("Choose at least one language.")],
    )
    fees = TextAreaField(
        "Fees or insurance (optional)",
        filters=[_strip],
        description="For example: $150 to $200 per session, sliding scale, out-of-network "
        "superbills.",
        validators=[Optional(), Length(max=500)],
    )
    accepting_new_clients = BooleanField("I accept new clients from the network")

    def validate_telehealth(self, field: BooleanField) -> None:
        if not field.data and not self.in_person.data:
            raise ValidationError("Choose in person, telehealth, or both.")


class IntakeForm(FlaskForm):
    """The public form. ``website`` is a trap for bots (people never see it); ``started``
    is the signed time the form was shown (see lms.practice.intake)."""

    patient_name = StringField(
        "Your full name",
        filters=[_strip],
        validators=[DataRequired("Enter your name."), Length(max=200)],
    )
    email = EmailField(
        "E-mail address",
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
        validators=[
            DataRequired("Enter your e-mail address."),
            Email("Enter a valid e-mail address, like name@example.com."),
            Length(max=254),
        ],
    )
    phone = StringField(
        "Phone number",
        filters=[_strip],
        validators=[
            DataRequired("Enter a phone number where we can reach you."),
            Regexp(r"^[0-9+().\-\s]{7,40}$", message="Enter a phone number, like 303-555-0100."),
        ],
    )
    state = SelectField(
        "State where you live",
        choices=choices([("", "Choose a state"), *state_pairs()]),
        validators=[DataRequired("Choose the state where you live.")],
    )
    age_band = SelectField(
        "Your age",
        choices=choices([("", "Choose"), *((a.value, a.label) for a in AgeBand)]),
        description="Our services are for adults 18 and older.",
        validators=[DataRequired("Choose your age range.")],
    )
    conditions = MultiCheckboxField(
        "What would you like help with?",
        choices=choices(CONDITIONS.items()),
        description="Choose all that apply.",
        validators=[_at_least_one("Choose at least one, or Other.")],
    )
    modality = RadioField(
        "How would you like to meet your therapist?",
        choices=choices((m.value, m.label) for m in CareModality),
        default=CareModality.EITHER.value,
        validators=[InputRequired("Choose how you would like to meet.")],
    )
    location = StringField(
        "City or ZIP code (optional)",
        filters=[_strip],
        description="Helps us suggest a therapist near you if you would like to meet in person.",
        validators=[Optional(), Length(max=100)],
    )
    language = SelectField(
        "Preferred language",
        choices=choices(LANGUAGES.items()),
        default="en",
        validators=[DataRequired("Choose a language.")],
    )
    consent = BooleanField(
        "I agree that the network's medical team may contact me by e-mail or phone about "
        "my request.",
        validators=[InputRequired("Agree to be contacted; without it we cannot help you.")],
    )
    website = StringField("Leave this field empty", validators=[Optional()])
    started = HiddenField()


class OfferForm(FlaskForm):
    partner_id = IntegerField(validators=[InputRequired("Choose a partner.")])


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Reason (optional, seen by the medical team only)",
        filters=[_strip],
        validators=[Optional(), Length(max=1000)],
    )


class ConfirmForm(FlaskForm):
    """A button that changes something (accept, withdraw): the CSRF token only."""
