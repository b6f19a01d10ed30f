"""Geometry of the drop-off bar chart, drawn by the template as inline SVG (no JavaScript).

The same look as the operations dashboard's funnel (the ``chart-*`` classes of app.css):
one horizontal bar per step on a full-width track, its label and value written above it so
long module titles fit a phone's width.
"""

from __future__ import annotations

from dataclasses import dataclass

from lms.analytics.identity import shorten
from lms.analytics.queries import Step, percent

WIDTH = 640
ROW = 54
LABEL_Y = 16
BAR_Y = 24
BAR_HEIGHT = 20


@dataclass(frozen=True)
class Bar:
    label: str
    label_y: int
    bar_y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: int = WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return ROW * len(self.bars)


def dropoff_chart(steps: list[Step]) -> BarChart:
    """Bars scaled to the largest step (the enrolled learners, unless data is odd)."""
    top = max((s.learners for s in steps), default=0)
    bars = []
    for i, step in enumerate(steps):
        share = percent(step.learners, step.enrolled)
        value = f"{step.learners} ({share})" if share else str(step.learners)
        bars.append(
            Bar(
                label=f"{shorten(step.label, 48)}: {value}",
                label_y=i * ROW + LABEL_Y,
                bar_y=i * ROW + BAR_Y,
                width=round(WIDTH * step.learners / top, 1) if top else 0.0,
            )
        )
    return BarChart(tuple(bars))
