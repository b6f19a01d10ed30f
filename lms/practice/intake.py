"""Bot protection for the public intake form, with no third-party service.

Two checks: a honeypot field that people never see (a bot that fills every input fills it
too), and a minimum time between showing the form and sending it, measured with a signed
timestamp in a hidden field (a bot that posts at once, or forges the time, is caught). The
route is rate limited as well (``INTAKE_RATE_LIMIT``).
"""

from __future__ import annotations

import time
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

SALT = "lms.practice.intake-started"


class Verdict(StrEnum):
    OK = "ok"
    BOT = "bot"  # the honeypot is filled: drop quietly
    TOO_FAST = "too_fast"  # sent too soon, or the time is missing or forged: ask again


def min_seconds() -> float:
    return float(current_app.config.get("INTAKE_MIN_SECONDS", 3))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def started_token(now: float | None = None) -> str:
    """The signed time the form is shown at."""
    return str(_serializer().dumps({"t": round(now if now is not None else time.time(), 3)}))


def seconds_since(token: str | None, now: float | None = None) -> float | None:
    """Seconds since the form was shown, or None if the token is missing or forged."""
    if not token:
        return None
    try:
        payload = _serializer().loads(token)
        shown = float(payload["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return (now if now is not None else time.time()) - shown


def verdict(honeypot: str | None, token: str | None, now: float | None = None) -> Verdict:
    if (honeypot or "").strip():
        return Verdict.BOT
    elapsed = seconds_since(token, now)
    if elapsed is None or elapsed < min_seconds():
        return Verdict.TOO_FAST
    return Verdict.OK
