"""Targets and due times: calendar time in UTC, read on local clocks across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lms.support.models import Urgency
from lms.support.timing import (
    due_time,
    duration,
    escalation_contacts,
    in_zone,
    repeat_minutes,
    target_label,
    target_minutes,
    timing,
)

NY = ZoneInfo("America/New_York")


def test_default_targets(app) -> None:
    with app.app_context():
        assert target_minutes(Urgency.URGENT) == 15
        assert target_minutes("high") == 120
        assert target_minutes(Urgency.ROUTINE) == 24 * 60
        assert repeat_minutes() == 10
        assert escalation_contacts() == []


def test_targets_are_configurable(app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "SUPPORT_TARGET_URGENT_MINUTES", 5)
    monkeypatch.setitem(app.config, "SUPPORT_TARGET_MINUTES", {"high": 60})
    monkeypatch.setitem(app.config, "SUPPORT_ESCALATION_REPEAT_MINUTES", "3")
    monkeypatch.setitem(
        app.config, "SUPPORT_ESCALATION_CONTACTS", " Director@Example.org, ,ops@example.org"
    )
    with app.app_context():
        assert target_minutes("urgent") == 5
        assert target_minutes("high") == 60  # the mapping wins
        assert target_minutes("routine") == 1440
        assert repeat_minutes() == 3
        assert escalation_contacts() == ["director@example.org", "ops@example.org"]
    monkeypatch.setitem(app.config, "SUPPORT_TARGET_URGENT_MINUTES", 0)
    monkeypatch.setitem(app.config, "SUPPORT_ESCALATION_REPEAT_MINUTES", "soon")
    with app.app_context():
        assert target_minutes("urgent") == 15  # nonsense falls back to the default
        assert repeat_minutes() == 10


def test_a_routine_request_across_the_autumn_dst_change() -> None:
    # 01:30 on Nov 1, 2026 happens twice in New York; the first time is EDT (UTC-4).
    filed = datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=0)
    assert filed.utcoffset() == timedelta(hours=-4)
    due = due_time(filed, 24 * 60)
    assert due == datetime(2026, 11, 2, 5, 30, tzinfo=UTC)
    assert due - filed.astimezone(UTC) == timedelta(hours=24)  # real time, not wall time
    assert in_zone(due, "America/New_York") == "Nov 2, 2026 12:30 AM EST"
    assert in_zone(filed.astimezone(UTC), "America/New_York") == "Nov 1, 2026 1:30 AM EDT"


def test_a_high_request_due_in_the_repeated_hour() -> None:
    filed = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)  # 00:30 EDT
    due = due_time(filed, 120)
    assert due == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    # The wall clock shows only one hour later: the second 1:30, in EST.
    assert in_zone(filed, "America/New_York") == "Nov 1, 2026 12:30 AM EDT"
    assert in_zone(due, "America/New_York") == "Nov 1, 2026 1:30 AM EST"


def test_an_urgent_request_across_the_spring_dst_change() -> None:
    filed = datetime(2026, 3, 8, 1, 50, tzinfo=NY)  # EST; at 02:00 clocks jump to 03:00
    due = due_time(filed, 15)
    assert due == datetime(2026, 3, 8, 7, 5, tzinfo=UTC)
    assert in_zone(due, "America/New_York") == "Mar 8, 2026 3:05 AM EDT"
    assert in_zone(due, "America/Phoenix") == "Mar 8, 2026 12:05 AM MST"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_time(datetime(2026, 11, 1, 1, 30), 15)  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30, "< 1 min"),
        (60, "1 min"),
        (59 * 60 + 59, "59 min"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (86400, "1 d"),
        (86400 + 3 * 3600 + 120, "1 d 3 h"),
        (-600, "10 min"),
    ],
)
def test_durations(seconds, text) -> None:
    assert duration(seconds) == text


def test_time_left_and_overdue_labels(app, make_certified, make_request) -> None:
    t0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    request = make_request(make_certified(), now=t0, urgency="high")
    assert timing(request, t0 + timedelta(minutes=20)).label == "1 h 40 min left"
    assert timing(request, t0 + timedelta(minutes=20)).tone == "ok"
    assert timing(request, t0 + timedelta(minutes=61)).tone == "warn"
    late = timing(request, t0 + timedelta(minutes=125))
    assert (late.label, late.tone, late.overdue) == ("Overdue by 5 min", "bad", True)


def test_target_labels() -> None:
    assert [target_label(m) for m in (1, 15, 60, 120, 1440, 90)] == [
        "1 minute",
        "15 minutes",
        "1 hour",
        "2 hours",
        "24 hours",
        "1 h 30 min",
    ]
