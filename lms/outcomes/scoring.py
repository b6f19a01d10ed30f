"""GAD-7 and PHQ-9: the questionnaires, totals, severity bands, response and remission.

Pure functions, no database and no Flask: the pages, the summary and the demo data all
score through this module, so each rule lives here once.

Rules (the published scoring of both instruments):

* each item is answered 0-3; the total is the sum (GAD-7 0-21, PHQ-9 0-27);
* bands: GAD-7 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe;
  PHQ-9 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe;
* **response**: a follow-up total at least 50% below the baseline total
  (``2 * latest <= baseline``, integer arithmetic, so exactly 50% counts). It is undefined
  (``None``) when the baseline is 0 (there is nothing to halve) and when there is no
  follow-up yet;
* **remission**: a follow-up total below 5 on either instrument. It is ``None`` while
  only the baseline exists: response and remission describe change under treatment;
* **safety**: PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered
  above 0 must be followed up, whatever the total.

Baseline and latest: scores are ordered by date, then by measurement id (the order they
were recorded). The baseline is the first, the latest the last; a follow-up is any score
after the baseline. :func:`with_referral_baseline` decides when the total entered on the
referral form counts as the baseline (see there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

ANSWERS: tuple[tuple[int, str], ...] = (
    (0, "Not at all"),
    (1, "Several days"),
    (2, "More than half the days"),
    (3, "Nearly every day"),
)
ANSWER_LABELS = dict(ANSWERS)
REMISSION_BELOW = 5
SAFETY_ITEM = 9  # PHQ-9, 1-based


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    low: int
    high: int
    tone: str  # the ``status-*`` CSS modifier

    def __contains__(self, total: object) -> bool:
        return isinstance(total, int) and self.low <= total <= self.high


@dataclass(frozen=True)
class Instrument:
    key: str
    name: str
    title: str
    stem: str
    items: tuple[str, ...]
    bands: tuple[Band, ...]

    @property
    def max_total(self) -> int:
        return 3 * len(self.items)

    @property
    def thresholds(self) -> tuple[int, ...]:
        """The lowest total of every band above the first (where the chart draws lines)."""
        return tuple(b.low for b in self.bands[1:])


def _bands(*rows: tuple[str, str, int, int, str]) -> tuple[Band, ...]:
    return tuple(Band(*row) for row in rows)


GAD7 = Instrument(
    key="gad7",
    name="GAD-7",
    title="Generalized Anxiety Disorder 7-item scale",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    bands=_bands(
        ("minimal", "Minimal", 0, 4, "ok"),
        ("mild", "Mild", 5, 9, "warn"),
        ("moderate", "Moderate", 10, 14, "warn"),
        ("severe", "Severe", 15, 21, "bad"),
    ),
)

PHQ9 = Instrument(
    key="phq9",
    name="PHQ-9",
    title="Patient Health Questionnaire, 9 items",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following "
    "problems?",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    bands=_bands(
        ("minimal", "Minimal", 0, 4, "ok"),
        ("mild", "Mild", 5, 9, "warn"),
        ("moderate", "Moderate", 10, 14, "warn"),
        ("moderately_severe", "Moderately severe", 15, 19, "bad"),
        ("severe", "Severe", 20, 27, "bad"),
    ),
)

INSTRUMENTS: dict[str, Instrument] = {GAD7.key: GAD7, PHQ9.key: PHQ9}


def instrument(key: str) -> Instrument:
    """The instrument called ``key`` ("gad7" or "phq9"); KeyError for anything else."""
    return INSTRUMENTS[key]


def check_answers(inst: Instrument, answers: Sequence[int]) -> None:
    """Raise ValueError unless ``answers`` is one 0-3 integer per item."""
    if len(answers) != len(inst.items):
        raise ValueError(f"{inst.name} has {len(inst.items)} items, got {len(answers)} answers")
    for number, value in enumerate(answers, start=1):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
            raise ValueError(f"{inst.name} item {number}: answers run from 0 to 3, got {value!r}")


def total(inst: Instrument, answers: Sequence[int]) -> int:
    """The sum of the item answers (validated first)."""
    check_answers(inst, answers)
    return sum(answers)


def band(inst: Instrument, score: int) -> Band:
    """The severity band of a total; ValueError outside 0..max."""
    for row in inst.bands:
        if score in row:
            return row
    raise ValueError(f"{inst.name} totals run from 0 to {inst.max_total}, got {score!r}")


def is_remission(score: int) -> bool:
    """Below 5 on either instrument."""
    return score < REMISSION_BELOW


def is_response(baseline: int, current: int) -> bool | None:
    """At least 50% below baseline; None when the baseline is 0 (undefined)."""
    if baseline <= 0:
        return None
    return 2 * current <= baseline


def percent_change(baseline: int, current: int) -> int | None:
    """Change from baseline in whole percent (negative is better); None for a 0 baseline."""
    if baseline <= 0:
        return None
    return round(100 * (current - baseline) / baseline)


def needs_safety_prompt(inst: Instrument, answers: Sequence[int] | None) -> bool:
    """PHQ-9 item 9 answered above 0."""
    return (
        inst.key == PHQ9.key
        and answers is not None
        and len(answers) >= SAFETY_ITEM
        and answers[SAFETY_ITEM - 1] > 0
    )


# --- a patient's scores over time ------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One total on one day: a recorded measurement, or (id None) the referral's baseline."""

    day: date
    total: int
    measurement_id: int | None = None

    @property
    def order(self) -> tuple[date, int]:
        return (self.day, self.measurement_id or 0)

    @property
    def from_referral(self) -> bool:
        return self.measurement_id is None


