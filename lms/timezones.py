"""Time zones: the choices offered to users and display in the viewer's zone."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime

from flask_login import current_user

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


def viewer_zone() -> zoneinfo.ZoneInfo:
    name = "UTC"
    if current_user and current_user.is_authenticated:
        name = current_user.timezone or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def localtime(value: datetime | None, fmt: str = "%b %-d, %Y %-I:%M %p") -> str:
    """Format ``value`` in the viewer's time zone with the zone named (e.g. 'EST')."""
    if value is None:
        return "—"
    local = value.astimezone(viewer_zone())
    return f"{local.strftime(fmt)} {local.tzname()}"


def localdate(value: datetime | None) -> str:
    return localtime(value, "%b %-d, %Y").rsplit(" ", 1)[0] if value else "—"
