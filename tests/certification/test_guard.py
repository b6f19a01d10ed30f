"""certified_required: generated from the URL map, checked on every request."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import url_for
from freezegun import freeze_time
from sqlalchemy import select
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from lms.accounts.models import User
from lms.certification.guard import is_certified_endpoint
from lms.certification.services import KEYS, certification_status
from lms.extensions import db
from lms.licensure.models import License, RecordStatus
from lms.training import certificates
from lms.training.models import Certificate
from tests.certification.conftest import give_certificate, give_license


def _gated_rules(app) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if is_certified_endpoint(app, r.endpoint)),
        key=lambda r: r.rule,
    )


def _url(app, rule: Rule) -> str:
    values = {
        arg: 1 if isinstance(rule._converters[arg], NumberConverter) else "sample"
        for arg in rule.arguments
    }
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _get_urls(app) -> list[str]:
    return [_url(app, r) for r in _gated_rules(app) if "GET" in r.methods]


def test_the_tools_hub_is_gated(app) -> None:
    assert "certification.tools" in {r.endpoint for r in _gated_rules(app)}
    assert not is_certified_endpoint(app, "main.dashboard")
    assert not is_certified_endpoint(app, "certification.agreement")


def test_a_certified_therapist_opens_every_gated_page(app, client, make_certified, login) -> None:
    login(make_certified())
    rules = [r for r in _gated_rules(app) if "GET" in r.methods]
    assert rules
    for rule in rules:
        url = _url(app, rule)
        response = client.get(url)
        # A page about one object (an id in the URL) answers 404 for an object that does
        # not exist or is not theirs; the gate itself let the certified therapist through.
        expected = {200, 404} if rule.arguments else {200}
        assert response.status_code in expected, url
    assert "Partner tools" in client.get("/tools").get_data(as_text=True)


@pytest.mark.parametrize("missing", KEYS)
def test_every_gated_route_sends_an_uncertified_therapist_to_the_checklist(
    app, client, make_certified, login, missing
) -> None:
    user = make_certified(skip=() if missing == "account" else (missing,))
    login(user)
    if missing == "account":
        # Unconfirmed accounts cannot log in, but an address can become unconfirmed
        # while a session is open: the guard must notice on the next request.
        db.session.get(User, user.id).email_verified_at = None
        db.session.commit()
    label = certification_status(user).get(missing).label
    for url in _get_urls(app):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/dashboard#certification"), url
        page = client.get("/dashboard").get_data(as_text=True)
        flash = re.search(r'<div class="alert alert-warning"[^>]*>(.*?)</div>', page, re.S)
        assert flash and f"Missing: {label}" in flash.group(1).replace("&#39;", "'"), url
        assert f'data-requirement="{missing}"' in page
        assert "4 of 5" in page


def test_json_clients_get_403_with_the_missing_keys(client, make_certified, login) -> None:
    login(make_certified(skip=("license",)))
    response = client.get("/tools", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json() == {"error": "certification required", "missing": ["license"]}


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_staff_get_403_on_gated_routes(app, client, make_user, login, role) -> None:
    login(make_user(role))
    for url in _get_urls(app):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_go_to_log_in(app, client) -> None:
    for url in _get_urls(app):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_license_expiring_today_ends_access_at_midnight_utc(
    client, make_certified, login
) -> None:
    """Expiry date D: open until 23:59:59 UTC the day before, closed from 00:00 UTC on D."""
    expiry = datetime(2031, 3, 15, tzinfo=UTC)
    with freeze_time(expiry - timedelta(days=30)):
        user = make_certified(skip=("license",))
        give_license(user, expires_on=expiry.date())
    with freeze_time(expiry - timedelta(minutes=5)):
        login(user)
    with freeze_time(expiry - timedelta(seconds=1)):
        assert client.get("/tools").status_code == 200
    with freeze_time(expiry):
        response = client.get("/tools")
        assert response.status_code == 302
        page = client.get("/dashboard").get_data(as_text=True)
        assert "A verified license that has not expired" in page


def test_a_revoked_certificate_ends_access_at_once(
    client, make_certified, make_user, login, required_course
) -> None:
    user = make_certified(skip=("training",))
    certificate = give_certificate(user, required_course)
    login(user)
    assert client.get("/tools").status_code == 200
    admin = make_user("admin")
    certificates.revoke(db.session.get(Certificate, certificate.id), admin, "Issued in error.")
    db.session.commit()
    assert client.get("/tools").status_code == 302
    assert "No valid certificate yet for KAP Required Course" in client.get("/dashboard").get_data(
        as_text=True
    )


def test_the_guard_reads_its_answer_with_the_log_in_session(
    client, make_certified, login, count_queries
) -> None:
    """On a gated page the yes or no comes with the session's own statement: no separate
    check. An ungated page's session statement does not carry it."""
    user = make_certified()
    login(user)
    client.get("/tools")  # the session's activity written: not part of what is counted
    with count_queries as gated:
        assert client.get("/tools").status_code == 200
    session_statement = next(s for s in gated.statements if "user_sessions" in s)
    assert "agreement_acceptances" in session_statement  # the requirements ride along
    assert not [s for s in gated.statements if s is not session_statement and "licenses" in s]
    with count_queries as ungated:
        client.get("/account")
    session_statement = next(s for s in ungated.statements if "user_sessions" in s)
    assert "agreement_acceptances" not in session_statement


def test_the_session_read_answer_refuses_as_the_separate_check_does(
    client, make_certified, login
) -> None:
    """The answer read with the session is the rule's: a lapsed requirement closes the page
    on the very next request (the license here), and the checklist says what is missing."""
    user = make_certified()
    login(user)
    assert client.get("/tools").status_code == 200
    for license in db.session.scalars(select(License).where(License.user_id == user.id)):
        license.status = RecordStatus.REJECTED
    db.session.commit()
    response = client.get("/tools")
    assert response.status_code == 302 and "/dashboard" in response.headers["Location"]
    assert "A verified license that has not expired" in client.get("/dashboard").get_data(
        as_text=True
    )