def with_referral_baseline(
    scores: Iterable[Score], referral_total: int | None, referral_day: date
) -> list[Score]:
    """The scores, in order, with the total from the referral form added as the baseline
    when it is the earliest information we have.

    The referral form asks for a baseline total (no items), dated the day the referral was
    sent. It counts as the baseline only if no recorded measurement is dated on or before
    that day: an itemised measurement on the same day or earlier is the better baseline.
    """
    ordered = sorted(scores, key=lambda s: s.order)
    if referral_total is not None and (not ordered or ordered[0].day > referral_day):
        ordered.insert(0, Score(referral_day, referral_total, None))
    return ordered


@dataclass(frozen=True)
class Progress:
    """Where one patient stands on one instrument."""

    instrument: Instrument
    scores: tuple[Score, ...]

    @property
    def tracked(self) -> bool:
        return bool(self.scores)

    @property
    def baseline(self) -> Score | None:
        return self.scores[0] if self.scores else None

    @property
    def latest(self) -> Score | None:
        return self.scores[-1] if self.scores else None

    @property
    def has_follow_up(self) -> bool:
        return len(self.scores) > 1

    @property
    def latest_band(self) -> Band | None:
        return band(self.instrument, self.latest.total) if self.latest else None

    @property
    def change(self) -> int | None:
        """Latest minus baseline (negative is better); None without a follow-up."""
        if not self.has_follow_up:
            return None
        assert self.baseline is not None and self.latest is not None
        return self.latest.total - self.baseline.total

    @property
    def percent_change(self) -> int | None:
        if not self.has_follow_up:
            return None
        assert self.baseline is not None and self.latest is not None
        return percent_change(self.baseline.total, self.latest.total)

    @property
    def response(self) -> bool | None:
        if not self.has_follow_up:
            return None
        assert self.baseline is not None and self.latest is not None
        return is_response(self.baseline.total, self.latest.total)

    @property
    def remission(self) -> bool | None:
        if not self.has_follow_up:
            return None
        assert self.latest is not None
        return is_remission(self.latest.total)


def progress(inst: Instrument, scores: Iterable[Score]) -> Progress:
    """A patient's progress on ``inst`` from their scores (any order)."""
    return Progress(inst, tuple(sorted(scores, key=lambda s: s.order)))


@dataclass(frozen=True)
class Rate:
    count: int
    of: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.count / self.of) if self.of else None


@dataclass(frozen=True)
class Summary:
    """Across a therapist's patients, for one instrument."""

    instrument: Instrument
    tracked: int  # patients with at least one score
    with_follow_up: int
    response: Rate  # among patients with a follow-up and a baseline above 0
    remission: Rate  # among patients with a follow-up


def summarise(inst: Instrument, patients: Iterable[Progress]) -> Summary:
    """Count response and remission among the patients for whom they are defined."""
    rows = [p for p in patients if p.tracked]
    followed = [p for p in rows if p.has_follow_up]
    responders = [p.response for p in followed if p.response is not None]
    return Summary(
        instrument=inst,
        tracked=len(rows),
        with_follow_up=len(followed),
        response=Rate(sum(1 for r in responders if r), len(responders)),
        remission=Rate(sum(1 for p in followed if p.remission), len(followed)),
    )
