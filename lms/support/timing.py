"""Response targets, due times and the "time left" labels: calendar time, computed in UTC.

A target is a span of real elapsed time. ``due_at = filed_at + target`` is computed on
UTC instants, so a daylight-saving change between filing and due time changes how the
due time reads on a local clock, never how many minutes the clinicians have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from lms.support.models import ACTIVE_STATUSES, SupportRequest, Urgency
from lms.timezones import zone_named

DEFAULT_TARGET_MINUTES: dict[str, int] = {"urgent": 15, "high": 120, "routine": 24 * 60}
DEFAULT_REPEAT_MINUTES = 10


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def target_minutes(urgency: Urgency | str) -> int:
    """The first-response target for ``urgency``, from the settings or the default.

    ``SUPPORT_TARGET_MINUTES`` (a mapping urgency -> minutes) wins over the single keys
    ``SUPPORT_TARGET_URGENT_MINUTES``, ``..._HIGH_...`` and ``..._ROUTINE_...``.
    """
    key = Urgency(urgency).value
    config = current_app.config
    mapping = config.get("SUPPORT_TARGET_MINUTES")
    if isinstance(mapping, Mapping) and mapping.get(key) is not None:
        return _positive_int(mapping[key], DEFAULT_TARGET_MINUTES[key])
    return _positive_int(
        config.get(f"SUPPORT_TARGET_{key.upper()}_MINUTES"), DEFAULT_TARGET_MINUTES[key]
    )


def all_targets() -> dict[Urgency, int]:
    return {u: target_minutes(u) for u in Urgency}


def repeat_minutes() -> int:
    """How often an overdue request is escalated again (``SUPPORT_ESCALATION_REPEAT_MINUTES``)."""
    return _positive_int(
        current_app.config.get("SUPPORT_ESCALATION_REPEAT_MINUTES"), DEFAULT_REPEAT_MINUTES
    )


def escalation_contacts() -> list[str]:
    """E-mail addresses of the escalation contacts; empty means every admin."""
    raw = current_app.config.get("SUPPORT_ESCALATION_CONTACTS") or []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return list(dict.fromkeys(str(i).strip().lower() for i in items if str(i).strip()))


def due_time(filed_at: datetime, minutes: int) -> datetime:
    """The first-response deadline: ``minutes`` of real time after filing."""
    if filed_at.tzinfo is None:
        raise ValueError("filed_at must be timezone-aware")
    return filed_at.astimezone(UTC) + timedelta(minutes=minutes)


def half_time(request: SupportRequest) -> datetime:
    return request.filed_at + timedelta(minutes=request.target_minutes / 2)


def in_zone(value: datetime, zone: str | None, fmt: str = "%b %-d, %Y %-I:%M %p") -> str:
    """``value`` on the clock of ``zone`` (a user's time zone), with the zone's abbreviation."""
    local = value.astimezone(zone_named(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


def duration(seconds: float) -> str:
    """A short human duration: '45 s' is never shown; '< 1 min', '7 min', '1 h 5 min', '2 d 3 h'."""
    minutes = math.floor(abs(seconds) / 60)
    if minutes < 1:
        return "< 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def target_label(minutes: int) -> str:
    """A target in words: '15 minutes', '2 hours', '24 hours', '1 h 30 min'."""
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return duration(minutes * 60)


@dataclass(frozen=True)
class Timing:
    """How a request stands against its target, for the queue and the pages."""

    label: str
    tone: str  # ok, warn, bad, muted
    overdue: bool


def timing(request: SupportRequest, now: datetime) -> Timing:
    if request.first_response_at is not None:
        took = duration((request.first_response_at - request.filed_at).total_seconds())
        if request.first_response_at <= request.due_at:
            return Timing(f"Responded in {took}", "ok", False)
        late = duration((request.first_response_at - request.due_at).total_seconds())
        return Timing(f"Responded in {took} ({late} late)", "warn", False)
    if request.status not in ACTIVE_STATUSES:
        return Timing("No response", "muted", False)
    left = (request.due_at - now).total_seconds()
    if left <= 0:
        return Timing(f"Overdue by {duration(left)}", "bad", True)
    tone = "ok" if left > request.target_minutes * 30 else "warn"
    return Timing(f"{duration(left)} left", tone, False)
