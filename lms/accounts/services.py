"""Account rules: registration, verification, log-in, passwords, invitations, roles.

Plain functions; they add and flush, the caller commits once. E-mails are
queued to go out after that commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from lms import audit
from lms.accounts import sessions, tokens
from lms.accounts.models import STAFF_ROLES, Invitation, Role, User, new_session_token
from lms.accounts.passwords import dummy_hash, hash_password, password_problem, verify_password
from lms.db import utcnow
from lms.extensions import db
from lms.mail import external_url, send_email


class AccountError(Exception):
    """A rule refused the action; ``message`` is safe to show to the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def check_password_policy(password: str, *, email: str = "", full_name: str = "") -> None:
    problem = password_problem(password, email=email, full_name=full_name)
    if problem:
        raise AccountError(problem, field="password")


# --- registration and e-mail verification -------------------------------------------


def register_therapist(full_name: str, email: str, password: str, timezone: str) -> User:
    """Create an unverified therapist account and e-mail the verification link."""
    email = normalise_email(email)
    check_password_policy(password, email=email, full_name=full_name)
    if find_user_by_email(email) is not None:
        raise AccountError(
            "An account with this e-mail address already exists. Log in, or reset your password.",
            field="email",
        )
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        role=Role.THERAPIST,
        timezone=timezone,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("account.registered", user, actor=user)
    send_verification_email(user)
    return user


def send_verification_email(user: User) -> None:
    token = tokens.make_token(user, tokens.VERIFY_EMAIL)
    hours = current_app.config["EMAIL_VERIFICATION_MAX_AGE"] // 3600
    send_email(
        user.email,
        "Confirm your e-mail address",
        "verify_email",
        reason="You (or someone using your address) created an account on the Partner LMS.",
        user=user,
        link=external_url("accounts.verify_email", token=token),
        hours=hours,
    )


def verify_email(token: str) -> User:
    """Mark the account's e-mail verified. Raises TokenError (invalid, expired, used)."""
    user_id, fingerprint = tokens.read_token(
        token, tokens.VERIFY_EMAIL, current_app.config["EMAIL_VERIFICATION_MAX_AGE"]
    )
    user = db.session.get(User, user_id)
    if user is None:
        raise tokens.TokenError("invalid")
    tokens.check_fingerprint(user, tokens.VERIFY_EMAIL, fingerprint)
    user.email_verified_at = utcnow()
    audit.record("account.email_verified", user, actor=user)
    return user


def resend_verification(email: str) -> None:
    """Send a new link if an unverified account has this e-mail; silent otherwise."""
    user = find_user_by_email(email)
    if user is not None and user.is_active and not user.email_verified:
        send_verification_email(user)


# --- log-in --------------------------------------------------------------------------


@dataclass
class LoginResult:
    user: User | None
    problem: str | None = None  # "credentials", "unverified", "inactive"


def authenticate(email: str, password: str) -> LoginResult:
    """Check credentials; audit failures. Account state is only revealed to the password holder."""
    user = find_user_by_email(email)
    if user is None:
        verify_password(dummy_hash(), password)  # same work either way
        audit.record(
            "auth.login_failed",
            object_type="user",
            email=normalise_email(email)[:254],
            reason="unknown e-mail",
        )
        return LoginResult(None, "credentials")
    if not verify_password(user.password_hash, password):
        audit.record("auth.login_failed", user, reason="wrong password")
        return LoginResult(None, "credentials")
    if not user.is_active:
        audit.record("auth.login_failed", user, reason="account deactivated")
        return LoginResult(user, "inactive")
    if not user.email_verified:
        audit.record("auth.login_failed", user, reason="e-mail not verified")
        return LoginResult(user, "unverified")
    user.last_login_at = utcnow()
    audit.record("auth.login", user, actor=user)
    return LoginResult(user)


def record_logout(user: User) -> None:
    audit.record("auth.logout", user, actor=user)


# --- passwords -----------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """E-mail a reset link if an active account has this address. Reveals nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    token = tokens.make_token(user, tokens.RESET_PASSWORD)
    audit.record("auth.password_reset_requested", user, actor=user)
    send_email(
        user.email,
        "Reset your password",
        "reset_password",
        reason="Someone asked to reset the password of your Partner LMS account.",
        user=user,
        link=external_url("accounts.reset_password", token=token),
        minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60,
    )


def user_for_reset_token(token: str) -> User:
    """The user a valid, unused, unexpired reset token belongs to (TokenError otherwise)."""
    user_id, fingerprint = tokens.read_token(
        token, tokens.RESET_PASSWORD, current_app.config["PASSWORD_RESET_MAX_AGE"]
    )
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise tokens.TokenError("invalid")
    tokens.check_fingerprint(user, tokens.RESET_PASSWORD, fingerprint)
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    check_password_policy(new_password, email=user.email, full_name=user.full_name)
    _set_password(user, new_password)
    # The link proved control of the mailbox.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    audit.record("auth.password_reset", user, actor=user)
    send_email(
        user.email,
        "Your password was changed",
        "password_changed",
        reason="The password of your Partner LMS account was changed.",
        user=user,
        link=external_url("accounts.forgot_password"),
    )
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError("Your current password is not correct.", field="current_password")
    check_password_policy(new, email=user.email, full_name=user.full_name)
    _set_password(user, new)
    audit.record("auth.password_changed", user, actor=user)
    send_email(
        user.email,
        "Your password was changed",
        "password_changed",
        reason="The password of your Partner LMS account was changed.",
        user=user,
        link=external_url("accounts.forgot_password"),
    )


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()  # ends every other open session
    sessions.end_all(user, "password changed")


