"""A number too large for an id is bad input like any other: the page says "not found" (or
the form says what is wrong), never a server error.

The ids are INTEGER columns (up to 2**31 - 1). Sent to the database, a larger number fails
the statement itself: PostgreSQL answers "integer out of range", SQLite's driver raises
``OverflowError`` past 2**63 - 1. A URL such as ``/admin/users/99999999999999999999`` (a
mistyped or pasted link) used to answer 500 that way on PostgreSQL.
"""

from __future__ import annotations

import pytest
from werkzeug.routing.converters import NumberConverter

from lms.extensions import db
from tests.security.conftest import AUDIENCES, ROLES, audience, methods, rules, url

# One past the largest INTEGER; past SQLite's 64-bit integers; far past both.
TOO_LARGE = (2**31, 2**63, 10**30)


def _numbered_rules(app):
    return [
        r
        for r in rules(app)
        if any(isinstance(r._converters[arg], NumberConverter) for arg in r.arguments)
    ]


def test_an_id_too_large_for_the_database_is_not_found_on_every_route(app, users, as_user) -> None:
    numbered = _numbered_rules(app)
    assert len(numbered) > 20  # the walk really walks
    checked = 0
    for who in ROLES:
        if who == "anonymous":
            continue
        client = as_user(users[who])
        for rule in numbered:
            if who not in AUDIENCES[audience(app, rule)]:
                continue
            for ident in TOO_LARGE:
                target = url(app, rule, ident)
                for method in methods(rule):
                    response = client.open(target, method=method)
                    assert response.status_code == 404, (who, method, target, response.status_code)
                    db.session.rollback()
                    checked += 1
    assert checked > 100


def test_the_largest_id_is_still_an_id(app, users, as_user) -> None:
    """The bound refuses only what no row can have: 2**31 - 1 still reaches the view (which
    finds no such row)."""
    client = as_user(users["admin"])
    assert client.get(f"/admin/users/{2**31 - 1}").status_code == 404
    # and the view was reached: an existing id on the same route answers 200
    assert client.get(f"/admin/users/{users['therapist'].id}").status_code == 200


@pytest.mark.parametrize("ident", TOO_LARGE)
def test_comp_enrolment_ignores_a_user_id_too_large(app, users, as_user, ident) -> None:
    client = as_user(users["admin"])
    response = client.get(f"/admin/payments/comp?user_id={ident}")
    assert response.status_code == 200


def test_a_route_may_still_narrow_its_ids() -> None:
    """The converter keeps Werkzeug's own arguments; a bound of the route's is kept when it
    is the tighter one."""
    from werkzeug.exceptions import NotFound
    from werkzeug.routing import Map, Rule

    from lms.web import IdConverter

    urls = Map(
        [Rule("/a/<int:n>", endpoint="a"), Rule("/b/<int(min=1, max=9):n>", endpoint="b")],
        converters={"int": IdConverter},
    ).bind("localhost")
    assert urls.match(f"/a/{2**31 - 1}") == ("a", {"n": 2**31 - 1})
    assert urls.match("/b/9") == ("b", {"n": 9})
    for path in (f"/a/{2**31}", "/b/10", "/b/0"):
        with pytest.raises(NotFound):
            urls.match(path)
