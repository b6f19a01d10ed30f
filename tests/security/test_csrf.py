"""Every state-changing route refuses a request without a valid CSRF token.

Generated from the URL map, so a new POST route is covered the day it is added. The only
exemption is the Stripe webhook, which proves itself with a signature instead.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import methods, rules, url

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_EXEMPT = {"payments.webhook"}


def _unsafe_routes(app):
    return [
        (rule, method)
        for rule in rules(app)
        for method in methods(rule)
        if method in UNSAFE and rule.endpoint not in CSRF_EXEMPT
    ]


def test_the_walk_finds_the_forms(app) -> None:
    assert len(_unsafe_routes(app)) >= 25
    exempt = {r.endpoint for r in rules(app) if r.endpoint in CSRF_EXEMPT}
    assert exempt == CSRF_EXEMPT  # the exemption names a real route


@pytest.mark.parametrize("who", ["anonymous", "certified", "admin"])
@pytest.mark.usefixtures("csrf_on")
def test_unsafe_routes_refuse_missing_or_wrong_tokens(app, users, as_user, who) -> None:
    client = as_user(users[who])
    refused = 0
    for rule, method in _unsafe_routes(app):
        target = url(app, rule)
        for data in ({}, {"csrf_token": "forged-token"}):
            response = client.open(target, method=method, data=data)
            assert response.status_code == 400, (who, method, target, response.status_code)
            assert "form expired" in response.get_data(as_text=True)
            refused += 1
    assert refused == 2 * len(_unsafe_routes(app))


@pytest.mark.usefixtures("csrf_on")
def test_a_token_from_another_session_is_refused(app, users, as_user, client) -> None:
    """A token is bound to its session: one stolen from another user's page does not work."""
    as_user(users["certified"])
    page = client.get("/account").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    as_user(users["admin"])
    with client.session_transaction() as session:
        session.pop("csrf_token", None)  # the admin's own session has no token yet
    response = client.post("/account", data={"csrf_token": token, "full_name": "Hijacked"})
    assert response.status_code == 400
