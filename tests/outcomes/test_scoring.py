"""Scoring: totals, every band boundary, response, remission, baselines, the summary."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lms.outcomes import scoring
from lms.outcomes.scoring import GAD7, PHQ9, Score

D0 = date(2026, 9, 1)


def _day(n: int) -> date:
    return D0 + timedelta(days=n)


def test_the_instruments_are_the_published_ones() -> None:
    assert len(GAD7.items) == 7 and GAD7.max_total == 21
    assert len(PHQ9.items) == 9 and PHQ9.max_total == 27
    assert GAD7.items[0] == "Feeling nervous, anxious, or on edge"
    assert PHQ9.items[0] == "Little interest or pleasure in doing things"
    assert PHQ9.items[8].startswith("Thoughts that you would be better off dead")
    assert GAD7.stem.startswith("Over the last 2 weeks, how often have you been bothered by")
    assert PHQ9.stem.startswith("Over the last 2 weeks, how often have you been bothered by")
    assert scoring.ANSWERS == (
        (0, "Not at all"),
        (1, "Several days"),
        (2, "More than half the days"),
        (3, "Nearly every day"),
    )
    assert scoring.instrument("gad7") is GAD7 and scoring.instrument("phq9") is PHQ9
    with pytest.raises(KeyError):
        scoring.instrument("bdi")


def test_totals_add_up_the_items() -> None:
    assert scoring.total(GAD7, [0] * 7) == 0
    assert scoring.total(GAD7, [3] * 7) == 21
    assert scoring.total(GAD7, [3, 2, 1, 0, 1, 2, 3]) == 12
    assert scoring.total(PHQ9, [3] * 9) == 27
    assert scoring.total(PHQ9, [1, 0, 2, 0, 1, 0, 0, 0, 1]) == 5


@pytest.mark.parametrize(
    ("inst", "answers"),
    [
        (GAD7, [0] * 6),  # too few
        (GAD7, [0] * 8),  # too many
        (PHQ9, [0] * 7),  # a GAD-7's worth
        (GAD7, [0, 0, 0, 0, 0, 0, 4]),  # above 3
        (GAD7, [0, 0, 0, 0, 0, 0, -1]),  # below 0
        (PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, "1"]),  # not a number
        (PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, True]),  # a bool is not an answer
    ],
)
def test_bad_answers_are_refused(inst, answers) -> None:
    with pytest.raises(ValueError):
        scoring.total(inst, answers)


GAD7_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]
PHQ9_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately_severe"),
    (19, "moderately_severe"),
    (20, "severe"),
    (27, "severe"),
]


@pytest.mark.parametrize(("score", "key"), GAD7_BANDS)
def test_gad7_band_boundaries(score, key) -> None:
    assert scoring.band(GAD7, score).key == key


@pytest.mark.parametrize(("score", "key"), PHQ9_BANDS)
def test_phq9_band_boundaries(score, key) -> None:
    assert scoring.band(PHQ9, score).key == key


def test_every_total_has_exactly_one_band() -> None:
    for inst in (GAD7, PHQ9):
        for score in range(inst.max_total + 1):
            assert sum(score in b for b in inst.bands) == 1, (inst.name, score)
    assert scoring.band(PHQ9, 15).label == "Moderately severe"
    assert scoring.band(GAD7, 15).label == "Severe"
    assert GAD7.thresholds == (5, 10, 15) and PHQ9.thresholds == (5, 10, 15, 20)


@pytest.mark.parametrize(("inst", "score"), [(GAD7, 22), (GAD7, -1), (PHQ9, 28)])
def test_totals_out_of_range_have_no_band(inst, score) -> None:
    with pytest.raises(ValueError):
        scoring.band(inst, score)


@pytest.mark.parametrize(
    ("baseline", "current", "expected"),
    [
        (20, 10, True),  # exactly 50% below
        (20, 11, False),  # 45%
        (20, 9, True),
        (15, 7, True),  # 53%
        (15, 8, False),  # 47%: integer arithmetic, no rounding up
        (1, 0, True),
        (10, 12, False),  # worse
        (10, 10, False),
        (0, 0, None),  # baseline 0: undefined
        (0, 5, None),
    ],
)
def test_response(baseline, current, expected) -> None:
    assert scoring.is_response(baseline, current) is expected


def test_percent_change() -> None:
    assert scoring.percent_change(20, 10) == -50
    assert scoring.percent_change(16, 3) == -81
    assert scoring.percent_change(10, 12) == 20
    assert scoring.percent_change(0, 3) is None


@pytest.mark.parametrize(("score", "expected"), [(0, True), (4, True), (5, False), (21, False)])
def test_remission_is_below_5(score, expected) -> None:
    assert scoring.is_remission(score) is expected


def test_the_safety_item_is_phq9_item_9() -> None:
    assert scoring.needs_safety_prompt(PHQ9, [0] * 8 + [1])
    assert scoring.needs_safety_prompt(PHQ9, [0] * 8 + [3])
    assert not scoring.needs_safety_prompt(PHQ9, [3] * 8 + [0])
    assert not scoring.needs_safety_prompt(GAD7, [3] * 7)
    assert not scoring.needs_safety_prompt(PHQ9, None)


def test_progress_orders_by_date_then_id() -> None:
    p = scoring.progress(
        GAD7,
        [
            Score(_day(10), 8, 3),
            Score(_day(0), 16, 5),
            Score(_day(10), 4, 7),
            Score(_day(5), 12, 1),
        ],
    )
    assert [s.total for s in p.scores] == [16, 12, 8, 4]
    assert p.baseline.total == 16 and p.latest.total == 4
    assert p.change == -12 and p.percent_change == -75
    assert p.response is True and p.remission is True
    assert p.latest_band.key == "minimal"


def test_one_score_is_a_baseline_with_no_outcome_yet() -> None:
    p = scoring.progress(PHQ9, [Score(_day(0), 3, 1)])
    assert p.tracked and not p.has_follow_up
    assert p.change is None and p.percent_change is None
    assert p.response is None and p.remission is None


def test_no_scores() -> None:
    p = scoring.progress(PHQ9, [])
    assert not p.tracked and p.baseline is None and p.latest is None and p.latest_band is None
    assert p.response is None and p.remission is None


def test_a_zero_baseline_leaves_response_undefined_but_not_remission() -> None:
    p = scoring.progress(GAD7, [Score(_day(0), 0, 1), Score(_day(7), 2, 2)])
    assert p.response is None
    assert p.remission is True
    assert p.change == 2


def test_response_without_remission_and_back() -> None:
    p = scoring.progress(PHQ9, [Score(_day(0), 19, 1), Score(_day(70), 8, 2)])
    assert p.response is True and p.remission is False
    worse = scoring.progress(PHQ9, [*p.scores, Score(_day(80), 12, 3)])
    assert worse.response is False and worse.remission is False


def test_the_referral_total_is_the_baseline_only_when_nothing_itemised_is_earlier() -> None:
    referral_day = _day(10)
    later = [Score(_day(20), 9, 1), Score(_day(30), 6, 2)]
    scores = scoring.with_referral_baseline(later, 14, referral_day)
    assert scores[0] == Score(referral_day, 14, None) and scores[0].from_referral
    assert [s.total for s in scores] == [14, 9, 6]
    # An itemised measurement on the referral day or before is the better baseline.
    same_day = [Score(referral_day, 12, 1), *later]
    assert scoring.with_referral_baseline(same_day, 14, referral_day) == same_day
    earlier = [Score(_day(3), 15, 4), *later]
    assert scoring.with_referral_baseline(earlier, 14, referral_day) == earlier
    # No total on the referral: nothing added; no measurements: the referral total alone.
    assert scoring.with_referral_baseline(later, None, referral_day) == later
    assert scoring.with_referral_baseline([], 7, referral_day) == [Score(referral_day, 7, None)]


def test_summary_counts_only_patients_where_the_outcome_is_defined() -> None:
    def p(*totals: int) -> scoring.Progress:
        return scoring.progress(GAD7, [Score(_day(i * 7), t, i + 1) for i, t in enumerate(totals)])

    patients = [
        p(16, 3),  # response and remission
        p(12, 6),  # response (exactly 50%), no remission
        p(10, 8),  # neither
        p(0, 2),  # remission; response undefined (baseline 0)
        p(14),  # baseline only: counted as tracked, nothing else
        p(),  # not tracked
    ]
    s = scoring.summarise(GAD7, patients)
    assert s.tracked == 5
    assert s.with_follow_up == 4
    assert (s.response.count, s.response.of, s.response.percent) == (2, 3, 67)
    assert (s.remission.count, s.remission.of, s.remission.percent) == (2, 4, 50)
    empty = scoring.summarise(PHQ9, [])
    assert empty.tracked == 0 and empty.response.percent is None


def test_the_date_rule() -> None:
    from types import SimpleNamespace

    from lms.outcomes.services import date_problem

    today = date(2026, 11, 27)
    patient = SimpleNamespace(date_of_birth=date(1990, 5, 1))
    assert date_problem(patient, today, today) is None
    assert date_problem(patient, date(1990, 5, 1), today) is None
    assert "future" in date_problem(patient, date(2026, 11, 28), today)
    assert "date of birth" in date_problem(patient, date(1990, 4, 30), today)
    assert "Enter the date" in date_problem(patient, None, today)
    # A self-referred patient has an age band instead of a date of birth.
    assert date_problem(SimpleNamespace(date_of_birth=None), date(1950, 1, 1), today) is None
