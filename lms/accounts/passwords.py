"""Password policy and hashing.

Policy (NIST SP 800-63B style): at least 12 characters, long passphrases
welcome (up to 1024), no composition rules, and the most common passwords
refused. Hashing is scrypt through Werkzeug.
"""

from __future__ import annotations

import functools

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 1024


@functools.cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from real breaches.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str = "", full_name: str = "") -> str | None:
    """Why ``password`` is not acceptable, or None when it is."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters; a few unrelated words work well."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in _common_passwords() or _is_common_with_padding(lowered) or _is_run(lowered):
        return "This password is one of the most commonly used and easy to guess. Choose another."
    if len(set(password)) < 4:
        return "This password repeats too few characters to be safe. Choose another."
    local = email.split("@", 1)[0].lower()
    if (len(local) >= 4 and lowered == local) or (email and lowered == email.lower()):
        return "Do not use your e-mail address as your password."
    if full_name and lowered.replace(" ", "") == full_name.lower().replace(" ", ""):
        return "Do not use your name as your password."
    return None


def _is_common_with_padding(lowered: str) -> bool:
    """'password1234' or 'qwertyqwerty': a common password stretched to the length rule."""
    common = _common_passwords()
    stripped = lowered.rstrip("0123456789!@#$%^&*.?")
    if stripped != lowered and stripped in common and len(stripped) >= 4:
        return True
    for size in (2, 3, 4, 6):
        if len(lowered) % size == 0:
            piece = lowered[: len(lowered) // size]
            if piece * size == lowered and (piece in common or len(set(piece)) < 3):
                return True
    return False


_RUNS = ("01234567890123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


def _is_run(lowered: str) -> bool:
    """'123456789012', 'abcdefghijkl', 'qwertyuiopas' and their reverses."""
    for run in _RUNS:
        doubled = run * 3
        if lowered in doubled or lowered[::-1] in doubled:
            return True
    return False


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# A hash to compare against when the e-mail is unknown, so that the response
# time does not reveal whether an account exists.
@functools.cache
def dummy_hash() -> str:
    return hash_password("not-a-real-password-for-timing")
