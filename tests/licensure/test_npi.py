"""The NPI check: format, the 80840 prefix and the Luhn check digit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms.licensure.npi import PREFIX, is_valid_npi, luhn_check_digit, normalise_npi


@pytest.mark.parametrize("npi", ["1234567893", "1245319599"])
def test_known_valid_npis(npi: str) -> None:
    assert is_valid_npi(npi)


@pytest.mark.parametrize(
    "npi",
    ["1234567890", "123456789", "12345678930", "3234567893", "0234567893", "12345a7893", ""],
)
def test_invalid_npis(npi: str) -> None:
    assert not is_valid_npi(npi)


def test_spaces_and_dashes_are_ignored_before_checking() -> None:
    assert is_valid_npi(normalise_npi(" 123-456-7893 "))


bodies = st.tuples(st.sampled_from("12"), st.text("0123456789", min_size=8, max_size=8)).map(
    "".join
)


@given(bodies)
def test_the_computed_check_digit_always_validates(body: str) -> None:
    assert is_valid_npi(body + str(luhn_check_digit(PREFIX + body)))


@given(bodies, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_error_is_caught(body: str, position: int, delta: int) -> None:
    npi = body + str(luhn_check_digit(PREFIX + body))
    digits = list(npi)
    digits[position] = str((int(digits[position]) + delta) % 10)
    assert not is_valid_npi("".join(digits))


@given(st.text(max_size=12))
def test_arbitrary_text_never_crashes_and_needs_ten_digits(text: str) -> None:
    if is_valid_npi(text):
        assert len(text) == 10 and text.isascii() and text.isdigit() and text[0] in "12"
