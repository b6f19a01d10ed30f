"""How well a partner suits a patient: a pure scoring function, with its reasons in plain words.

No database here: :mod:`lms.practice.services` decides who may be listed at all (certified,
licensed in the patient's state, accepting new clients) and hands the candidates over; this
module only orders them and says why.

Points: 3 for each of the patient's concerns the partner works with, 2 when the partner
meets the patient the way they asked (telehealth, in person, either), 2 more for an
in-person practice in the patient's city or ZIP area (1 when the patient is open to either),
and 2 when the partner speaks the patient's language. Ties go to the partner with fewer
open offers, then by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lms.practice.data import CONDITIONS, LANGUAGES, join_words, label, labels

CONDITION_POINTS = 3
MODALITY_POINTS = 2
NEARBY_POINTS = 2
NEARBY_POINTS_EITHER = 1
LANGUAGE_POINTS = 2


@dataclass(frozen=True)
class Needs:
    """What the patient asked for (codes of :mod:`lms.practice.data`)."""

    conditions: tuple[str, ...] = ()
    modality: str = "either"  # in_person, telehealth or either
    language: str | None = None
    location: str | None = None  # city or ZIP code


@dataclass(frozen=True)
class Candidate:
    """What the ranking needs to know about one partner."""

    key: Any  # the caller's handle (the partner's id)
    name: str
    in_person: bool
    telehealth: bool
    conditions: frozenset[str]
    languages: frozenset[str]
    city: str = ""
    zip_code: str | None = None
    open_offers: int = 0


@dataclass
class Score:
    points: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class Ranked:
    position: int
    candidate: Candidate
    points: int
    reasons: list[str]
    summary: str  # "why it ranks there", one sentence


def _zip(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:5] if value[:5].isdigit() and len(value[:5]) == 5 else None


def _city(value: str | None) -> str:
    """Normalise a city name: "Boulder, CO" and " boulder " are the same city."""
    return " ".join((value or "").split(",")[0].split()).casefold()


def nearby(location: str | None, city: str, zip_code: str | None) -> str | None:
    """Why the practice is near the patient's place, or None when it is not (or unknown)."""
    patient_zip = _zip(location)
    if patient_zip:
        practice_zip = _zip(zip_code)
        if practice_zip and practice_zip[:3] == patient_zip[:3]:
            return f"the practice is in the patient's ZIP area ({patient_zip[:3]}xx)"
        return None
    if location and _city(location) and _city(location) == _city(city):
        return f"the practice is in {city.strip()}, the city the patient gave"
    return None


def _conditions(needs: Needs, partner: Candidate, score: Score) -> None:
    wanted = list(dict.fromkeys(needs.conditions))
    if not wanted:
        return
    matched = [c for c in wanted if c in partner.conditions]
    missing = [c for c in wanted if c not in partner.conditions]
    score.points += CONDITION_POINTS * len(matched)
    if matched and not missing:
        score.reasons.append(
            f"Works with {join_words(labels(CONDITIONS, matched))}: "
            f"all of the patient's concerns (+{CONDITION_POINTS * len(matched)})."
        )
    elif matched:
        score.reasons.append(
            f"Works with {join_words(labels(CONDITIONS, matched))}, "
            f"{len(matched)} of the patient's {len(wanted)} concerns; does not list "
            f"{join_words(labels(CONDITIONS, missing), 'or')} "
            f"(+{CONDITION_POINTS * len(matched)})."
        )
    else:
        score.reasons.append(
            f"Does not list any of the patient's concerns "
            f"({join_words(labels(CONDITIONS, wanted), 'or')})."
        )


def _modality(needs: Needs, partner: Candidate, score: Score) -> None:
    if needs.modality == "telehealth":
        if partner.telehealth:
            score.points += MODALITY_POINTS
            score.reasons.append(f"Offers telehealth, as the patient asked (+{MODALITY_POINTS}).")
        else:
            score.reasons.append("Sees clients in person only; the patient asked for telehealth.")
        return
    if needs.modality == "in_person":
        if not partner.in_person:
            score.reasons.append("Offers telehealth only; the patient asked to meet in person.")
            return
        score.points += MODALITY_POINTS
        score.reasons.append(f"Sees clients in person, as the patient asked (+{MODALITY_POINTS}).")
        _nearby(needs, partner, score, NEARBY_POINTS)
        return
    # Either way suits the patient.
    if partner.in_person or partner.telehealth:
        score.points += MODALITY_POINTS
        how = (
            "in person and by telehealth"
            if partner.in_person and partner.telehealth
            else ("in person" if partner.in_person else "by telehealth")
        )
        score.reasons.append(
            f"Sees clients {how}; the patient is open to either (+{MODALITY_POINTS})."
        )
    if partner.in_person:
        _nearby(needs, partner, score, NEARBY_POINTS_EITHER)


def _nearby(needs: Needs, partner: Candidate, score: Score, points: int) -> None:
    if not (needs.location or "").strip():
        return
    why = nearby(needs.location, partner.city, partner.zip_code)
    if why:
        score.points += points
        score.reasons.append(f"Close by: {why} (+{points}).")
    else:
        score.reasons.append("The practice is not in the city or ZIP area the patient gave.")


def _language(needs: Needs, partner: Candidate, score: Score) -> None:
    if not needs.language:
        return
    name = label(LANGUAGES, needs.language)
    if needs.language in partner.languages:
        score.points += LANGUAGE_POINTS
        score.reasons.append(f"Speaks {name}, the patient's language (+{LANGUAGE_POINTS}).")
    else:
        score.reasons.append(f"Does not list {name}, the patient's language.")


def score(needs: Needs, partner: Candidate) -> Score:
    """Points and the reasons for them (and for the points not given)."""
    result = Score()
    _conditions(needs, partner, result)
    _modality(needs, partner, result)
    _language(needs, partner, result)
    return result


def _order_key(item: tuple[Candidate, Score]) -> tuple[int, int, str, str]:
    candidate, result = item
    return (-result.points, candidate.open_offers, candidate.name.casefold(), str(candidate.key))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(position: int, total: int, item: tuple[Candidate, Score], previous: Any) -> str:
    candidate, result = item
    head = f"Ranked {position} of {total} with {_plural(result.points, 'point')}"
    if previous is None:
        return head + ("." if total == 1 else ", the highest score.")
    before, before_score = previous
    if before_score.points > result.points:
        return head + f", {before_score.points - result.points} fewer than {before.name}."
    if before.open_offers < candidate.open_offers:
        return head + (
            f", the same as {before.name}, who has fewer open offers "
            f"({before.open_offers} against {candidate.open_offers})."
        )
    return head + (
        f", the same as {before.name}, with as many open offers "
        f"({candidate.open_offers}); listed by name."
    )


def rank(needs: Needs, candidates: Iterable[Candidate]) -> list[Ranked]:
    """The candidates best first, each with its reasons and why it ranks where it does."""
    scored = sorted(((c, score(needs, c)) for c in candidates), key=_order_key)
    out: list[Ranked] = []
    previous: tuple[Candidate, Score] | None = None
    for position, item in enumerate(scored, start=1):
        candidate, result = item
        out.append(
            Ranked(
                position=position,
                candidate=candidate,
                points=result.points,
                reasons=result.reasons,
                summary=_summary(position, len(scored), item, previous),
            )
        )
        previous = item
    return out


def needs_of(
    conditions: Sequence[str] | None,
    modality: str | None,
    language: str | None,
    location: str | None,
) -> Needs:
    return Needs(
        conditions=tuple(conditions or ()),
        modality=modality or "either",
        language=language or None,
        location=(location or "").strip() or None,
    )
