"""Password policy and hashing."""

from __future__ import annotations

import pytest

from lms.accounts.passwords import hash_password, password_problem, verify_password


@pytest.mark.parametrize(
    "password",
    [
        "password1234",  # common word stretched with digits
        "qwertyuiop123",
        "123456789012",
        "aaaaaaaaaaaa",
        "abcabcabcabc",
        "iloveyouiloveyou",
        "PASSWORD1234",
    ],
)
def test_common_or_trivial_passwords_are_refused(password: str) -> None:
    assert password_problem(password) is not None


def test_short_password_is_refused_with_the_length_rule() -> None:
    problem = password_problem("Tr0ub4dor&3")
    assert problem is not None and "12 characters" in problem


def test_a_passphrase_is_accepted() -> None:
    assert password_problem("correct horse battery staple") is None


def test_long_passphrases_are_accepted() -> None:
    assert password_problem("a quiet river under the northern mountains " * 4) is None  # 172 chars


def test_e_mail_address_as_password_is_refused() -> None:
    assert password_problem("dana.whitfield", email="dana.whitfield@example.org") is not None
    assert password_problem("dana.whitfield@example.org", email="dana.whitfield@example.org")


def test_hash_is_scrypt_and_verifies() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("scrypt:")
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
