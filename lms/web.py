"""Cross-cutting web concerns: security headers, error pages, template helpers."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter, Map

from lms.db import LARGEST_ID
from lms.forms import field
from lms.timezones import localdate_filter, localtime_filter
from lms.training.text import gift_text

ERROR_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    413: "File too large",
    422: "Check your input",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a whole number up to :data:`lms.db.LARGEST_ID`. A larger
    one matches no route (404, like any id that names nothing) instead of reaching the
    database, which would refuse it with an error (a 500)."""

    def __init__(
        self,
        map: Map,  # noqa: A002 (Werkzeug's names, as a rule such as <int(min=1):x> passes them)
        fixed_digits: int = 0,
        min: int | None = None,  # noqa: A002
        max: int | None = None,  # noqa: A002
        signed: bool = False,
    ) -> None:
        top = LARGEST_ID if max is None else builtins.min(max, LARGEST_ID)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=top, signed=signed)


def init_url_converters(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter


class NulCharacter(BadRequest):
    """Text holding a NUL character (U+0000) was sent."""

    description = (
        "What you sent contains a character that cannot be saved (a NUL character, which "
        "can come from pasting text out of some programs). Go back, retype the text and "
        "try again."
    )


def _holds_nul(values: MultiDict[str, Any]) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def _refuse_nul_characters() -> None:
    """No text with a NUL character reaches a view, on any route. No one types one, and
    PostgreSQL can neither store nor compare such text: a search box or a form field holding
    one failed its statement with a 500. Checked before anything else runs: the path, the
    query, the form's fields and the uploaded files' names."""
    if (
        "\x00" in request.path
        or _holds_nul(request.args)
        or (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and (
                _holds_nul(request.form)
                or any("\x00" in (f.filename or "") for _, f in request.files.items(multi=True))
            )
        )
    ):
        raise NulCharacter()


def init_app(app: Flask) -> None:
    # First of every request's checks: the session and the access rules read the database too.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_nul_characters)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.jinja_env.filters["localtime"] = localtime_filter
    app.jinja_env.filters["localdate"] = localdate_filter
    app.jinja_env.filters["gift_text"] = gift_text
    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["field"] = field
    app.jinja_env.globals["url_for_each"] = url_for_each
    app.jinja_env.globals["status_badge"] = status_badge
    app.jinja_env.globals["app_env"] = app.config["LMS_ENV"]


def csrf_field() -> Markup:
    """The CSRF token as a hidden input, as ``form.hidden_tag()`` writes it (less the id,
    which would repeat on a page of several forms), for a form with nothing else to render:
    the navigation's "Log out" on every page, without building a form object for it
    (a quarter of a millisecond a page)."""
    return Markup('<input name="csrf_token" type="hidden" value="{}">').format(generate_csrf())


def status_badge(tone: str, label: str, extra_class: str = "") -> Markup:
    """A coloured status label, ``<span class="status status-<tone>">label</span>``: the
    urgency and the time left of each row of the clinicians' queue (50 a page: a call to this
    costs a fraction of a template macro's)."""
    classes = escape(f"status status-{tone} {extra_class}".rstrip())
    # Both parts escaped here (Markup.format would escape again through string.Formatter,
    # at several times the cost).
    return Markup(f'<span class="{classes}">{escape(label)}</span>')  # noqa: S704


# A number no page lists (more than any id): where an id goes in a URL built once.
_ID_MARK = 987_654_321_012_345_678


def url_for_each(endpoint: str, key: str, **values: Any) -> Callable[[int], str]:
    """``url_for(endpoint, key=id, **values)`` for each of many ids, built once.

    A list of 25 requests links each to its review and claim pages: 50 URL builds a page
    (about 13 microseconds each). The URL is built once with a placeholder id and each row
    fills in its own id, which is the same text ``url_for`` would give (``key`` must be an
    ``int`` part of the rule's path, as in ``/clinical/support/<int:request_id>``).
    """
    if not any(f"<int:{key}>" in rule.rule for rule in current_app.url_map.iter_rules(endpoint)):
        raise ValueError(f"{endpoint}: {key} is not an int part of its URL")
    head, _, tail = url_for(endpoint, **{key: _ID_MARK}, **values).partition(str(_ID_MARK))
    return lambda id_: f"{head}{int(id_)}{tail}"


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def stripe_sources(app: Flask) -> tuple[list[str], list[str]]:
    """Origins Stripe.js needs when payments are on: (script and frame, connect)."""
    cfg = app.config
    if not cfg.get("STRIPE_SECRET_KEY"):
        return [], []
    js = _origin(cfg.get("STRIPE_JS_URL"))
    api = _origin(cfg.get("STRIPE_API_BASE"))
    scripts = [js] if js else []
    return scripts, [o for o in dict.fromkeys([api, js]) if o]


def stripe_frame_sources(app: Flask) -> list[str]:
    scripts, _ = stripe_sources(app)
    # Real Stripe.js shows 3-D Secure challenges in frames from hooks.stripe.com.
    return scripts + (["https://hooks.stripe.com"] if "https://js.stripe.com" in scripts else [])


def content_security_policy(app: Flask) -> str:
    cfg = app.config
    stripe_js, stripe_connect = stripe_sources(app)
    script = " ".join(dict.fromkeys(["'self'", *cfg["CSP_EXTRA_SCRIPT_SRC"], *stripe_js]))
    frame = " ".join(
        dict.fromkeys(["'self'", *cfg["CSP_EXTRA_FRAME_SRC"], *stripe_frame_sources(app)])
    )
    connect = " ".join(dict.fromkeys(["'self'", *cfg["CSP_EXTRA_CONNECT_SRC"], *stripe_connect]))
    return (
        "default-src 'self'; "
        f"script-src {script}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        f"connect-src {connect}; "
        f"frame-src {frame}; "
        "object-src 'none'; "
        "base-uri 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _security_headers(response: Response) -> Response:
    from flask import current_app

    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(current_app))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault(
        "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(self)"
    )
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["HSTS_SECONDS"]:
        headers.setdefault(
            "Strict-Transport-Security",
            f"max-age={current_app.config['HSTS_SECONDS']}; includeSubDomains",
        )
    if request.endpoint != "static" and "Cache-Control" not in headers:
        # Pages may hold personal or health information: keep them out of shared caches.
        headers["Cache-Control"] = "no-store"
    return response


def _wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _render_error(code: int, message: str | None = None) -> Any:
    title = ERROR_TITLES.get(code, "Error")
    if _wants_json():
        return {"error": message or title}, code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    if code < 400:
        return error
    if error.response is not None:  # a page made for this refusal (e.g. the support form's)
        return error.response
    message = None
    if code == 413:
        message = (
            "The file or form you sent is larger than we accept. "
            "Choose a smaller file and try again."
        )
    elif code == 429:
        message = (
            "You have tried this too many times in a short while. Wait a minute and try again."
        )
    elif code == 405:
        message = "That action is not available at this address."
    elif isinstance(error, NulCharacter):
        message = error.description
    response = _render_error(code, message)
    if code == 429 and isinstance(response, tuple):
        return response[0], code, {"Retry-After": "60"}
    return response


def _csrf_error(error: CSRFError) -> Any:
    return _render_error(
        400,
        "Your form expired or was sent from another site. Go back, reload the page and try again.",
    )


def _unexpected_error(error: Exception) -> Any:
    from flask import current_app

    from lms.extensions import db

    if isinstance(error, HTTPException):  # pragma: no cover - handled above
        return _http_error(error)
    db.session.rollback()
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    if current_app.config.get("PROPAGATE_EXCEPTIONS_IN_TESTS"):
        raise error
    return _render_error(
        500,
        "The error has been logged. Try again; if it keeps happening, tell the operations team.",
    )
