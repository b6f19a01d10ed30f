"""Outcome tracking rules: who may see and record what, dates, the audit trail, the summary.

Services flush; the view commits once. The audit log says who recorded, corrected or
deleted which measurement of which referral, never the answers or totals (clinical data
stays out of the log and out of e-mails).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import load_only

from lms import audit, crypto
from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.outcomes import scoring
from lms.outcomes.models import InstrumentKind, Measurement
from lms.referrals.models import Referral
from lms.timezones import zone_named


class OutcomeError(Exception):
    """A rule refused the action; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- who sees what ---------------------------------------------------------------------


def can_view_referral(user: User, referral: Referral) -> bool:
    """A therapist sees the outcomes of their own referrals only."""
    return referral.therapist_id == user.id


def can_view_measurement(user: User, measurement: Measurement) -> bool:
    return can_view_referral(user, measurement.referral)


def can_change_measurement(user: User, measurement: Measurement) -> bool:
    """Corrections: the therapist who recorded it, while the patient is still theirs."""
    return measurement.recorded_by_id == user.id and can_view_measurement(user, measurement)


# What the outcome summary shows of a referral: every other encrypted column is left unread
# (each one read is a decryption, for every patient, on every view of the summary).
SUMMARY_COLUMNS = (
    Referral.id,
    Referral.therapist_id,
    Referral.patient_name,
    Referral.state,
    Referral.gad7,
    Referral.phq9,
    Referral.created_at,
)


def patients(therapist: User) -> list[Referral]:
    """The therapist's referred patients, by name, with the columns the summary shows. Names
    are encrypted at rest, so the sorting happens here, after decryption (one therapist's
    patients: hundreds at most)."""
    referrals = db.session.scalars(
        select(Referral)
        .where(Referral.therapist_id == therapist.id)
        .options(load_only(*SUMMARY_COLUMNS))
    ).all()
    return sorted(referrals, key=lambda r: (_folded(r.patient_name), r.id))


def named(referrals: Iterable[Referral], search: str | None) -> list[Referral]:
    """The referrals whose patient name contains ``search`` (any case, any accents)."""
    needle = _folded(search or "").strip()
    if not needle:
        return list(referrals)
    return [r for r in referrals if needle in _folded(r.patient_name)]


def _folded(text: str) -> str:
    return " ".join(crypto.words(text))


# --- dates -----------------------------------------------------------------------------


def local_today(user: User, now: datetime | None = None) -> date:
    """Today in the user's time zone (the date a therapist would write on the form)."""
    return (now or utcnow()).astimezone(zone_named(user.timezone)).date()


def referral_day(referral: Referral, user: User) -> date:
    """The day the referral was sent, in the therapist's time zone."""
    return local_today(user, referral.created_at)


def date_problem(referral: Referral, day: date | None, today: date) -> str | None:
    """Why ``day`` cannot be the date administered, or None when it can."""
    if day is None:
        return "Enter the date the questionnaire was completed."
    if day > today:
        return "The date cannot be in the future."
    # Self-referred patients give an age band, not a date of birth: no lower bound then.
    if referral.date_of_birth is not None and day < referral.date_of_birth:
        return "The date cannot be before the patient's date of birth."
    return None


# --- record, correct, delete -----------------------------------------------------------


def _checked(
    referral: Referral, kind: InstrumentKind, answers: Sequence[int], day: date | None, actor: User
) -> tuple[list[int], int, date]:
    values = list(answers)
    try:
        score = scoring.total(kind.spec, values)
    except ValueError:
        raise OutcomeError(f"Answer every {kind.label} item with one of the choices.") from None
    problem = date_problem(referral, day, local_today(actor))
    if problem:
        raise OutcomeError(problem)
    assert day is not None
    return values, score, day


def record_measurement(
    referral: Referral,
    kind: InstrumentKind | str,
    answers: Sequence[int],
    administered_on: date | None,
    actor: User,
) -> Measurement:
    """Save a completed questionnaire for the therapist's own patient."""
    if not can_view_referral(actor, referral):
        raise OutcomeError("You can record outcomes for your own referred patients only.")
    kind = InstrumentKind(kind)
    values, score, day = _checked(referral, kind, answers, administered_on, actor)
    row = Measurement(
        referral_id=referral.id,
        instrument=kind,
        administered_on=day,
        answers=values,
        total=score,
        recorded_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "outcome.recorded",
        row,
        actor=actor,
        object_type="outcome_measurement",
        referral_id=referral.id,
        instrument=kind.value,
    )
    db.session.flush()
    return row


