"""The pure scoring function: points, reasons in plain words, order and ties."""

from __future__ import annotations

from lms.practice import matching
from lms.practice.matching import Candidate, Needs


def partner(key: int = 1, name: str = "Pat Partner", **overrides) -> Candidate:
    values = {
        "key": key,
        "name": name,
        "in_person": True,
        "telehealth": True,
        "conditions": frozenset({"panic", "depression"}),
        "languages": frozenset({"en"}),
        "city": "Denver",
        "zip_code": "80205",
        "open_offers": 0,
    }
    values.update(overrides)
    return Candidate(**values)


def test_each_matching_condition_counts() -> None:
    needs = Needs(conditions=("panic", "depression", "ocd"), modality="telehealth")
    result = matching.score(needs, partner(telehealth=False, in_person=True))
    assert result.points == 2 * matching.CONDITION_POINTS  # no modality points
    assert "Works with Panic and Depression, 2 of the patient's 3 concerns" in result.reasons[0]
    assert "does not list OCD" in result.reasons[0]
    none = matching.score(Needs(conditions=("ocd",), modality="either"), partner())
    assert none.reasons[0] == "Does not list any of the patient's concerns (OCD)."


def test_telehealth_partners_suit_telehealth_and_either() -> None:
    tele_only = partner(in_person=False, telehealth=True)
    office_only = partner(in_person=True, telehealth=False)
    for modality in ("telehealth", "either"):
        assert matching.score(Needs(modality=modality), tele_only).points == 2
    assert matching.score(Needs(modality="in_person"), tele_only).points == 0
    assert "Offers telehealth only; the patient asked to meet in person." in (
        matching.score(Needs(modality="in_person"), tele_only).reasons
    )
    assert matching.score(Needs(modality="telehealth"), office_only).points == 0
    assert "Sees clients in person only; the patient asked for telehealth." in (
        matching.score(Needs(modality="telehealth"), office_only).reasons
    )


def test_in_person_gets_a_bonus_for_the_same_city_or_zip_area() -> None:
    office = partner(in_person=True, telehealth=False, city="Denver", zip_code="80205")
    same_city = matching.score(Needs(modality="in_person", location="denver, co"), office)
    assert same_city.points == matching.MODALITY_POINTS + matching.NEARBY_POINTS
    assert any("in Denver, the city the patient gave" in r for r in same_city.reasons)
    same_zip = matching.score(Needs(modality="in_person", location="80218"), office)
    assert same_zip.points == matching.MODALITY_POINTS + matching.NEARBY_POINTS
    assert any("ZIP area (802xx)" in r for r in same_zip.reasons)
    far = matching.score(Needs(modality="in_person", location="Boulder"), office)
    assert far.points == matching.MODALITY_POINTS
    assert "The practice is not in the city or ZIP area the patient gave." in far.reasons
    either = matching.score(Needs(modality="either", location="80218"), office)
    assert either.points == matching.MODALITY_POINTS + matching.NEARBY_POINTS_EITHER
    # A telehealth-only practice is never "close by".
    remote = partner(in_person=False, city="Denver")
    assert matching.score(Needs(modality="either", location="Denver"), remote).points == 2


def test_language() -> None:
    spanish = Needs(modality="either", language="es")
    assert matching.score(spanish, partner(languages=frozenset({"en", "es"}))).points == 4
    result = matching.score(spanish, partner())
    assert result.points == 2
    assert "Does not list Spanish, the patient's language." in result.reasons


def test_rank_orders_by_points_then_open_offers_then_name() -> None:
    needs = Needs(conditions=("panic",), modality="telehealth", language="es")
    best = partner(1, "Zoe Best", languages=frozenset({"es"}))
    busy = partner(2, "Amy Busy", open_offers=2)
    free = partner(3, "Bea Free", open_offers=0)
    same = partner(4, "Cal Same", open_offers=0)
    worst = partner(5, "Al Worst", conditions=frozenset(), telehealth=False)
    ranked = matching.rank(needs, [worst, busy, same, best, free])
    assert [r.candidate.name for r in ranked] == [
        "Zoe Best",
        "Bea Free",
        "Cal Same",
        "Amy Busy",
        "Al Worst",
    ]
    assert [r.position for r in ranked] == [1, 2, 3, 4, 5]
    assert [r.points for r in ranked] == [7, 5, 5, 5, 0]
    assert ranked[0].summary == "Ranked 1 of 5 with 7 points, the highest score."
    assert ranked[1].summary == "Ranked 2 of 5 with 5 points, 2 fewer than Zoe Best."
    assert "the same as Bea Free, with as many open offers (0); listed by name" in (
        ranked[2].summary
    )
    assert "the same as Cal Same, who has fewer open offers (0 against 2)" in ranked[3].summary
    assert ranked[4].summary == "Ranked 5 of 5 with 0 points, 5 fewer than Amy Busy."


def test_no_needs_no_points_and_one_candidate() -> None:
    ranked = matching.rank(Needs(), [partner(in_person=False, telehealth=False)])
    assert ranked[0].points == 0 and ranked[0].summary == "Ranked 1 of 1 with 0 points."
    assert matching.rank(Needs(), []) == []
