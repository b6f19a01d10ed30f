"""The trend chart's geometry: both instruments on one time axis, band thresholds as lines.

Plain numbers for the template to draw as inline SVG (no JavaScript, no library). The
y axis runs 0-27 (the PHQ-9 maximum; GAD-7 tops out at 21); the x axis is time, so
uneven gaps between visits look uneven.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from lms.outcomes import scoring

WIDTH = 560
HEIGHT = 360
LEFT = 48  # room for the y tick labels
RIGHT = 20
TOP = 16
BOTTOM = 44  # room for the date labels
Y_MAX = 27
LABEL_GAP = 125  # chart units between date labels
LABEL_GAP_WITH_YEAR = 190


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    score: scoring.Score
    band: scoring.Band


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(
            f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points)
        )


@dataclass(frozen=True)
class Threshold:
    y: float
    value: int
    label: str


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Chart:
    series: tuple[Series, ...]
    thresholds: tuple[Threshold, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


# Both instruments share the 5/10/15 thresholds; 20 is PHQ-9's alone.
THRESHOLD_LABELS = {
    5: "5 mild",
    10: "10 moderate",
    15: "15 severe (GAD-7), moderately severe (PHQ-9)",
    20: "20 severe (PHQ-9)",
}


def _y(value: float) -> float:
    return TOP + (HEIGHT - BOTTOM - TOP) * (1 - value / Y_MAX)


def _date_label(day: date, with_year: bool) -> str:
    return day.strftime("%b %-d, %Y" if with_year else "%b %-d")


def build(progress: Sequence[scoring.Progress]) -> Chart:
    """The chart for one patient's progress on each instrument."""
    days = sorted({s.day for p in progress for s in p.scores})
    x0, x1 = LEFT + 12, WIDTH - RIGHT - 12
    first, last = (days[0], days[-1]) if days else (None, None)
    span = (last - first).days if first and last else 0

    def x(day: date) -> float:
        if not span or first is None:
            return (x0 + x1) / 2
        return x0 + (x1 - x0) * (day - first).days / span

    series = tuple(
        Series(
            key=p.instrument.key,
            name=p.instrument.name,
            points=tuple(
                Point(x(s.day), _y(s.total), s, scoring.band(p.instrument, s.total))
                for s in p.scores
            ),
        )
        for p in progress
    )
    thresholds = tuple(Threshold(_y(v), v, label) for v, label in THRESHOLD_LABELS.items())
    y_ticks = tuple(Tick(_y(v), str(v)) for v in (0, 5, 10, 15, 20, 27))
    with_year = bool(first and last and first.year != last.year)
    # Date labels: the first and the last, and those between that leave room for the text
    # (the phone stylesheet draws labels at about 24 chart units, "Sep 25" ~ 80 units wide).
    gap = LABEL_GAP_WITH_YEAR if with_year else LABEL_GAP
    shown = days[:1]
    for day in days[1:-1]:
        if x(day) - x(shown[-1]) >= gap and x(days[-1]) - x(day) >= gap:
            shown.append(day)
    if len(days) > 1:
        shown.append(days[-1])

    def anchor(i: int, day: date) -> str:
        if len(shown) == 1:
            return "middle"
        return "start" if i == 0 else "end" if day == last else "middle"

    x_ticks = tuple(
        Tick(x(day), _date_label(day, with_year), anchor(i, day)) for i, day in enumerate(shown)
    )
    return Chart(series=series, thresholds=thresholds, y_ticks=y_ticks, x_ticks=x_ticks)


def describe(progress: Sequence[scoring.Progress]) -> str:
    """One sentence per instrument for the chart's <desc> (screen readers)."""
    parts = []
    for p in progress:
        if not p.scores:
            parts.append(f"No {p.instrument.name} scores yet.")
            continue
        first, latest = p.scores[0], p.scores[-1]
        first_band = scoring.band(p.instrument, first.total).label.lower()
        when = _date_label(first.day, True)
        text = f"{p.instrument.name}: {first.total} ({first_band}) on {when}"
        if len(p.scores) > 1:
            latest_band = scoring.band(p.instrument, latest.total).label.lower()
            text += (
                f", {latest.total} ({latest_band}) on {_date_label(latest.day, True)}, "
                f"{len(p.scores)} scores."
            )
        else:
            text += ", one score."
        parts.append(text)
    return " ".join(parts)