def correct_measurement(
    measurement: Measurement, answers: Sequence[int], administered_on: date | None, actor: User
) -> list[str]:
    """Change the answers or the date; returns the names of the fields that changed."""
    if not can_change_measurement(actor, measurement):
        raise OutcomeError("Only the therapist who recorded a measurement can correct it.")
    values, score, day = _checked(
        measurement.referral, measurement.instrument, answers, administered_on, actor
    )
    changed = []
    if values != list(measurement.answers):
        changed.append("answers")
    if day != measurement.administered_on:
        changed.append("administered_on")
    if not changed:
        return []
    measurement.answers = values
    measurement.total = score
    measurement.administered_on = day
    measurement.updated_at = utcnow()
    audit.record(
        "outcome.corrected",
        measurement,
        actor=actor,
        object_type="outcome_measurement",
        referral_id=measurement.referral_id,
        instrument=measurement.instrument.value,
        changed=changed,
    )
    db.session.flush()
    return changed


def delete_measurement(measurement: Measurement, actor: User) -> None:
    """Remove a measurement entered in error (the audit log keeps that it existed)."""
    if not can_change_measurement(actor, measurement):
        raise OutcomeError("Only the therapist who recorded a measurement can delete it.")
    audit.record(
        "outcome.deleted",
        measurement,
        actor=actor,
        object_type="outcome_measurement",
        referral_id=measurement.referral_id,
        instrument=measurement.instrument.value,
    )
    db.session.delete(measurement)
    db.session.flush()


# --- reading ---------------------------------------------------------------------------


def measurements_of(referrals: Iterable[Referral]) -> dict[int, list[Measurement]]:
    """Every measurement of these referrals (one query), by referral id, in order."""
    ids = [r.id for r in referrals]
    out: dict[int, list[Measurement]] = defaultdict(list)
    if not ids:
        return out
    rows = db.session.scalars(
        select(Measurement)
        .where(Measurement.referral_id.in_(ids))
        .order_by(Measurement.administered_on, Measurement.id)
    )
    for row in rows:
        out[row.referral_id].append(row)
    return out


class Recorded(NamedTuple):
    """A measurement's score without its (encrypted) answers: what the summary of every
    patient reads, as plain columns rather than loaded objects (a tuple: made fast)."""

    id: int
    referral_id: int
    instrument: InstrumentKind
    administered_on: date
    total: int

    @property
    def score(self) -> scoring.Score:
        return scoring.Score(self.administered_on, self.total, self.id)


def scores_of(referrals: Iterable[Referral]) -> dict[int, list[Recorded]]:
    """The scores of every measurement of these referrals (one query), by referral id, in
    order: no answers decrypted, no objects loaded (a partner's years of questionnaires)."""
    ids = [r.id for r in referrals]
    out: dict[int, list[Recorded]] = defaultdict(list)
    if not ids:
        return out
    rows = db.session.execute(
        select(
            Measurement.id,
            Measurement.referral_id,
            Measurement.instrument,
            Measurement.administered_on,
            Measurement.total,
        )
        .where(Measurement.referral_id.in_(ids))
        .order_by(Measurement.administered_on, Measurement.id)
    )
    for row in rows:
        out[row.referral_id].append(Recorded._make(row))
    return out


def read_safety_answers(rows: Iterable[PatientOutcomes]) -> None:
    """Load, with its answers, each row's latest PHQ-9 (one query for all of them), which
    its safety prompt reads, when the row holds scores only (:func:`summary_outcomes`)."""
    wanted = {m.id: row for row in rows if isinstance(m := row.latest_phq9, Recorded)}
    if not wanted:
        return
    for measurement in db.session.scalars(
        select(Measurement).where(Measurement.id.in_(list(wanted)))
    ):
        row = wanted[measurement.id]
        row.measurements = [measurement if m.id == measurement.id else m for m in row.measurements]


