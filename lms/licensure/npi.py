"""National Provider Identifier (NPI) checks.

An NPI is ten digits, starting with 1 or 2; the last digit is a Luhn check digit
computed over the NPI prefixed with "80840" (the ISO issuer prefix for US health
identifiers), as the CMS NPI standard describes.
"""

from __future__ import annotations

import re

_NPI = re.compile(r"^[12][0-9]{9}$")
PREFIX = "80840"


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit that makes ``digits`` + it a valid Luhn number."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 0:  # every second digit from the right, starting next to the check digit
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    """True for a well-formed NPI whose check digit is right."""
    if not isinstance(value, str) or not _NPI.fullmatch(value):
        return False
    return luhn_check_digit(PREFIX + value[:9]) == int(value[9])


def normalise_npi(value: str | None) -> str:
    """Strip the spaces and dashes people type between digit groups."""
    return re.sub(r"[\s-]", "", value or "")
