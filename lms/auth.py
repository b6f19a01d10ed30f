"""Authorization: deny by default, a coarse decorator per route, per-object loaders.

Every endpoint needs a logged-in user unless its view is marked :func:`public`.
The check runs in ``before_request`` for the whole app, so a route someone
forgets to decorate is closed, not open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user

from lms.accounts.models import Role, User
from lms.extensions import db, login_manager

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")

_PUBLIC_ATTR = "_lms_public"

# What a staff member without two-step verification may still open: the set-up itself.
MFA_SETUP_ENDPOINTS = {
    "accounts.mfa_setup",
    "accounts.logout",
    "accounts.keepalive",
    "accounts.profile",
    "accounts.change_password",
}

SESSION_ENDED_MESSAGES = {
    "idle": "You were logged out after a period without activity. Log in again to continue.",
    "lifetime": "Your session reached its maximum length. Log in again to continue.",
}


def public(view: F) -> F:
    """Mark a view as open to anonymous visitors."""
    setattr(view, _PUBLIC_ATTR, True)
    return view


def is_public_endpoint(app: Flask, endpoint: str | None) -> bool:
    if endpoint is None:
        return True  # no route matched: the 404/405 handler answers
    if endpoint == "static":
        return True
    view = app.view_functions.get(endpoint)
    return bool(view is not None and getattr(view, _PUBLIC_ATTR, False))


def role_required(*roles: Role | str) -> Callable[[F], F]:
    """Allow only users holding one of ``roles`` (403 otherwise)."""
    allowed = {Role(r) for r in roles}

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def staff_required(view: F) -> F:
    return role_required(Role.CLINICIAN, Role.ADMIN)(view)


def admin_required(view: F) -> F:
    return role_required(Role.ADMIN)(view)


def get_or_404(model: type[M], ident: Any, *, allowed: Callable[[M], bool]) -> M:
    """Load ``model`` by primary key, answering 404 when absent or not visible.

    ``allowed`` is the per-object predicate; a hidden object looks exactly like a
    missing one, so ids cannot be probed.
    """
    obj = db.session.get(model, ident)
    if obj is None or not allowed(obj):
        abort(404)
    return obj


def owned_by_current_user(obj: Any) -> bool:
    """The common predicate: the object's ``user_id`` is the current user's."""
    return current_user.is_authenticated and getattr(obj, "user_id", None) == current_user.id


def current_user_obj() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(cookie_value: str) -> User | None:
        # The cookie names one server-side session (see lms.accounts.sessions): log-out,
        # the idle timeout, the absolute lifetime and a rotated user token all end it.
        from lms.accounts import sessions

        return sessions.load(cookie_value)

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        if _wants_json():
            return {"error": "authentication required"}, 401
        ended = getattr(g, "session_ended", None)
        flash(SESSION_ENDED_MESSAGES.get(ended, login_manager.login_message), "info")
        return redirect(url_for("accounts.login", next=_safe_next_path()))

    @app.before_request
    def deny_by_default() -> Any:
        if is_public_endpoint(current_app, request.endpoint):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if (
            current_user.is_staff
            and not current_user.mfa_enabled
            and request.endpoint not in MFA_SETUP_ENDPOINTS
        ):
            # Staff set up two-step verification before any staff page opens.
            if _wants_json():
                return {"error": "two-step verification must be set up first"}, 403
            flash("Set up two-step verification to open the staff pages.", "warning")
            return redirect(url_for("accounts.mfa_setup"))
        return None


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _safe_next_path() -> str | None:
    if request.method != "GET":
        return None
    return request.full_path.rstrip("?") if request.path != "/" else None


def is_safe_redirect(target: str | None) -> bool:
    """Only same-site relative paths are followed after log-in.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so
    "/\t/evil.example" would become "//evil.example": any whitespace, control character
    or backslash is refused outright.
    """
    return (
        bool(target)
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
    )