@dataclass(frozen=True)
class ScoreRow:
    """A row of the patient's measurements table: a recorded measurement, or the referral's
    baseline total (``measurement`` None)."""

    score: scoring.Score
    instrument: scoring.Instrument
    measurement: Measurement | None

    @property
    def band(self) -> scoring.Band:
        return scoring.band(self.instrument, self.score.total)


@dataclass
class PatientOutcomes:
    """One referred patient: their measurements and where they stand on each instrument."""

    referral: Referral
    # Loaded measurements, or (the summary of every patient) their scores only.
    measurements: list[Measurement] | list[Measurement | Recorded]
    gad7: scoring.Progress
    phq9: scoring.Progress
    referral_day: date

    @property
    def progress(self) -> list[scoring.Progress]:
        return [self.gad7, self.phq9]

    @property
    def tracked(self) -> bool:
        return bool(self.measurements)

    @property
    def rows(self) -> list[ScoreRow]:
        """Every score in the chart, oldest first (GAD-7 before PHQ-9 on the same day)."""
        by_id = {m.id: m for m in self.measurements}
        out = [
            ScoreRow(s, p.instrument, None if s.from_referral else by_id[s.measurement_id or 0])
            for p in self.progress
            for s in p.scores
        ]
        return sorted(out, key=lambda r: r.score.order)

    @property
    def latest_phq9(self) -> Measurement | Recorded | None:
        rows = [m for m in self.measurements if m.instrument == InstrumentKind.PHQ9]
        return rows[-1] if rows else None

    @property
    def safety_measurement(self) -> Measurement | None:
        """The latest PHQ-9, when its item 9 calls for the safety prompt."""
        latest = self.latest_phq9
        if isinstance(latest, Recorded):  # never guess: the prompt is a patient's safety
            raise RuntimeError("the latest PHQ-9's answers were not read: read_safety_answers")
        return latest if latest is not None and latest.needs_safety_prompt else None


def patient_outcomes(
    referral: Referral, measurements: Sequence[Measurement | Recorded], therapist: User
) -> PatientOutcomes:
    """Scores per instrument; the referral form's baseline total counts as described in
    :func:`lms.outcomes.scoring.with_referral_baseline`."""
    day = referral_day(referral, therapist)
    ordered = sorted(measurements, key=lambda m: (m.administered_on, m.id))

    def progress(kind: InstrumentKind, referral_total: int | None) -> scoring.Progress:
        scores = [m.score for m in ordered if m.instrument == kind]
        return scoring.progress(
            kind.spec, scoring.with_referral_baseline(scores, referral_total, day)
        )

    return PatientOutcomes(
        referral=referral,
        measurements=ordered,
        gad7=progress(InstrumentKind.GAD7, referral.gad7),
        phq9=progress(InstrumentKind.PHQ9, referral.phq9),
        referral_day=day,
    )


def outcomes_for(referrals: Sequence[Referral], therapist: User) -> list[PatientOutcomes]:
    by_referral = measurements_of(referrals)
    return [patient_outcomes(r, by_referral.get(r.id, []), therapist) for r in referrals]


def summary_outcomes(referrals: Sequence[Referral], therapist: User) -> list[PatientOutcomes]:
    """:func:`outcomes_for` with the scores only: for the summary of every patient. The rows
    a page shows then need :func:`read_safety_answers`."""
    by_referral = scores_of(referrals)
    return [patient_outcomes(r, by_referral.get(r.id, []), therapist) for r in referrals]


@dataclass
class Overview:
    patients: int  # referred patients
    tracked: int  # with at least one recorded measurement
    gad7: scoring.Summary
    phq9: scoring.Summary

    @property
    def summaries(self) -> list[scoring.Summary]:
        return [self.gad7, self.phq9]


def overview(therapist: User, rows: Sequence[PatientOutcomes] | None = None) -> Overview:
    """The summary across all the therapist's patients (``rows``: the outcomes of all of
    them, when already read; two queries, whatever the count)."""
    if rows is None:
        rows = summary_outcomes(patients(therapist), therapist)
    return Overview(
        patients=len(rows),
        tracked=sum(1 for r in rows if r.tracked),
        gad7=scoring.summarise(scoring.GAD7, (r.gad7 for r in rows)),
        phq9=scoring.summarise(scoring.PHQ9, (r.phq9 for r in rows)),
    )
