"""The navigation's own queries: the unread-alert badge and the partner's match offers.

Both are asked for by templates (``support_unread_alerts()`` in the layout's navigation,
``pending_match_offers()`` in the dashboard's notice). Each runs its query at most once per
render, however many times the page's templates ask (a page is one render: the layout, the
page and its includes), and the offers only for therapists (nobody else receives them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask_login import login_user

from lms.accounts.models import Role, User
from lms.extensions import db
from lms.support.models import AlertKind, SupportAlert
from tests.conftest import QueryCounter
from tests.perf.conftest import add_requests

TWICE_BADGE = "{{ support_unread_alerts() }}|{{ support_unread_alerts() }}"
TWICE_OFFERS = "{{ pending_match_offers()|length }}|{{ pending_match_offers()|length }}"


def _render(app: Flask, user: User | None, source: str, counter: QueryCounter) -> str:
    """``source`` rendered in one request of ``user`` (None: nobody logged in)."""
    with app.test_request_context("/"):
        if user is not None:
            login_user(user)
        with counter:
            return render_template_string(source)


def test_the_badge_counts_once_per_page(
    app: Flask,
    make_user: Callable[..., User],
    count_queries: QueryCounter,
) -> None:
    clinician = make_user(Role.CLINICIAN)
    request = add_requests(make_user(Role.THERAPIST), 1)[0]
    for kind in (AlertKind.NEW_REQUEST, AlertKind.ESCALATION):
        db.session.add(SupportAlert(user_id=clinician.id, request_id=request.id, kind=kind))
    db.session.commit()
    assert _render(app, clinician, TWICE_BADGE, count_queries) == "2|2"
    assert count_queries.count == 1, count_queries.statements


def test_the_badge_costs_nothing_logged_out(app: Flask, count_queries: QueryCounter) -> None:
    assert _render(app, None, TWICE_BADGE, count_queries) == "0|0"
    assert count_queries.count == 0


def test_match_offers_are_read_once_per_page(
    app: Flask, make_user: Callable[..., User], count_queries: QueryCounter
) -> None:
    assert _render(app, make_user(Role.THERAPIST), TWICE_OFFERS, count_queries) == "0|0"
    assert count_queries.count == 1, count_queries.statements


def test_each_render_asks_again(
    app: Flask, make_user: Callable[..., User], count_queries: QueryCounter
) -> None:
    """The memo lives for one render: a later page (or another user) is never served a
    stale count."""
    clinician = make_user(Role.CLINICIAN)
    request = add_requests(make_user(Role.THERAPIST), 1)[0]
    assert _render(app, clinician, TWICE_BADGE, count_queries) == "0|0"
    db.session.add(
        SupportAlert(user_id=clinician.id, request_id=request.id, kind=AlertKind.NEW_REQUEST)
    )
    db.session.commit()
    assert _render(app, clinician, TWICE_BADGE, count_queries) == "1|1"
    assert _render(app, make_user(Role.ADMIN), TWICE_BADGE, count_queries) == "0|0"


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.ADMIN, None])
def test_match_offers_are_not_read_for_anyone_else(
    app: Flask, make_user: Callable[..., User], count_queries: QueryCounter, role: Any
) -> None:
    user = make_user(role) if role is not None else None
    assert _render(app, user, TWICE_OFFERS, count_queries) == "0|0"
    assert count_queries.count == 0, count_queries.statements


def _badge_text(html: str) -> str | None:
    badge = r'<span class="badge">([^<]+)<span class="visually-hidden"> unread alerts'
    found = re.search(badge, html)
    return found.group(1) if found else None


def _badge(html: str) -> int:
    return int(_badge_text(html) or 0)


@pytest.mark.parametrize("unread", [3, 27])
def test_the_badge_is_read_with_the_session(
    client: Any,
    login: Callable[..., Any],
    make_user: Callable[..., User],
    count_queries: QueryCounter,
    unread: int,
) -> None:
    """On a page the badge costs no query of its own: it comes with the session's row."""
    clinician = make_user(Role.CLINICIAN)
    for request in add_requests(make_user(Role.THERAPIST), unread):
        db.session.add(
            SupportAlert(user_id=clinician.id, request_id=request.id, kind=AlertKind.NEW_REQUEST)
        )
    db.session.commit()
    login(clinician)
    with count_queries:
        html = client.get("/clinical/support").get_data(as_text=True)
    assert _badge(html) == unread
    assert html.count("New request: request #") == min(unread, 20)  # the list is capped
    alone = [s for s in count_queries.statements if s.lstrip().startswith("SELECT count(*)")]
    assert not [s for s in alone if "support_alerts" in s], alone
    session_row = [s for s in count_queries.statements if "FROM user_sessions" in s]
    assert len(session_row) == 1 and "support_alerts" in session_row[0]


def test_a_page_that_marks_alerts_read_shows_the_badge_after(
    client: Any, login: Callable[..., Any], make_certified: Callable[..., User]
) -> None:
    """Opening a request marks its alerts read: that very page's badge has them gone."""
    therapist = make_certified()
    first, second = add_requests(therapist, 2)
    for request in (first, first, second):
        db.session.add(
            SupportAlert(user_id=therapist.id, request_id=request.id, kind=AlertKind.REPLY)
        )
    db.session.commit()
    login(therapist)
    assert _badge(client.get("/dashboard").get_data(as_text=True)) == 3
    assert _badge(client.get(f"/support/{first.id}").get_data(as_text=True)) == 1
    assert _badge(client.get("/dashboard").get_data(as_text=True)) == 1


def test_opening_a_request_with_nothing_unread_writes_nothing(
    client: Any,
    login: Callable[..., Any],
    make_certified: Callable[..., User],
    count_queries: QueryCounter,
) -> None:
    """The session's count says there is nothing to mark read: no UPDATE of the alerts;
    with an unread alert, the page marks it (and its badge drops to 0)."""
    therapist = make_certified()
    first, second = add_requests(therapist, 2)
    login(therapist)
    with count_queries:
        assert client.get(f"/support/{first.id}").status_code == 200
    assert not [s for s in count_queries.statements if "UPDATE support_alerts" in s]
    db.session.add(SupportAlert(user_id=therapist.id, request_id=second.id, kind=AlertKind.REPLY))
    db.session.commit()
    with count_queries:
        html = client.get(f"/support/{second.id}").get_data(as_text=True)
    assert [s for s in count_queries.statements if "UPDATE support_alerts" in s]
    assert _badge(html) == 0


@pytest.mark.parametrize(("unread", "shown"), [(99, "99"), (100, "99+"), (140, "99+")])
def test_the_badge_stops_counting_at_its_cap(
    client: Any,
    login: Callable[..., Any],
    make_user: Callable[..., User],
    unread: int,
    shown: str,
) -> None:
    """An account that never reads its alerts: the badge says "99+" and its count stops
    there (the same work with 140 unread as with 100), on the page and when counted alone."""
    from lms.support.notifications import unread_count

    clinician = make_user(Role.CLINICIAN)
    request = add_requests(make_user(Role.THERAPIST), 1)[0]
    db.session.add_all(
        SupportAlert(user_id=clinician.id, request_id=request.id, kind=AlertKind.RENOTIFY)
        for _ in range(unread)
    )
    db.session.commit()
    login(clinician)
    html = client.get("/clinical/support").get_data(as_text=True)
    assert _badge_text(html) == shown
    assert unread_count(clinician.id) == min(unread, 100)
