"""Signed, expiring, single-use tokens for e-mailed links.

Each token is signed with the app's secret key and a purpose-specific salt,
and carries a fingerprint of the state it may change: once that state changes
(e-mail verified, password reset), the same token no longer verifies.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lms.accounts.models import User

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"  # noqa: S105 - a salt name, not a secret


class TokenError(Exception):
    """The link is invalid, already used, or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"lms.{purpose}")


def _fingerprint(user: User, purpose: str) -> str:
    if purpose == VERIFY_EMAIL:
        state = f"{user.email}|{user.email_verified_at is not None}"
    else:
        state = f"{user.email}|{user.password_hash}"
    return hashlib.sha256(state.encode()).hexdigest()[:20]


def make_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"u": user.id, "f": _fingerprint(user, purpose)})


def read_token(token: str, purpose: str, max_age: int) -> tuple[int, str]:
    """Return (user id, fingerprint) of a correctly signed, unexpired token."""
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError("expired") from exc
    except BadSignature as exc:
        raise TokenError("invalid") from exc
    if not isinstance(data, dict) or "u" not in data or "f" not in data:
        raise TokenError("invalid")
    return int(data["u"]), str(data["f"])


def check_fingerprint(user: User, purpose: str, fingerprint: str) -> None:
    if _fingerprint(user, purpose) != fingerprint:
        raise TokenError("used")


def hash_invitation_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
