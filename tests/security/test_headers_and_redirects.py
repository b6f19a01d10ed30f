"""Security headers on every page any role can open, and no open redirect through ``next=``."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.auth import is_safe_redirect
from tests.conftest import PASSWORD
from tests.security.conftest import ROLES, methods, rules, url


def _check_headers(response, where) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp or "default-src 'none'" in csp, where
    assert "unsafe-inline" not in csp.split("script-src", 1)[-1].split(";", 1)[0], where
    assert "frame-ancestors 'none'" in csp or "sandbox" in csp, where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    assert headers.get("X-Frame-Options") == "DENY", where


def test_every_page_of_every_role_carries_the_security_headers(app, users, as_user) -> None:
    seen = 0
    for who in ROLES:
        client = as_user(users[who])
        for rule in rules(app):
            if "GET" not in methods(rule):
                continue
            response = client.get(url(app, rule))
            _check_headers(response, (who, rule.rule, response.status_code))
            if response.mimetype == "text/html":
                html = response.get_data(as_text=True)
                for tag in re.findall(r"<script[^>]*>", html):
                    assert "src=" in tag, (who, rule.rule, tag)
                assert not re.search(r"<[^>]+\son[a-z]+=", html), (who, rule.rule)
                assert not re.search(r"<[^>]+\sstyle=", html), (who, rule.rule)
            seen += 1
    assert seen > 100


HOSTILE_NEXT = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:/evil.example",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\x00/evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_site(client, make_user, target) -> None:
    user = make_user()
    response = client.post(
        "/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    if "\x00" in target:
        # Refused before the log-in runs (no text with a NUL reaches a view): no redirect.
        assert response.status_code == 400 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard"), response.headers["Location"]


def test_login_follows_a_same_site_next(client, make_user) -> None:
    user = make_user()
    response = client.post(
        "/login",
        query_string={"next": "/licensure"},
        data={"email": user.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/licensure"


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_safe_redirect_only_allows_local_paths(target) -> None:
    if is_safe_redirect(target):
        assert target.startswith("/") and not target.startswith("//")
        assert "\\" not in target
        # What a browser makes of it (tabs and newlines dropped) is still a local path.
        cleaned = re.sub(r"[\t\n\r]", "", target)
        assert cleaned.startswith("/") and not cleaned.startswith("//")
        assert not any(ch.isspace() or ord(ch) < 0x20 for ch in target)
