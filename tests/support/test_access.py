"""Authorization: a therapist never sees another's request, nor any internal row, by any URL."""

from __future__ import annotations

from flask import url_for

from lms.extensions import db
from lms.support import services
from lms.support.models import SupportRequest
from tests.support.conftest import DESCRIPTION, SUBJECT

NOTE = "Internal only: do not show the therapist."


def _support_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("support.")]


def _url(app, rule, request_id: int) -> str:
    values = {arg: request_id for arg in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def test_another_therapists_request_is_404_or_403_on_every_route(
    app, client, make_certified, make_request, make_user, login, mail
) -> None:
    owner, intruder = make_certified(), make_certified()
    request = make_request(owner)
    clinician = make_user("clinician")
    services.add_note(request, clinician, NOTE)
    db.session.commit()
    login(intruder)
    checked = 0
    for rule in _support_rules(app):
        url = _url(app, rule, request.id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"body": "mine now", "on_call": "1"})
            body = response.get_data(as_text=True)
            if rule.arguments:
                assert response.status_code in {403, 404}, (method, url, response.status_code)
            else:
                assert response.status_code in {200, 302, 403, 422}, (method, url)
            assert SUBJECT not in body and DESCRIPTION not in body and NOTE not in body, url
            checked += 1
    assert checked >= 15
    db.session.expire_all()
    row = db.session.get(SupportRequest, request.id)
    assert row.status.value == "open" and row.closed_at is None
    assert all(e.body != "mine now" for e in row.events)
    assert SUBJECT not in client.get("/support").get_data(as_text=True)


def test_the_owner_never_sees_internal_rows_by_any_url(
    app, client, make_certified, make_request, make_user, login
) -> None:
    owner = make_certified()
    request = make_request(owner)
    clinician = make_user("clinician")
    services.add_note(request, clinician, NOTE)
    db.session.commit()
    login(owner)
    for rule in _support_rules(app):
        if "GET" not in rule.methods:
            continue
        response = client.get(_url(app, rule, request.id))
        body = response.get_data(as_text=True)
        assert NOTE not in body, rule.rule
        if rule.endpoint in ("support.detail", "support.thread"):
            assert response.status_code == 200 and "Conversation" in body
        elif rule.endpoint not in ("support.index", "support.new"):
            assert response.status_code == 403, rule.rule


def test_anonymous_visitors_are_sent_to_log_in(app, client, make_certified, make_request) -> None:
    request = make_request(make_certified())
    for rule in _support_rules(app):
        url = _url(app, rule, request.id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 302 and "/login" in response.headers["Location"]
