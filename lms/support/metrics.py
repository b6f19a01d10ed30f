"""Support metrics for clinicians and admins: volume, time to first response, targets.

Figures are computed from the requests filed in the chosen date range (dates on the
viewer's clock). Charts are drawn on the server as inline SVG; every chart has a data
table beside it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from lms.extensions import db
from lms.support.models import ACTIVE_STATUSES, Category, Status, SupportRequest, Urgency
from lms.support.timing import duration
from lms.timezones import viewer_zone

DEFAULT_WEEKS = 8
MAX_DAYS = 366


def nearest_rank(count: int, share: float) -> int:
    """The 1-based rank of the ``share`` percentile (0..1) among ``count`` values, by the
    nearest-rank method, in exact arithmetic (``0.9 * 70`` is 63.000…01 in floating point,
    whose ceiling would be 64)."""
    return max(1, math.ceil(Fraction(share).limit_denominator(1000) * count))


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    return sorted(values)[nearest_rank(len(values), share) - 1]


class elapsed(FunctionElement[Any]):  # noqa: N801 - used like SQLAlchemy's func.*
    """SQL: the time from ``start`` to ``end``, as a value that sorts like it (an interval
    on PostgreSQL; days as a number on SQLite, precise to about 50 µs)."""

    inherit_cache = True


@compiles(elapsed)
def _elapsed(element: elapsed, compiler: Any, **kw: Any) -> str:
    end, start = list(element.clauses)
    return f"({compiler.process(end, **kw)} - {compiler.process(start, **kw)})"


@compiles(elapsed, "sqlite")
def _elapsed_sqlite(element: elapsed, compiler: Any, **kw: Any) -> str:
    end, start = list(element.clauses)
    end_sql, start_sql = compiler.process(end, **kw), compiler.process(start, **kw)
    return f"(julianday({end_sql}) - julianday({start_sql}))"


@dataclass
class ResponseStats:
    label: str
    filed: int = 0
    responded: int = 0
    met: int = 0
    missed: int = 0  # answered late, or still unanswered past the target
    # Minutes to the first response: the median and the 90th percentile (nearest rank).
    median: float | None = None
    p90: float | None = None

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

    # The figures are counted by the database (a year holds tens of thousands of
    # requests; reading them all took 200 ms for eight weeks at the seeded scale): the
    # requests of each week, urgency and category with their responses, and, for the
    # percentiles, only the few requests at the ranks they need.
    overall = ResponseStats("All urgencies")
    per_urgency = {u: ResponseStats(u.label) for u in Urgency}
    categories: Counter[Category] = Counter()
    first_monday = start - timedelta(days=start.weekday())
    weeks: dict[date, WeekRow] = {}
    monday = first_monday
    while monday <= end:
        weeks[monday] = WeekRow(monday, {u: 0 for u in Urgency})
        monday += timedelta(days=7)
    mondays = list(weeks)
    in_range = (SupportRequest.filed_at >= since, SupportRequest.filed_at < until)

    for week, urgency, category, filed, responded, met, missed in db.session.execute(
        _counts_statement(mondays, zone, now, in_range)
    ):
        row = weeks[mondays[week]]
        row.counts[urgency] += filed
        row.categories[category] += filed
        categories[category] += filed
        for stats in (overall, per_urgency[urgency]):
            stats.filed += filed
            stats.responded += responded
            stats.met += met or 0
            stats.missed += missed or 0

    # The ranks are those of the answered requests the second statement saw: a response
    # written between the two statements changes its count, not the ranks it returned.
    at_rank: dict[tuple[Urgency | None, int], float] = {}
    answered: dict[Urgency | None, int] = {}
    for urgency, filed_at, first_response_at, rank, n, rank_all, n_all in db.session.execute(
        _ranks_statement(in_range)
    ):
        minutes = (first_response_at - filed_at).total_seconds() / 60
        at_rank[(urgency, rank)] = minutes
        at_rank[(None, rank_all)] = minutes
        answered[urgency], answered[None] = n, n_all
    for key, stats in ((None, overall), *per_urgency.items()):
        n = answered.get(key, 0)
        if n:
            low, high = at_rank[(key, (n + 1) // 2)], at_rank[(key, (n + 2) // 2)]
            stats.median = low if n % 2 else (low + high) / 2
            stats.p90 = at_rank[(key, nearest_rank(n, 0.9))]

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
        total=overall.filed,
    )
    _draw_weeks(report)
    report.category_max = max([n for _c, n in report.categories] + [1])
    return report


def _counts_statement(
    mondays: list[date], zone: Any, now: datetime, in_range: tuple[Any, ...]
) -> Select[Any]:
    """Requests filed in the range by week (its index in ``mondays``: the weeks start on
    the viewer's Mondays at midnight), urgency and category: how many, how many answered,
    answered within the target, and missed (answered late, or unanswered past the target
    while still waiting or closed by the therapist)."""
    starts = [datetime.combine(m, time.min, zone) for m in mondays[1:]]
    week = (
        case(*((SupportRequest.filed_at < s, i) for i, s in enumerate(starts)), else_=len(starts))
        if starts
        else literal(0)
    ).label("week")
    responded = SupportRequest.first_response_at.is_not(None)
    met = case((SupportRequest.first_response_at <= SupportRequest.due_at, 1), else_=0)
    missed = case(
        (responded & (SupportRequest.first_response_at > SupportRequest.due_at), 1),
        (
            SupportRequest.first_response_at.is_(None)
            & (SupportRequest.due_at <= now)
            & SupportRequest.status.in_([*ACTIVE_STATUSES, Status.CLOSED]),
            1,
        ),
        else_=0,
    )
    return (
        select(
            week,
            SupportRequest.urgency,
            SupportRequest.category,
            func.count(),
            func.count(SupportRequest.first_response_at),
            func.sum(met),
            func.sum(missed),
        )
        .where(*in_range)
        .group_by(week, SupportRequest.urgency, SupportRequest.category)
    )


def _ranks_statement(in_range: tuple[Any, ...]) -> Select[Any]:
    """The answered requests that the median and the 90th percentile of the time to the
    first response need, per urgency and over all: each with its rank by that time within
    its urgency and over all (a request is returned when either rank is wanted).

    The requests are sorted once, by that time, and every window below reads that one
    order (a year: 44,000 requests; a second sort by urgency took a third of the statement).
    A request's rank within its urgency is the running count of its urgency up to it; the
    totals are counted over the whole order (``rows=(None, None)``: from the first row to
    the last), which on SQLite keeps them in the same pass as well."""
    took = elapsed(SupportRequest.first_response_at, SupportRequest.filed_at)
    order = (took, SupportRequest.id)  # unique: a running count stops at the row itself
    everything = (None, None)

    def of_its_urgency(rows: Any = None) -> Any:
        """Each request's count of the requests of its own urgency, in ``order`` up to
        itself (``rows`` None: the default frame) or within ``rows``."""
        counts = {
            urgency: func.sum(case((SupportRequest.urgency == urgency, 1), else_=0)).over(
                order_by=order, rows=rows
            )
            for urgency in Urgency
        }
        return case(*((SupportRequest.urgency == u, count) for u, count in counts.items()))

    ranked = (
        select(
            SupportRequest.urgency,
            SupportRequest.filed_at,
            SupportRequest.first_response_at,
            of_its_urgency().label("rank"),
            of_its_urgency(everything).label("n"),
            func.row_number().over(order_by=order).label("rank_all"),
            func.count().over(order_by=order, rows=everything).label("n_all"),
        )
        .where(*in_range, SupportRequest.first_response_at.is_not(None))
        .subquery()
    )

    def wanted(rank: Any, n: Any) -> Any:
        # The median's one or two middle ranks, and the 90th percentile's nearest rank
        # (ceil(9n/10) in integers, as nearest_rank computes it).
        return or_(rank == (n + 1) // 2, rank == (n + 2) // 2, rank == (9 * n + 9) // 10)

    return select(
        ranked.c.urgency,
        ranked.c.filed_at,
        ranked.c.first_response_at,
        ranked.c.rank,
        ranked.c.n,
        ranked.c.rank_all,
        ranked.c.n_all,
    ).where(or_(wanted(ranked.c.rank, ranked.c.n), wanted(ranked.c.rank_all, ranked.c.n_all)))


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
