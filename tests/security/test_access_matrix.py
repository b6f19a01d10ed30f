"""The route × role matrix: each kind of user gets the expected answer from every route.

Who may use what is written as policy by URL (tests/security/conftest.py: AUDIENCES); the
routes are walked from the URL map, so new routes are held to it automatically.
"""

from __future__ import annotations

from sqlalchemy import func, select

from lms.db import Base
from lms.extensions import db
from tests.security.conftest import AUDIENCES, ROLES, audience, methods, rules, url


def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
        # The audit log records refusals; sessions are opened by the test to act as each user.
        if table.name not in ("audit_events", "user_sessions")
    }


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_route_has_an_audience(app) -> None:
    kinds = {audience(app, r) for r in rules(app)}
    assert kinds <= set(AUDIENCES)
    assert {"public", "admin", "staff", "certified", "member"} <= kinds


def test_refused_roles_are_refused_everywhere_and_change_nothing(app, users, as_user) -> None:
    before = _row_counts()
    checked = 0
    for who in ROLES:
        client = as_user(users[who])
        for rule in rules(app):
            aud = audience(app, rule)
            if who in AUDIENCES[aud]:
                continue
            target = url(app, rule)
            for method in methods(rule):
                response = client.open(target, method=method)
                status = response.status_code
                if who == "anonymous":
                    assert _is_login_redirect(response), (who, method, target, status)
                elif who == "therapist" and aud == "certified":
                    # Not certified yet: sent to the checklist, which names what is missing.
                    assert status == 302, (who, method, target, status)
                    assert "/dashboard" in response.headers["Location"], (method, target)
                else:
                    assert status == 403, (who, method, target, status)
                checked += 1
    assert checked > 150  # the walk really walked
    assert _row_counts() == before  # no refused request wrote anything


def test_allowed_roles_are_let_through(app, users, as_user) -> None:
    """Each allowed role opens every page meant for it (GET; ids may not exist: 404)."""
    for who in ROLES:
        client = as_user(users[who])
        for rule in rules(app):
            aud = audience(app, rule)
            if who not in AUDIENCES[aud] or "GET" not in methods(rule) or aud == "member":
                continue
            target = url(app, rule)
            response = client.get(target)
            assert response.status_code != 403, (who, target)
            assert not _is_login_redirect(response) or aud == "public", (who, target)
            if aud == "certified":
                assert "/dashboard" not in response.headers.get("Location", ""), (who, target)
            assert response.status_code < 500, (who, target)


def test_member_routes_need_a_login_but_no_special_role(app, users, as_user) -> None:
    """Pages for every logged-in user (their profile, dashboard): never a 500 for any role."""
    for who in ("therapist", "certified", "clinician", "admin"):
        client = as_user(users[who])
        for rule in rules(app):
            if audience(app, rule) != "member" or "GET" not in methods(rule):
                continue
            response = client.get(url(app, rule))
            assert response.status_code < 500, (who, rule.rule)
            assert not _is_login_redirect(response), (who, rule.rule)
