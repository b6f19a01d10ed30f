"""Support metrics for clinicians and admins: volume, time to first response, targets.

Figures are computed from the requests filed in the chosen date range (dates on the
viewer's clock). Charts are drawn on the server as inline SVG; every chart has a data
table beside it.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from lms.extensions import db
from lms.support.models import ACTIVE_STATUSES, Category, Status, SupportRequest, Urgency
from lms.support.timing import duration
from lms.timezones import viewer_zone

DEFAULT_WEEKS = 8
MAX_DAYS = 366


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class ResponseStats:
    label: str
    filed: int = 0
    responded: int = 0
    minutes: list[float] = field(default_factory=list)
    met: int = 0
    missed: int = 0  # answered late, or still unanswered past the target

    @property
    def median(self) -> float | None:
        return statistics.median(self.minutes) if self.minutes else None

    @property
    def p90(self) -> float | None:
        return percentile(self.minutes, 0.9)

    @property
    def within_share(self) -> float | None:
        judged = self.met + self.missed
        return self.met / judged if judged else None

    def text(self, value: float | None) -> str:
        return "—" if value is None else duration(value * 60)

    @property
    def within_text(self) -> str:
        share = self.within_share
        return "—" if share is None else f"{round(share * 100)}%"


@dataclass
class WeekRow:
    start: date
    counts: dict[Urgency, int]
    categories: dict[Category, int] = field(default_factory=lambda: {c: 0 for c in Category})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Bar:
    """One rectangle of a chart, in the SVG's user units."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass
class Report:
    start: date
    end: date
    weeks: list[WeekRow]
    categories: list[tuple[Category, int]]
    overall: ResponseStats
    by_urgency: list[ResponseStats]
    open_now: int
    unclaimed_now: int
    overdue_now: int
    total: int
    week_bars: list[Bar] = field(default_factory=list)
    week_labels: list[tuple[float, str]] = field(default_factory=list)
    week_max: int = 0
    category_max: int = 0


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_WEEKS * 7 - 1), today


def build(start: date | None, end: date | None, now: datetime) -> Report:
    zone = viewer_zone()
    today = now.astimezone(zone).date()
    default_start, default_end = default_range(today)
    end = end or default_end
    start = start or (end - (default_end - default_start))
    if (end - start).days > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS)
    since = datetime.combine(start, time.min, zone)
    until = datetime.combine(end + timedelta(days=1), time.min, zone)

    rows = db.session.execute(
        select(
            SupportRequest.filed_at,
            SupportRequest.urgency,
            SupportRequest.category,
            SupportRequest.first_response_at,
            SupportRequest.due_at,
            SupportRequest.status,
        ).where(SupportRequest.filed_at >= since, SupportRequest.filed_at < until)
    ).all()

    overall = ResponseStats("All urgencies")
    per_urgency = {u: ResponseStats(u.label) for u in Urgency}
    categories: Counter[Category] = Counter()
    first_monday = start - timedelta(days=start.weekday())
    weeks: dict[date, WeekRow] = {}
    monday = first_monday
    while monday <= end:
        weeks[monday] = WeekRow(monday, {u: 0 for u in Urgency})
        monday += timedelta(days=7)

    for filed_at, urgency, category, first_response_at, due_at, status in rows:
        local_day = filed_at.astimezone(zone).date()
        week = weeks[local_day - timedelta(days=local_day.weekday())]
        week.counts[urgency] += 1
        week.categories[category] += 1
        categories[category] += 1
        for stats in (overall, per_urgency[urgency]):
            stats.filed += 1
            if first_response_at is not None:
                stats.responded += 1
                stats.minutes.append((first_response_at - filed_at).total_seconds() / 60)
                if first_response_at <= due_at:
                    stats.met += 1
                else:
                    stats.missed += 1
            elif due_at <= now and (status in ACTIVE_STATUSES or status == Status.CLOSED):
                # Unanswered past the target: still waiting, or closed by the therapist.
                stats.missed += 1

    live = db.session.execute(
        select(
            SupportRequest.status, SupportRequest.first_response_at, SupportRequest.due_at
        ).where(SupportRequest.active_condition())
    ).all()
    report = Report(
        start=start,
        end=end,
        weeks=list(weeks.values()),
        categories=[(c, categories[c]) for c in Category],
        overall=overall,
        by_urgency=[per_urgency[u] for u in Urgency],
        open_now=len(live),
        unclaimed_now=sum(1 for s, _f, _d in live if s == Status.OPEN),
        overdue_now=sum(1 for _s, f, d in live if f is None and d <= now),
        total=len(rows),
    )
    _draw_weeks(report)
    report.category_max = max([n for _c, n in report.categories] + [1])
    return report


# Chart geometry: the week chart's SVG is CHART_W x CHART_H user units.
CHART_W, CHART_H = 640.0, 260.0
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM = 40.0, 10.0, 40.0


def _draw_weeks(report: Report) -> None:
    weeks = report.weeks
    report.week_max = max([w.total for w in weeks] + [1])
    plot_h = CHART_H - PLOT_TOP - PLOT_BOTTOM
    slot = (CHART_W - PLOT_LEFT) / max(1, len(weeks))
    width = max(2.0, slot * 0.7)
    every = max(1, math.ceil(len(weeks) / 8))  # at most 8 date labels
    for i, week in enumerate(weeks):
        x = PLOT_LEFT + i * slot + (slot - width) / 2
        y = CHART_H - PLOT_BOTTOM
        for urgency in (Urgency.ROUTINE, Urgency.HIGH, Urgency.URGENT):
            count = week.counts[urgency]
            if not count:
                continue
            h = plot_h * count / report.week_max
            y -= h
            report.week_bars.append(
                Bar(
                    round(x, 1),
                    round(y, 1),
                    round(width, 1),
                    round(h, 1),
                    f"chart-{urgency.value}",
                    f"Week of {week.start:%b %-d}: {count} {urgency.label.lower()}",
                )
            )
        if i % every == 0:
            report.week_labels.append((round(x + width / 2, 1), f"{week.start:%b %-d}"))


def chart_context() -> dict[str, Any]:
    return {
        "chart_w": CHART_W,
        "chart_h": CHART_H,
        "plot_left": PLOT_LEFT,
        "plot_top": PLOT_TOP,
        "plot_bottom": CHART_H - PLOT_BOTTOM,
    }
