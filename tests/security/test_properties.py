"""Property-based tests (hypothesis) of the parsers and validators that take user input.

Whatever a user types, each one either accepts it or refuses it with its own clear error;
none crashes, and what it accepts has the promised shape.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lms.accounts.passwords import password_problem
from lms.licensure.documents import sniff
from lms.licensure.npi import is_valid_npi, luhn_check_digit, normalise_npi
from lms.timezones import is_valid_zone
from lms.training.certificates import normalise_code
from lms.training.gift import GiftError, check_gift, parse_gift

PREFIX = "80840"


@given(st.text(max_size=20))
def test_npi_validation_never_crashes_and_accepts_only_ten_digits(value) -> None:
    if is_valid_npi(value):
        assert re.fullmatch(r"[12]\d{9}", value)


@given(st.integers(min_value=100_000_000, max_value=299_999_999))
def test_every_npi_with_the_right_check_digit_is_valid(body) -> None:
    stem = str(body)
    if stem[0] not in "12":
        return
    npi = stem + str(luhn_check_digit(PREFIX + stem))
    assert is_valid_npi(npi)
    wrong = stem + str((int(npi[-1]) + 1) % 10)
    assert not is_valid_npi(wrong)


@given(st.text(alphabet="0123456789 -", max_size=20))
def test_normalised_npi_has_no_separators(value) -> None:
    assert not re.search(r"[\s-]", normalise_npi(value))


@given(st.binary(max_size=64))
def test_sniff_names_only_accepted_types_by_their_magic(data) -> None:
    kind = sniff(data)
    assert kind in (None, "application/pdf", "image/jpeg", "image/png")
    if kind == "application/pdf":
        assert data.startswith(b"%PDF-")
    if kind == "image/png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "image/jpeg":
        assert data.startswith(b"\xff\xd8\xff")


@given(st.text(max_size=200))
def test_password_policy_answers_every_input(password) -> None:
    problem = password_problem(password, email="someone@example.org", full_name="Some One")
    assert problem is None or isinstance(problem, str)
    if len(password) < 12:
        assert problem is not None


@given(st.text(max_size=60))
def test_certificate_codes_normalise_to_groups_of_four(code) -> None:
    normal = normalise_code(code)
    assert re.fullmatch(r"([A-Z0-9]{1,4}(-[A-Z0-9]{4})*)?", normal) or re.fullmatch(
        r"([A-Z0-9]{4}-)*[A-Z0-9]{1,4}", normal
    )
    assert normalise_code(normal) == normal  # idempotent


@given(st.text(max_size=40))
def test_time_zone_validation_never_crashes(name) -> None:
    assert is_valid_zone(name) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('::{}=~#%-1.0 \\\n\tabcTF/[]$"')), max_size=120))
def test_gift_parser_refuses_with_its_own_error_or_parses(text) -> None:
    problems = check_gift(text, "fuzz.gift")
    try:
        questions = parse_gift(text, "fuzz.gift")
    except GiftError:
        assert problems  # a refusal is also reported by the checker
    else:
        assert not problems
        for question in questions:
            assert question.key() == question.key()
