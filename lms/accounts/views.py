"""Account pages. Thin: forms validate, services decide, the view commits once."""

from __future__ import annotations

import time
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
from sqlalchemy import select

from lms import audit
from lms.accounts import mfa, services, sessions
from lms.accounts.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    EmailOnlyForm,
    LoginForm,
    MfaChallengeForm,
    MfaConfirmForm,
    MfaEnableForm,
    ProfileForm,
    RegistrationForm,
    ResetPasswordForm,
)
from lms.accounts.models import User
from lms.accounts.passwords import verify_password
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


def _mfa_limit() -> str:
    return current_app.config["MFA_RATE_LIMIT"]


def sign_in(user: User) -> None:
    """Start a fresh session for ``user``: nothing from before log-in is carried over."""
    session.clear()
    login_user(user)
    session["_user_id"] = sessions.start(user)  # the cookie names this one server-side session
    session.permanent = True


# How long the second step may take after the password was accepted.
MFA_PENDING_SECONDS = 300
MFA_MAX_FAILURES = 5


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
            target = request.args.get("next")
            target = target if is_safe_redirect(target) else None
            if result.user.mfa_enabled:
                # The password was right; the session opens only after the second step.
                session.clear()
                session["mfa_pending"] = {
                    "token": result.user.session_token,
                    "at": time.time(),
                    "next": target,
                    "failures": 0,
                }
                db.session.commit()
                return redirect(url_for("accounts.mfa_challenge"))
            sign_in(result.user)
            db.session.commit()
            return redirect(target or url_for("main.dashboard"))
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


