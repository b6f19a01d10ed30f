"""Time zones: the choices offered to users and display in the viewer's zone."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime

from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context

# Where the network's therapists and clinicians are: offered first.
COMMON_ZONES = [
    ("America/New_York", "Eastern Time (US)"),
    ("America/Chicago", "Central Time (US)"),
    ("America/Denver", "Mountain Time (US)"),
    ("America/Phoenix", "Arizona (no daylight saving)"),
    ("America/Los_Angeles", "Pacific Time (US)"),
    ("America/Anchorage", "Alaska"),
    ("Pacific/Honolulu", "Hawaii"),
    ("America/Puerto_Rico", "Atlantic Time (Puerto Rico)"),
    ("UTC", "UTC"),
]


@functools.cache
def all_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid_zone(name: str) -> bool:
    return name in all_zones() or name == "UTC"


@functools.cache
def zone_pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(common zones, every other zone) as (value, label) pairs."""
    common = {name for name, _ in COMMON_ZONES}
    rest = sorted(
        z for z in all_zones() if z not in common and "/" in z and not z.startswith("Etc/")
    )
    return COMMON_ZONES, [(z, z.replace("_", " ")) for z in rest]


DEFAULT_FORMAT = "%b %-d, %Y %-I:%M %p"


def zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of that name; UTC for none or an unknown one."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def viewer_zone() -> zoneinfo.ZoneInfo:
    name = "UTC"
    if current_user and current_user.is_authenticated:
        name = current_user.timezone or "UTC"
    return zone_named(name)


def localtime(
    value: datetime | None, fmt: str = DEFAULT_FORMAT, zone: zoneinfo.ZoneInfo | None = None
) -> str:
    """Format ``value`` in ``zone`` (default: the viewer's) with the zone named (e.g. 'EST')."""
    if value is None:
        return "—"
    local = value.astimezone(zone or viewer_zone())
    return f"{local.strftime(fmt)} {local.tzname()}"


def localdate(value: datetime | None, zone: zoneinfo.ZoneInfo | None = None) -> str:
    return localtime(value, "%b %-d, %Y", zone).rsplit(" ", 1)[0] if value else "—"


# The template filters. A page formats dozens of times (the clinicians' queue about forty);
# the viewer is already in the template's context (Flask-Login's ``current_user``, the user
# object itself), so the filters read the zone from there instead of asking the request-bound
# ``current_user`` proxy three times a value. Outside a page (e-mails rendered by a job) there
# is no such variable, and the zone is found as before.


def _context_zone(context: Context) -> zoneinfo.ZoneInfo:
    user = context.get("current_user")
    if user is None:
        return viewer_zone()
    return zone_named(getattr(user, "timezone", None) if user.is_authenticated else None)


@pass_context
def localtime_filter(context: Context, value: datetime | None, fmt: str = DEFAULT_FORMAT) -> str:
    return localtime(value, fmt, _context_zone(context)) if value is not None else "—"


@pass_context
def localdate_filter(context: Context, value: datetime | None) -> str:
    return localdate(value, _context_zone(context)) if value is not None else "—"
