"""Licensure helpers: sample files, a license form, and a submitted license."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import inspect, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from lms.extensions import db
from lms.licensure.demo import tiny_pdf, tiny_png
from lms.licensure.models import License
from lms.licensure.services import today


def license_form(**overrides: Any) -> dict[str, Any]:
    day = today()
    data: dict[str, Any] = {
        "license_type": "lmft",
        "state": "CA",
        "number": "lmft 12345",
        "issued_on": (day - timedelta(days=700)).isoformat(),
        "expires_on": (day + timedelta(days=365)).isoformat(),
        "npi": "1234567893",
    }
    data.update(overrides)
    return data


def pdf_file(name: str = "license.pdf", data: bytes | None = None) -> tuple[io.BytesIO, str]:
    return io.BytesIO(tiny_pdf() if data is None else data), name


def png_file(name: str = "license.png") -> tuple[io.BytesIO, str]:
    return io.BytesIO(tiny_png()), name


def post_multipart(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    """POST a multipart form encoded in memory (the test client spools big bodies to
    temporary files it never closes, which filterwarnings=error turns into failures)."""
    values = MultiDict()
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                stream, name = item
                item = FileStorage(stream, filename=name, name=key)
            values.add(key, item)
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def submit_license(client: FlaskClient, files: list[Any] | None = None, **overrides: Any) -> Any:
    data = license_form(**overrides)
    data["documents"] = files if files is not None else [pdf_file()]
    return post_multipart(client, "/licensure/licenses/new", data)


@pytest.fixture
def therapist(make_user):
    return make_user("therapist", full_name="Tina Therapist")


@pytest.fixture
def admin(make_user):
    return make_user("admin", full_name="Adam Admin")


@pytest.fixture
def submitted(client, login, therapist) -> Callable[..., License]:
    """Log the therapist in and submit a license through the form."""

    def do(**overrides: Any) -> License:
        login(therapist)
        response = submit_license(client, **overrides)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        db.session.expire_all()
        return db.session.scalars(select(License).order_by(License.id.desc())).first()

    return do


def fresh(obj: Any) -> Any:
    """The row as the database has it now (requests close the session objects came from)."""
    ident = inspect(obj).identity
    db.session.expire_all()
    return db.session.get(type(obj), ident)


def days(n: int) -> date:
    return today() + timedelta(days=n)


@pytest.fixture
def client_for(app, db_session) -> Callable[[Any], FlaskClient]:
    """A separate logged-in client per user (therapist and admin side by side)."""
    from tests.conftest import log_in

    def make(user: Any) -> FlaskClient:
        c = app.test_client()
        response = log_in(c, user)
        assert response.status_code == 302
        return c

    return make
