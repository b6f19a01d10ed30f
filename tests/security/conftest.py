"""Security suite fixtures: one user of each kind, and the URL map with the access policy."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from lms.accounts.models import UserSession
from lms.auth import is_public_endpoint
from lms.certification.guard import is_certified_endpoint
from lms.extensions import db
from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)
from tests.referrals.conftest import make_referral  # noqa: F401 - fixture
from tests.support.conftest import make_request  # noqa: F401 - fixture
from tests.test_authorization import PUBLIC_ENDPOINTS

ROLES = ("anonymous", "therapist", "certified", "clinician", "admin")

# Who each part of the site is for, by URL. This is the policy the routes must follow,
# written independently of their decorators: a new route under /clinical/ that forgot
# staff_required fails here.
AUDIENCES = {
    "public": set(ROLES),
    "admin": {"admin"},
    "staff": {"clinician", "admin"},
    "certified": {"certified"},
    "member": {"therapist", "certified", "clinician", "admin"},
}


def audience(app: Flask, rule: Rule) -> str:
    if rule.endpoint in PUBLIC_ENDPOINTS or is_public_endpoint(app, rule.endpoint):
        return "public"
    if rule.rule.startswith("/admin"):
        return "admin"
    if rule.rule.startswith("/clinical"):
        return "staff"
    if is_certified_endpoint(app, rule.endpoint):
        return "certified"
    return "member"


def rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule
    )


def url(app: Flask, rule: Rule, ident: int = 1) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        values[arg] = ident if isinstance(converter, NumberConverter) else "sample"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


@pytest.fixture
def users(make_user, make_certified) -> dict[str, Any]:  # noqa: F811
    return {
        "anonymous": None,
        "therapist": make_user("therapist", full_name="Una Uncertified"),
        "certified": make_certified(full_name="Cera Certified"),
        "clinician": make_user("clinician", full_name="Cli Nician"),
        "admin": make_user("admin", full_name="Ad Min"),
    }


def open_session(user: Any) -> str:
    """A server-side session for ``user``, as log-in makes; returns the cookie's value."""
    key = secrets.token_urlsafe(16)
    db.session.add(UserSession(user_id=user.id, key_hash=hashlib.sha256(key.encode()).hexdigest()))
    db.session.commit()
    return f"{user.session_token}:{key}"


@pytest.fixture
def as_user(app: Flask, client: FlaskClient) -> Callable[[Any], FlaskClient]:
    """Put ``user`` in the client's session directly (works with CSRF protection on)."""

    def act(user: Any) -> FlaskClient:
        with client.session_transaction() as session:
            session.clear()
            if user is not None:
                session["_user_id"] = open_session(user)
                session["_fresh"] = True
        return client

    return act


@pytest.fixture
def csrf_on(app: Flask) -> Iterator[None]:
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
