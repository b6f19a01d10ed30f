"""The trend chart's geometry and its text alternative."""

from __future__ import annotations

from datetime import date, timedelta

from lms.outcomes import chart, scoring
from lms.outcomes.scoring import GAD7, PHQ9, Score

D0 = date(2026, 9, 1)


def _progress(inst, *pairs):
    return scoring.progress(
        inst, [Score(D0 + timedelta(days=d), t, i + 1) for i, (d, t) in enumerate(pairs)]
    )


def test_points_fall_on_time_and_score_axes() -> None:
    gad = _progress(GAD7, (0, 16), (42, 8), (84, 3))
    phq = _progress(PHQ9, (0, 27), (84, 0))
    c = chart.build([gad, phq])
    g, p = c.series
    assert g.key == "gad7" and p.key == "phq9"
    # Time runs left to right, evenly: the middle visit is halfway.
    xs = [pt.x for pt in g.points]
    assert xs[0] < xs[1] < xs[2]
    assert abs((xs[1] - xs[0]) - (xs[2] - xs[1])) < 0.01
    assert p.points[0].x == xs[0] and p.points[1].x == xs[2]
    # Higher scores are higher up (smaller y); 27 at the top of the plot, 0 at the bottom.
    assert p.points[0].y == c.top and p.points[1].y == c.bottom
    assert g.points[0].y < g.points[1].y < g.points[2].y
    assert g.path.startswith("M") and g.path.count("L") == 2
    assert [pt.band.key for pt in g.points] == ["severe", "mild", "minimal"]
    assert [t.value for t in c.thresholds] == [5, 10, 15, 20]
    assert all(c.top < t.y < c.bottom for t in c.thresholds)
    assert [t.label for t in c.y_ticks] == ["0", "5", "10", "15", "20", "27"]
    assert [t.label for t in c.x_ticks] == ["Sep 1", "Oct 13", "Nov 24"]
    assert [t.anchor for t in c.x_ticks] == ["start", "middle", "end"]
    assert not c.empty


def test_one_day_is_centred_and_date_labels_never_crowd() -> None:
    single = chart.build([_progress(GAD7, (0, 10)), _progress(PHQ9)])
    (pt,) = single.series[0].points
    assert abs(pt.x - (single.left + single.right) / 2) < 1
    assert [t.anchor for t in single.x_ticks] == ["middle"]
    weekly = chart.build([_progress(GAD7, *[(7 * w, 10) for w in range(13)])])
    assert [t.label for t in weekly.x_ticks] == ["Sep 1", "Sep 29", "Oct 27", "Nov 24"]
    # Two visits a fortnight apart near the end: the earlier one gives way to the last.
    late = chart.build([_progress(GAD7, (0, 10), (42, 8), (70, 6), (84, 5))])
    assert [t.label for t in late.x_ticks] == ["Sep 1", "Oct 13", "Nov 24"]
    for c in (weekly, late):
        xs = [t.pos for t in c.x_ticks]
        assert all(b - a >= chart.LABEL_GAP for a, b in zip(xs, xs[1:], strict=False))
    across_years = chart.build([_progress(GAD7, (0, 10), (200, 5))])
    assert across_years.x_ticks[-1].label == "Mar 20, 2027"
    assert chart.build([_progress(GAD7), _progress(PHQ9)]).empty


def test_the_description_reads_the_trend() -> None:
    text = chart.describe([_progress(GAD7, (0, 16), (84, 3)), _progress(PHQ9)])
    assert text == (
        "GAD-7: 16 (severe) on Sep 1, 2026, 3 (minimal) on Nov 24, 2026, 2 scores. "
        "No PHQ-9 scores yet."
    )
    assert "one score" in chart.describe([_progress(PHQ9, (0, 20))])
