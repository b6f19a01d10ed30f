"""Account pages. Thin: forms validate, services decide, the view commits once."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from lms.accounts import services
from lms.accounts.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    EmailOnlyForm,
    LoginForm,
    ProfileForm,
    RegistrationForm,
    ResetPasswordForm,
)
from lms.accounts.tokens import TokenError
from lms.auth import current_user_obj, is_safe_redirect, public
from lms.extensions import db, limiter

TOKEN_MESSAGES = {
    "expired": "This link has expired.",
    "used": "This link has already been used.",
    "invalid": "This link is not valid. Check that you copied all of it.",
    "revoked": "This invitation was withdrawn.",
}

bp = Blueprint("accounts", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _field_error(form: Any, error: services.AccountError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(_register_limit, methods=["POST"])
def register() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            user = services.register_therapist(
                form.full_name.data, form.email.data, form.password.data, form.timezone.data
            )
        except services.AccountError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            session["registered_email"] = user.email
            return redirect(url_for("accounts.check_email"))
    return render_template("accounts/register.html", form=form), 200 if not form.errors else 422


@bp.route("/register/check-email")
@public
def check_email() -> Any:
    form = EmailOnlyForm(email=session.get("registered_email", ""))
    form.submit.label.text = "Send a new link"
    return render_template(
        "accounts/check_email.html", email=session.get("registered_email"), form=form
    )


@bp.route("/verify-email/<token>")
@public
def verify_email(token: str) -> Any:
    try:
        services.verify_email(token)
    except TokenError as error:
        db.session.rollback()
        form = EmailOnlyForm()
        form.submit.label.text = "Send a new link"
        message = TOKEN_MESSAGES[error.reason]
        if error.reason == "used":
            message = "Your e-mail address is already confirmed. You can log in."
        return render_template(
            "accounts/verify_failed.html", message=message, reason=error.reason, form=form
        ), 400
    db.session.commit()
    flash("Your e-mail address is confirmed. You can now log in.", "success")
    return redirect(url_for("accounts.login"))


@bp.route("/verify-email/resend", methods=["POST"])
@public
@limiter.limit(_reset_limit)
def resend_verification() -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        services.resend_verification(form.email.data)
        db.session.commit()
        flash(
            "If an unconfirmed account uses that address, a new confirmation link is on its way.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    for error in form.email.errors:
        flash(error, "error")
    return redirect(url_for("accounts.check_email"))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    resend_form = None
    status = 200
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data)
        if result.problem is None and result.user is not None:
            session.clear()  # a fresh session at log-in; nothing carried over
            login_user(result.user)
            session.permanent = True
            db.session.commit()
            target = request.args.get("next")
            return redirect(target if is_safe_redirect(target) else url_for("main.dashboard"))
        db.session.commit()  # keep the audit row of the failure
        status = 401
        if result.problem == "unverified":
            form.form_errors.append(
                "Confirm your e-mail address before logging in. Use the link we sent you, "
                "or ask for a new one below."
            )
            resend_form = EmailOnlyForm(email=form.email.data, formdata=None)
            resend_form.submit.label.text = "Send a new confirmation link"
            status = 403
        elif result.problem == "inactive":
            form.form_errors.append(
                "This account has been deactivated. Contact the network's operations team "
                "if you think this is a mistake."
            )
            status = 403
        else:
            form.form_errors.append("The e-mail address or password is not correct.")
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login.html", form=form, resend_form=resend_form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    services.record_logout(current_user_obj())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password() -> Any:
    form = EmailOnlyForm()
    form.submit.label.text = "E-mail me a reset link"
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        return render_template("accounts/reset_sent.html", email=form.email.data.strip())
    return render_template(
        "accounts/forgot_password.html", form=form
    ), 200 if not form.errors else 422


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_reset_limit, methods=["POST"])
def reset_password(token: str) -> Any:
    try:
        user = services.user_for_reset_token(token)
    except TokenError as error:
        return render_template(
            "accounts/reset_failed.html", message=TOKEN_MESSAGES[error.reason]
        ), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.AccountError as error:
            db.session.rollback()
            _field_error(form, error)
        except TokenError as error:
            db.session.rollback()
            return render_template(
                "accounts/reset_failed.html", message=TOKEN_MESSAGES[error.reason]
            ), 400
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Your password has been changed. Log in with the new password.", "success")
            return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/reset_password.html", form=form, user=user
    ), 200 if not form.errors else 422


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    user = current_user_obj()
    form = ProfileForm(obj=user, prefix="profile")
    password_form = ChangePasswordForm(prefix="pw")
    if form.submit.data and form.validate_on_submit():
        services.update_profile(user, form.full_name.data, form.timezone.data)
        db.session.commit()
        flash("Your profile is saved.", "success")
        return redirect(url_for("accounts.profile"))
    return _profile_page(form, password_form)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password() -> Any:
    user = current_user_obj()
    form = ProfileForm(obj=user, prefix="profile", formdata=None)
    password_form = ChangePasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        try:
            services.change_password(
                user, password_form.current_password.data, password_form.password.data
            )
        except services.AccountError as error:
            db.session.rollback()
            _field_error(password_form, error)
        else:
            db.session.commit()
            # The token rotated: keep this session, end all the others.
            login_user(user)
            flash("Your password has been changed. Other sessions have been logged out.", "success")
            return redirect(url_for("accounts.profile"))
    return _profile_page(form, password_form)


def _profile_page(form: ProfileForm, password_form: ChangePasswordForm) -> Any:
    status = 422 if (form.errors or password_form.errors) else 200
    return render_template("accounts/profile.html", form=form, password_form=password_form), status


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_register_limit, methods=["POST"])
def accept_invitation(token: str) -> Any:
    try:
        invitation = services.find_invitation(token)
    except TokenError as error:
        return render_template(
            "accounts/invitation_failed.html", message=TOKEN_MESSAGES[error.reason]
        ), 400
    if current_user.is_authenticated:
        logout_user()
        session.clear()
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(
                token, form.full_name.data, form.password.data, form.timezone.data
            )
        except services.AccountError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            login_user(user)
            session.permanent = True
            flash(f"Welcome, {user.full_name}. Your {user.role.value} account is ready.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template(
        "accounts/accept_invitation.html", form=form, invitation=invitation
    ), 200 if not form.errors else 422
