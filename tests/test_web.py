"""Health check, security headers, error pages, CSRF."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import abort, render_template_string
from flask_login import login_user, logout_user
from jinja2 import ChoiceLoader, DictLoader

from lms.extensions import db


def test_healthz_reports_database_ok(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(app, tmp_path) -> None:
    from lms import create_app
    from tests.conftest import make_config

    broken = create_app(
        make_config(
            DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
            INSTANCE_PATH=str(tmp_path),
        )
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["database"] == "unreachable"
    assert body["reason"]
    with broken.app_context():
        db.engine.dispose()


def test_security_headers_on_every_page(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_pages_have_no_inline_script(client) -> None:
    for path in ("/", "/login", "/register", "/password/forgot"):
        html = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers


def test_vendored_assets_are_served_locally(client) -> None:
    html = client.get("/login").get_data(as_text=True)
    tags = re.findall(r"<(?:script|link)[^>]*>", html)
    assert len(tags) >= 3
    for tag in tags:
        assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), tag  # nothing from a CDN
    asset = client.get("/static/vendor/htmx-2.0.4.min.js")
    assert asset.status_code == 200
    asset.close()


def test_404_page_is_friendly(client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_500_page_shows_no_stack_trace(tmp_path) -> None:
    from lms import create_app
    from lms.auth import public
    from tests.conftest import make_config, migrate_to_head

    other = create_app(
        make_config(DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}", INSTANCE_PATH=str(tmp_path))
    )

    @other.route("/_boom_for_test")
    @public
    def _boom() -> str:
        raise RuntimeError("secret internals")

    migrate_to_head(other)
    response = other.test_client().get("/_boom_for_test")
    page = response.get_data(as_text=True)
    with other.app_context():
        db.engine.dispose()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_413_has_a_friendly_page(app, client) -> None:
    old = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 100
    try:
        response = client.post("/login", data={"email": "x" * 500, "password": "y"})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = old
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)


def test_error_pages_for_each_code(app) -> None:
    with app.test_request_context("/"):
        from werkzeug.exceptions import HTTPException

        from lms.web import _http_error

        for code, title in [(400, "Bad request"), (403, "Not allowed"), (429, "Too many attempts")]:
            try:
                abort(code)
            except HTTPException as exc:
                body, status = _http_error(exc)[:2]
            assert status == code and title in body


def test_csrf_is_enforced_when_enabled(app, client, make_user) -> None:
    user = make_user()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/login", data={"email": user.email, "password": "whatever"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_times_show_in_the_viewers_zone_on_pages_macros_and_outside_a_request(
    app, make_user
) -> None:
    moment = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)
    page = "{% from 'when.html' import when %}{{ t|localtime }}|{{ t|localdate }}|{{ when(t) }}"
    macros = DictLoader({"when.html": "{% macro when(t) %}{{ t|localtime }}{% endmacro %}"})
    denver = make_user(timezone="America/Denver")
    original = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([macros, original])
    try:
        with app.test_request_context():
            login_user(denver)
            shown = render_template_string(page, t=moment)
        # On the page and in an imported macro (which has no page context) alike.
        assert shown == "Jan 15, 2026 10:30 AM MST|Jan 15, 2026|Jan 15, 2026 10:30 AM MST"
        with app.test_request_context():  # nobody logged in: UTC
            logout_user()
            assert render_template_string("{{ t|localtime }}", t=moment) == (
                "Jan 15, 2026 5:30 PM UTC"
            )
        with app.app_context():  # a job rendering an e-mail: no request, no viewer
            assert app.jinja_env.from_string("{{ t|localtime }}").render(t=moment) == (
                "Jan 15, 2026 5:30 PM UTC"
            )
    finally:
        app.jinja_env.loader = original


def test_url_for_each_gives_what_url_for_gives(app) -> None:
    """Lists build each row's link from one URL built once: the same text as url_for."""
    import pytest
    from flask import url_for

    from lms.web import url_for_each

    with app.test_request_context("/"):
        review = url_for_each("support.review", "request_id")
        claim = url_for_each("support.claim", "request_id")
        # Other values of the URL (here a query argument) are kept around the id.
        page = url_for_each("admin.user_detail", "user_id", tab="licenses")
        for id_ in (1, 7, 42, 1000, 987654321):
            assert review(id_) == url_for("support.review", request_id=id_)
            assert claim(id_) == url_for("support.claim", request_id=id_)
            assert page(id_) == url_for("admin.user_detail", user_id=id_, tab="licenses")
        assert review("12") == "/clinical/support/12"
        with pytest.raises(ValueError):
            review("12/../../admin")  # only a number goes in
        with pytest.raises(ValueError, match="not an int part"):
            url_for_each("support.queue", "request_id")
        with pytest.raises(KeyError):
            url_for_each("no.such_endpoint", "id")


def test_status_badge_writes_the_labels_the_macros_wrote() -> None:
    from lms.web import status_badge

    assert status_badge("bad", "Overdue by 5 minutes") == (
        '<span class="status status-bad">Overdue by 5 minutes</span>'
    )
    assert status_badge("ok", "12 minutes left", "support-timing") == (
        '<span class="status status-ok support-timing">12 minutes left</span>'
    )
    assert status_badge("warn", "<b>&") == '<span class="status status-warn">&lt;b&gt;&amp;</span>'