def update_profile(user: User, full_name: str, timezone: str) -> None:
    changes = {}
    if user.full_name != full_name.strip():
        changes["full_name"] = [user.full_name, full_name.strip()]
        user.full_name = full_name.strip()
    if user.timezone != timezone:
        changes["timezone"] = [user.timezone, timezone]
        user.timezone = timezone
    if changes:
        audit.record("account.profile_updated", user, actor=user, changes=changes)


# --- staff invitations ---------------------------------------------------------------


def invite_staff(admin: User, email: str, role: Role) -> Invitation:
    """Create an invitation for a clinician or admin and e-mail its link."""
    email = normalise_email(email)
    if role not in STAFF_ROLES:
        raise AccountError("Invitations are for clinicians and admins only.", field="role")
    if find_user_by_email(email) is not None:
        raise AccountError(
            "An account with this e-mail already exists; change its role on the user's page.",
            field="email",
        )
    now = utcnow()
    for old in db.session.scalars(
        select(Invitation).where(
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now  # one live invitation per address
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=email,
        role=role,
        token_hash=tokens.hash_invitation_token(token),
        invited_by_id=admin.id,
        expires_at=now + timedelta(days=current_app.config["INVITATION_MAX_AGE_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record("staff.invited", invitation, actor=admin, email=email, role=role.value)
    send_email(
        email,
        f"You are invited to join the Partner LMS as {role.label.lower()}",
        "invitation",
        reason=f"{admin.full_name} invited this address to a staff account on the Partner LMS.",
        invitation=invitation,
        inviter=admin,
        link=external_url("accounts.accept_invitation", token=token),
        days=current_app.config["INVITATION_MAX_AGE_DAYS"],
    )
    return invitation


def find_invitation(token: str) -> Invitation:
    """A pending invitation for ``token``; TokenError with the reason otherwise."""
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == tokens.hash_invitation_token(token))
    )
    if invitation is None:
        raise tokens.TokenError("invalid")
    status = invitation.status(utcnow())
    if status == "accepted":
        raise tokens.TokenError("used")
    if status != "pending":
        raise tokens.TokenError(status)
    return invitation


def accept_invitation(token: str, full_name: str, password: str, timezone: str) -> User:
    invitation = find_invitation(token)
    check_password_policy(password, email=invitation.email, full_name=full_name)
    if find_user_by_email(invitation.email) is not None:
        raise AccountError("An account with this e-mail already exists. Log in instead.")
    user = User(
        email=invitation.email,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        role=invitation.role,
        timezone=timezone,
        email_verified_at=utcnow(),  # the link reached this mailbox
        invited_by_id=invitation.invited_by_id,
    )
    db.session.add(user)
    db.session.flush()
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    audit.record("staff.invitation_accepted", user, actor=user, role=user.role.value)
    return user


def revoke_invitation(admin: User, invitation: Invitation) -> None:
    if invitation.status(utcnow()) != "pending":
        raise AccountError("Only pending invitations can be revoked.")
    invitation.revoked_at = utcnow()
    audit.record("staff.invitation_revoked", invitation, actor=admin, email=invitation.email)


# --- administration ------------------------------------------------------------------


def set_active(admin: User, user: User, active: bool, reason: str = "") -> None:
    """Deactivate (ending all sessions) or reactivate an account."""
    if user.id == admin.id and not active:
        raise AccountError("You cannot deactivate your own account.")
    if user.is_active == active:
        return
    if not active and user.role == Role.ADMIN and _active_admin_count() <= 1:
        raise AccountError("This is the last active admin; invite or promote another first.")
    user.is_active = active
    user.deactivated_at = None if active else utcnow()
    user.session_token = new_session_token()
    sessions.end_all(user, "reactivated" if active else "deactivated")
    audit.record(
        "account.reactivated" if active else "account.deactivated",
        user,
        actor=admin,
        reason=reason or None,
    )


def change_role(admin: User, user: User, role: Role) -> None:
    if user.role == role:
        return
    if user.id == admin.id:
        raise AccountError("You cannot change your own role.")
    if user.role == Role.ADMIN and _active_admin_count() <= 1:
        raise AccountError("This is the last active admin; promote another first.")
    old = user.role
    user.role = role
    user.session_token = new_session_token()  # new permissions take effect on a fresh log-in
    sessions.end_all(user, "role changed")
    audit.record("account.role_changed", user, actor=admin, old=old.value, new=role.value)


def _active_admin_count() -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active)
        )
        or 0
    )


def create_admin(email: str, full_name: str, password: str) -> User:
    """For `flask create-admin`: a verified admin account."""
    email = normalise_email(email)
    check_password_policy(password, email=email, full_name=full_name)
    if find_user_by_email(email) is not None:
        raise AccountError(f"{email} already has an account.")
    user = User(
        email=email,
        full_name=full_name,
        password_hash=hash_password(password),
        role=Role.ADMIN,
        email_verified_at=utcnow(),
        timezone="UTC",
    )
    db.session.add(user)
    db.session.flush()
    audit.record("account.admin_created", user, actor=None, via="cli")
    return user
