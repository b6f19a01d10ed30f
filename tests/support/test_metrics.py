"""Metrics: volume, median and 90th-percentile time to first response, share within target."""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lms.db import utcnow
from lms.extensions import db
from lms.support import metrics, services
from lms.support.metrics import nearest_rank, percentile
from lms.support.models import ACTIVE_STATUSES, Category, Status, SupportRequest, Urgency
from tests.perf.test_query_plans import captured, postgresql_plan


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 0.5) == 5.0
    assert percentile([10.0, 1.0, 3.0], 1.0) == 10.0


def test_metrics_page_numbers_and_charts(
    client, make_certified, make_request, make_user, login
) -> None:
    therapist = make_certified()
    clinician = make_user("clinician")
    now = utcnow()
    # Urgent (15 min target) answered after 5, 10, 20 and 40 minutes; one still unanswered
    # and overdue; one high answered after 30 minutes; one routine unanswered, not yet due.
    base = now - timedelta(days=3)
    for minutes in (5, 10, 20, 40):
        request = make_request(therapist, now=base, urgency="urgent")
        services.reply(request, clinician, "ok", now=base + timedelta(minutes=minutes))
        services.resolve(request, clinician, now=base + timedelta(minutes=minutes + 1))
    make_request(therapist, now=now - timedelta(hours=1), urgency="urgent", category="medication")
    high = make_request(therapist, now=base, urgency="high", category="eligibility")
    services.reply(high, clinician, "ok", now=base + timedelta(minutes=30))
    services.resolve(high, clinician, now=base + timedelta(minutes=31))
    make_request(therapist, now=now - timedelta(hours=1), urgency="routine", category="other")
    old = make_request(therapist, now=now - timedelta(days=200), urgency="routine")
    db.session.commit()
    login(clinician)
    response = client.get("/clinical/support/metrics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    def row(label: str) -> list[str]:
        match = re.search(rf'data-label="Urgency">{label}</th>(.*?)</tr>', html, re.S)
        assert match, label
        cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
        return [" ".join(re.sub(r"<.*?>", "", c).split()) for c in cells]

    # filed, answered, median, p90, within target
    assert row("Urgent") == ["5", "4", "15 min", "40 min", "40% (2 of 5)"]
    assert row("High") == ["1", "1", "30 min", "30 min", "100% (1 of 1)"]
    assert row("Routine") == ["1", "0", "—", "—", "—"]
    assert row("All urgencies")[:2] == ["7", "5"]
    # Now: the unanswered urgent and routine requests, and the old routine one, are open;
    # the urgent one and the old one are past their targets.
    assert "<dt>Open</dt><dd>3</dd>" in html
    assert "<dt>Unclaimed</dt><dd>3</dd>" in html
    assert "<dt>Overdue (no response past the target)</dt><dd>2</dd>" in html
    assert html.count('role="img"') == 3 and html.count("<title id=") == 3
    assert 'class="chart-urgent"' in html and "<rect" in html
    assert "Medication question" in html
    # Category over time: the medication question falls in this week's row.
    assert html.count('<td data-label="Medication question">1</td>') == 1
    assert html.count('<td data-label="Patient eligibility">1</td>') == 1
    # The date range moves the window: the old request is counted only when included.
    start = (now - timedelta(days=210)).date().isoformat()
    end = (now - timedelta(days=190)).date().isoformat()
    old_range = client.get(f"/clinical/support/metrics?start={start}&end={end}")
    assert old_range.status_code == 200
    assert "<dt>Filed in the range</dt><dd>1</dd>" in old_range.get_data(as_text=True)
    assert old.id
    bad = client.get(f"/clinical/support/metrics?start={end}&end={start}")
    assert bad.status_code == 422
    assert "The end date is before the start date." in bad.get_data(as_text=True)


def _expected(rows: list[SupportRequest], start: date, end: date, now: datetime, zone: Any):
    """The figures counted request by request in Python (how the page computed them
    before the database did): weeks, categories, and per urgency filed, answered, met,
    missed, median and 90th percentile."""
    since = datetime.combine(start, time.min, zone)
    until = datetime.combine(end + timedelta(days=1), time.min, zone)
    weeks: dict[date, Counter[Any]] = {}
    stats: dict[Any, dict[str, Any]] = {
        k: {"filed": 0, "responded": 0, "met": 0, "missed": 0, "minutes": []}
        for k in (None, *Urgency)
    }
    for r in rows:
        if not since <= r.filed_at < until:
            continue
        day = r.filed_at.astimezone(zone).date()
        weeks.setdefault(day - timedelta(days=day.weekday()), Counter()).update(
            [r.urgency, r.category]
        )
        for key in (None, r.urgency):
            s = stats[key]
            s["filed"] += 1
            if r.first_response_at is not None:
                s["responded"] += 1
                s["minutes"].append((r.first_response_at - r.filed_at).total_seconds() / 60)
                s["met" if r.first_response_at <= r.due_at else "missed"] += 1
            elif r.due_at <= now and r.status in (*ACTIVE_STATUSES, Status.CLOSED):
                s["missed"] += 1
    for s in stats.values():
        values = s.pop("minutes")
        s["median"] = statistics.median(values) if values else None
        s["p90"] = percentile(values, 0.9)
    return weeks, stats


@pytest.mark.parametrize("zone_name", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_the_database_counts_what_python_counted(
    app, make_certified, make_user, monkeypatch, zone_name
) -> None:
    """Many requests of every kind across weeks (a change of daylight saving time among
    them), answered at random times, with ties and even and odd counts: the report equals
    the figures counted one request at a time."""
    zone = ZoneInfo(zone_name)
    monkeypatch.setattr(metrics, "viewer_zone", lambda: zone)
    therapist = make_certified()
    clinician = make_user("clinician")
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    rng = random.Random(7)
    rows = []
    for i in range(220):
        filed = now - timedelta(minutes=rng.randrange(0, 80 * 24 * 60))
        urgency = rng.choice(list(Urgency))
        target = {"urgent": 15, "high": 120, "routine": 1440}[urgency.value]
        status = rng.choice(list(Status))
        answered = status != Status.OPEN and rng.random() < 0.8
        took = rng.choice([5, 15, 15, 30, 90, 600, 2000]) if i % 3 else rng.randrange(1, 3000)
        rows.append(
            SupportRequest(
                therapist_id=therapist.id,
                category=rng.choice(list(Category)),
                urgency=urgency,
                subject=f"Question {i}",
                description="A question about a patient.",
                callback_phone="303-555-0100",
                status=status,
                claimed_by_id=None if status in (Status.OPEN, Status.CLOSED) else clinician.id,
                target_minutes=target,
                filed_at=filed,
                due_at=filed + timedelta(minutes=target),
                first_response_at=filed + timedelta(minutes=took, seconds=i % 7)
                if answered
                else None,
                updated_at=filed,
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    for start, end in (
        (date(2026, 9, 26), date(2026, 11, 20)),  # the default eight weeks
        (date(2026, 10, 29), date(2026, 11, 6)),  # across the end of daylight saving time
        (date(2025, 11, 20), date(2026, 11, 20)),  # a year: every request
        (date(2026, 11, 20), date(2026, 11, 20)),  # one day
    ):
        report = metrics.build(start, end, now)
        weeks, stats = _expected(rows, start, end, now, zone)
        got_weeks = {
            w.start: Counter({**w.counts, **w.categories}) for w in report.weeks if w.total
        }
        assert got_weeks == {k: +v for k, v in weeks.items()}, (start, end)
        assert report.total == stats[None]["filed"]
        for key, got in ((None, report.overall), *zip(Urgency, report.by_urgency, strict=True)):
            want = stats[key]
            assert (got.filed, got.responded, got.met, got.missed) == (
                want["filed"],
                want["responded"],
                want["met"],
                want["missed"],
            ), (start, end, key)
            assert got.median == pytest.approx(want["median"]), (start, end, key)
            assert got.p90 == pytest.approx(want["p90"]), (start, end, key)
        assert sum(n for _c, n in report.categories) == stats[None]["filed"]
    assert report.overall.filed > 0 and stats[None]["median"] is not None


def test_nearest_rank_is_exact() -> None:
    # 0.9 × 70 is 63.000…01 in floating point: its ceiling would be 64.
    assert nearest_rank(70, 0.9) == 63
    assert [nearest_rank(n, 0.9) for n in (1, 2, 9, 10, 11, 100)] == [1, 2, 9, 9, 10, 90]
    assert nearest_rank(4, 0.5) == 2 and nearest_rank(5, 0.5) == 3


def test_a_response_between_the_two_statements_breaks_nothing(
    app, make_certified, make_request, make_user, monkeypatch
) -> None:
    """The counts and the ranks are two statements: a request answered between them (a
    clinician at work while someone reads the metrics) changes the ranks' count, and the
    median and percentile are taken from the ranks' own count, not the first's."""
    therapist, clinician = make_certified(), make_user("clinician")
    now = utcnow()
    base = now - timedelta(days=2)
    for minutes in (10, 20, 30, 40):
        request = make_request(therapist, now=base, urgency="urgent")
        services.reply(request, clinician, "ok", now=base + timedelta(minutes=minutes))
    late = make_request(therapist, now=base, urgency="urgent")
    db.session.commit()
    ranks = metrics._ranks_statement

    def answered_meanwhile(in_range: Any) -> Any:
        services.reply(late, clinician, "ok", now=base + timedelta(minutes=50))
        db.session.flush()
        return ranks(in_range)

    monkeypatch.setattr(metrics, "_ranks_statement", answered_meanwhile)
    report = metrics.build(None, None, now)
    urgent = report.by_urgency[0]
    assert urgent.responded == 4  # counted before the response
    assert urgent.median == 30 and urgent.p90 == 50  # ranked with it: 10, 20, 30, 40, 50


def _sorts(statement: str, parameters: Any) -> list[str]:
    """The sorts the database would do for ``statement``: PostgreSQL's Sort nodes, SQLite's
    temporary B-trees."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        found: list[str] = []

        def walk(node: dict[str, Any]) -> None:
            if "Sort Key" in node:
                found.append(", ".join(node["Sort Key"]))
            for child in node.get("Plans", []):
                walk(child)

        walk(postgresql_plan(statement, parameters))
        return found
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [str(row[-1]) for row in rows if "TEMP B-TREE" in str(row[-1])]


def test_the_ranks_sort_the_answered_requests_once(
    app, make_certified, make_request, make_user
) -> None:
    """A year holds tens of thousands of answered requests: the ranks within each urgency
    come from the same order as the ranks over all (one sort), not from a second sort by
    urgency."""
    therapist, clinician = make_certified(), make_user("clinician")
    now = utcnow()
    for urgency, minutes in (("urgent", 10), ("high", 20), ("routine", 30)):
        request = make_request(therapist, now=now - timedelta(days=1), urgency=urgency)
        services.reply(request, clinician, "ok", now=now - timedelta(days=1, minutes=-minutes))
    db.session.commit()
    with captured(app) as sent:
        report = metrics.build(None, None, now)
    assert report.overall.median == 20  # the statement below is the one the report used
    ranks = [(s, p) for s, p in sent if "row_number() OVER" in s]
    assert len(ranks) == 1
    assert len(_sorts(*ranks[0])) == 1, _sorts(*ranks[0])
