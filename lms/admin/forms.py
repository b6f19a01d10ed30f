"""Admin forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional

from lms.accounts.models import Role
from lms.admin.reports import CERTIFICATION_FILTERS, DEFAULT_SORT, SORTS
from lms.forms import DateField, EmailField, SelectField, StringField, choices
from lms.licensure.data import JURISDICTIONS, license_type_pairs

ROLE_PAIRS = [(r.value, r.label) for r in Role]
ROLE_CHOICES = choices(ROLE_PAIRS)
STAFF_ROLE_CHOICES = choices([(Role.CLINICIAN.value, "Clinician"), (Role.ADMIN.value, "Admin")])


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search name or e-mail", validators=[Optional(), Length(max=200)])
    role = SelectField(
        "Role", choices=choices([("", "Any role"), *ROLE_PAIRS]), validators=[Optional()]
    )
    status = SelectField(
        "Status",
        choices=choices(
            [
                ("", "Any status"),
                ("active", "Active"),
                ("inactive", "Deactivated"),
                ("unverified", "E-mail not confirmed"),
            ]
        ),
        validators=[Optional()],
    )


class InviteForm(FlaskForm):
    email = EmailField(
        "E-mail address",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired("Enter the e-mail address to invite."),
            Email("Enter a valid e-mail address."),
            Length(max=254),
        ],
    )
    role = SelectField("Role", choices=STAFF_ROLE_CHOICES, validators=[DataRequired()])
    submit = SubmitField("Send invitation")


class ActiveForm(FlaskForm):
    active = HiddenField(validators=[DataRequired()])
    reason = StringField("Reason (kept in the audit log)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Confirm")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    submit = SubmitField("Change role")


class ConfirmForm(FlaskForm):
    submit = SubmitField("Confirm")


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = StringField("Action", validators=[Optional(), Length(max=64)])
    actor = StringField("Actor e-mail", validators=[Optional(), Length(max=254)])
    object_type = StringField("Object type", validators=[Optional(), Length(max=64)])
    object_id = StringField("Object id", validators=[Optional(), Length(max=64)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class TherapistSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search name or e-mail", validators=[Optional(), Length(max=200)])
    state = SelectField(
        "License state",
        choices=choices(
            [
                ("", "Any state"),
                *((code, f"{name} ({code})") for code, name in JURISDICTIONS.items()),
            ]
        ),
        validators=[Optional()],
    )
    license_type = SelectField(
        "License type",
        choices=choices([("", "Any type"), *license_type_pairs()]),
        validators=[Optional()],
    )
    certification = SelectField(
        "Certification",
        choices=choices([("", "Any"), *CERTIFICATION_FILTERS.items()]),
        validators=[Optional()],
    )
    sort = SelectField(
        "Sort by",
        choices=choices([(key, label) for key, (label, _) in SORTS.items()]),
        default=DEFAULT_SORT,
        validators=[Optional()],
    )
