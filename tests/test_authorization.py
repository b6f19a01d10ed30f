"""Deny by default: walk the URL map so that every new route is covered automatically."""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from lms.auth import is_public_endpoint

# Routes meant for anonymous visitors. Adding one here is a deliberate decision.
PUBLIC_ENDPOINTS = {
    "static",
    "main.index",
    "main.healthz",
    "accounts.register",
    "accounts.check_email",
    "accounts.verify_email",
    "accounts.resend_verification",
    "accounts.login",
    "accounts.mfa_challenge",
    "accounts.forgot_password",
    "accounts.reset_password",
    "accounts.accept_invitation",
    "training.verify",
    "training.verify_code",
    "payments.webhook",
    "practice.get_care",
    "practice.get_care_thanks",
}


def _url_for(app, rule: Rule) -> str:
    """A URL for ``rule`` with plausible values (ids of objects that may exist)."""
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        values[arg] = 1 if isinstance(converter, NumberConverter) else "sample"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _rules(app) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def test_public_endpoints_are_exactly_the_intended_ones(app) -> None:
    public = {r.endpoint for r in _rules(app) if is_public_endpoint(app, r.endpoint)}
    assert public == PUBLIC_ENDPOINTS


def test_every_non_public_route_refuses_anonymous_users(app, client) -> None:
    checked = 0
    for rule in _rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _url_for(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in {302, 401, 403, 404}, (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], (method, url)
            checked += 1
    assert checked >= 10  # the walk really walked


@pytest.mark.parametrize("role", ["therapist", "clinician"])
def test_admin_routes_refuse_other_roles(app, client, make_user, login, role) -> None:
    login(make_user(role))
    admin_rules = [r for r in _rules(app) if r.endpoint.startswith("admin.")]
    assert admin_rules
    for rule in admin_rules:
        url = _url_for(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 403, (role, method, url, response.status_code)


def test_json_clients_get_401_not_a_redirect(client) -> None:
    response = client.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "authentication required"}
