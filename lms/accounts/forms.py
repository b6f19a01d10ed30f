"""Account forms: input shape only; the rules live in services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from lms.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from lms.forms import EmailField, SelectField, StringField, choices, valid_timezone
from lms.timezones import zone_pairs

PASSWORD_HELP = (
    f"At least {MIN_LENGTH} characters. A passphrase of a few unrelated words is strong and "
    "easy to remember; very common passwords are refused."
)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _email_field(label: str = "E-mail address") -> EmailField:
    return EmailField(
        label,
        filters=[_strip],
        validators=[
            DataRequired("Enter your e-mail address."),
            Email("Enter a valid e-mail address."),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"},
    )


def _new_password(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Choose a password."),
            Length(max=MAX_LENGTH, message=f"Use at most {MAX_LENGTH} characters."),
        ],
        description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH},
    )


def _confirm(label: str = "Repeat the password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The two passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


def _full_name() -> StringField:
    return StringField(
        "Full name",
        filters=[_strip],
        validators=[DataRequired("Enter your full name."), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )


def _zone_choices() -> list:
    common, rest = zone_pairs()
    return choices(common, "Common in the network") + choices(rest, "All time zones")


def _timezone() -> SelectField:
    return SelectField(
        "Time zone",
        choices=_zone_choices,
        default="America/New_York",
        validators=[DataRequired(), valid_timezone],
        validate_choice=False,
        description="Times on the site and in e-mails are shown in this zone.",
        render_kw={"data-detect-timezone": "1"},
    )


class RegistrationForm(FlaskForm):
    full_name = _full_name()
    email = _email_field()
    password = _new_password()
    confirm = _confirm()
    timezone = _timezone()
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Log in")


class EmailOnlyForm(FlaskForm):
    email = _email_field()
    submit = SubmitField("Send the link")


class ResetPasswordForm(FlaskForm):
    password = _new_password("New password")
    confirm = _confirm()
    submit = SubmitField("Set new password")


class ProfileForm(FlaskForm):
    full_name = _full_name()
    timezone = _timezone()
    submit = SubmitField("Save profile")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    password = _new_password("New password")
    confirm = _confirm()
    submit = SubmitField("Change password")


class AcceptInvitationForm(FlaskForm):
    full_name = _full_name()
    password = _new_password()
    confirm = _confirm()
    timezone = _timezone()
    submit = SubmitField("Create staff account")


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")


def _code_field(label: str = "Authentication code") -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[DataRequired("Enter the code."), Length(max=20)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text",
            "spellcheck": "false",
            "autocapitalize": "none",
        },
    )


class MfaChallengeForm(FlaskForm):
    code = _code_field()
    submit = SubmitField("Verify")


class MfaEnableForm(FlaskForm):
    code = StringField(
        "6-digit code from the app",
        filters=[_strip],
        validators=[DataRequired("Enter the 6-digit code your app shows."), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField("Turn on two-step verification")


class MfaConfirmForm(FlaskForm):
    """Re-authentication before changing two-step verification: password and a current code."""

    password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    code = _code_field("Code from your app")
    submit = SubmitField("Confirm")