@bp.route("/login/verify", methods=["GET", "POST"])
@public
@limiter.limit(_mfa_limit, methods=["POST"])
def mfa_challenge() -> Any:
    """The second step of log-in: a code from the authenticator app, or a recovery code."""
    pending = session.get("mfa_pending")
    user = None
    if pending and time.time() - pending.get("at", 0) <= MFA_PENDING_SECONDS:
        user = db.session.scalar(select(User).where(User.session_token == pending.get("token")))
    if user is None or not user.is_active or not user.mfa_enabled:
        session.pop("mfa_pending", None)
        flash("Log in again: the verification step timed out.", "info")
        return redirect(url_for("accounts.login"))
    form = MfaChallengeForm()
    status = 200
    if form.validate_on_submit():
        method = mfa.verify_login(user, form.code.data)
        if method is not None:
            audit.record("auth.mfa_verified", user, actor=user, method=method)
            target = pending.get("next")
            sign_in(user)
            db.session.commit()
            if method == "recovery":
                flash(
                    f"You used a recovery code; {mfa.recovery_codes_left(user)} are left. "
                    "Make new ones on your account page if you are running low.",
                    "warning",
                )
            return redirect(target or url_for("main.dashboard"))
        failures = int(pending.get("failures", 0)) + 1
        audit.record("auth.mfa_failed", user, failures=failures)
        db.session.commit()
        if failures >= MFA_MAX_FAILURES:
            session.pop("mfa_pending", None)
            flash("Too many wrong codes. Log in again with your password.", "error")
            return redirect(url_for("accounts.login"))
        session["mfa_pending"] = {**pending, "failures": failures}
        form.code.errors = [*form.code.errors, "That code is not right, or was already used."]
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("accounts/mfa_challenge.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    services.record_logout(current_user_obj())
    sessions.end(sessions.current_id(), "logout")
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
            # The token rotated, which ended every session: open a new one for this browser.
            sign_in(user)
            db.session.commit()
            flash("Your password has been changed. Other sessions have been logged out.", "success")
            return redirect(url_for("accounts.profile"))
    return _profile_page(form, password_form)


def _profile_page(form: ProfileForm, password_form: ChangePasswordForm) -> Any:
    status = 422 if (form.errors or password_form.errors) else 200
    user = current_user_obj()
    return render_template(
        "accounts/profile.html",
        form=form,
        password_form=password_form,
        open_sessions=sessions.open_sessions(user),
        this_session=sessions.current_id(),
        recovery_left=mfa.recovery_codes_left(user) if user.mfa_enabled else 0,
    ), status


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions() -> Any:
    user = current_user_obj()
    ended = sessions.end_all(user, "ended by the user", keep=sessions.current_id())
    audit.record("auth.sessions_ended", user, actor=user, count=ended)
    db.session.commit()
    flash(f"Logged out {ended} other {'session' if ended == 1 else 'sessions'}.", "success")
    return redirect(url_for("accounts.profile"))


@bp.route("/session/keepalive", methods=["POST"])
@login_required
def keepalive() -> Any:
    """The idle warning's "Stay logged in" button: counts as activity."""
    return {"idle_seconds": int(sessions.idle_limit().total_seconds())}


# --- two-step verification ------------------------------------------------------------------


@bp.route("/account/two-step", methods=["GET", "POST"])
@login_required
def mfa_setup() -> Any:
    """Status, and set-up: scan the QR code, then confirm with a code from the app."""
    user = current_user_obj()
    if user.mfa_enabled:
        return render_template(
            "accounts/mfa_status.html",
            user=user,
            confirm_form=MfaConfirmForm(),
            recovery_left=mfa.recovery_codes_left(user),
        )
    secret = session.get("mfa_setup_secret") or mfa.new_secret()
    session["mfa_setup_secret"] = secret
    form = MfaEnableForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa.enable(user, secret, form.code.data)
        except mfa.MfaError as error:
            db.session.rollback()
            form.code.errors = [*form.code.errors, error.message]
            status = 422
        else:
            session.pop("mfa_setup_secret", None)
            db.session.commit()
            return render_template("accounts/mfa_recovery_codes.html", codes=codes, first=True)
    elif request.method == "POST":
        status = 422
    uri = mfa.provisioning_uri(user, secret)
    return render_template(
        "accounts/mfa_setup.html", form=form, secret=secret, qr=mfa.qr_svg(uri)
    ), status


def _reauthenticated(user: User, form: MfaConfirmForm) -> bool:
    """Password and a current code, checked before any change to two-step verification."""
    if not form.validate_on_submit():
        return False
    ok = verify_password(user.password_hash, form.password.data) and mfa.check_totp(
        user, form.code.data
    )
    if not ok:
        audit.record("auth.reauthentication_failed", user, actor=user)
        db.session.commit()
        flash("The password or the code is not right; nothing changed.", "error")
    return ok


@bp.route("/account/two-step/recovery-codes", methods=["POST"])
@login_required
@limiter.limit(_mfa_limit)
def mfa_new_codes() -> Any:
    user = current_user_obj()
    form = MfaConfirmForm()
    if not user.mfa_enabled or not _reauthenticated(user, form):
        return redirect(url_for("accounts.mfa_setup"))
    codes = mfa.new_recovery_codes(user)
    audit.record("auth.mfa_recovery_codes_renewed", user, actor=user)
    db.session.commit()
    return render_template("accounts/mfa_recovery_codes.html", codes=codes, first=False)


@bp.route("/account/two-step/disable", methods=["POST"])
@login_required
@limiter.limit(_mfa_limit)
def mfa_disable() -> Any:
    user = current_user_obj()
    if user.is_staff:
        flash("Two-step verification is required for staff accounts.", "error")
        return redirect(url_for("accounts.mfa_setup"))
    form = MfaConfirmForm()
    if not user.mfa_enabled or not _reauthenticated(user, form):
        return redirect(url_for("accounts.mfa_setup"))
    mfa.disable(user, user, "turned off by the user")
    db.session.commit()
    flash("Two-step verification is off.", "success")
    return redirect(url_for("accounts.mfa_setup"))


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
            sign_in(user)
            db.session.commit()
            flash(f"Welcome, {user.full_name}. Your {user.role.value} account is ready.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template(
        "accounts/accept_invitation.html", form=form, invitation=invitation
    ), 200 if not form.errors else 422
