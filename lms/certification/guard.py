"""``certified_required``: the coarse check on every partner-tools route.

It asks the database on each request, so access ends the moment a requirement lapses:
the yes or no is read with the log-in session itself on these pages (a page rider of
:mod:`lms.accounts.sessions`, the same clauses as
:func:`lms.certification.services.is_certified_now`, which answers where the session did
not); when it is refused, :func:`~lms.certification.services.certification_status`
says what is missing. Staff are never "certified": the tools are
the partner therapists' own (clinicians and admins get 403).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from lms.accounts import sessions
from lms.accounts.models import Role
from lms.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])

CERTIFIED_ATTR = "_lms_certified_required"
CERTIFIED_NOW = "certified_now"  # the session rider's name


def certified_required(view: F) -> F:
    """Open the view only to certified therapists; others are told what is missing."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from lms.certification.services import certification_status, is_certified_now

        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != Role.THERAPIST:
            abort(403)
        user = current_user._get_current_object()  # type: ignore[attr-defined]
        certified = sessions.loaded(CERTIFIED_NOW, user.id)  # read with the session
        if certified is None:
            certified = is_certified_now(user)  # one statement
        if certified:  # the full checklist only when refused
            return view(*args, **kwargs)
        status = certification_status(user)
        if status.certified:  # certified between the two reads: the checklist decides
            return view(*args, **kwargs)
        missing = status.next_step
        assert missing is not None
        if _wants_json():
            return {
                "error": "certification required",
                "missing": [r.key for r in status.missing],
            }, 403
        flash(
            f"The partner tools open once you are certified. Missing: {missing.label}. "
            f"{missing.detail}",
            "warning",
        )
        return redirect(url_for("main.dashboard", _anchor="certification"))

    setattr(wrapped, CERTIFIED_ATTR, True)
    return wrapped  # type: ignore[return-value]


def is_certified_endpoint(app: Flask, endpoint: str | None) -> bool:
    """Is ``endpoint`` gated by :func:`certified_required` (the URL-map test uses this)?"""
    view = app.view_functions.get(endpoint) if endpoint else None
    return bool(view is not None and getattr(view, CERTIFIED_ATTR, False))


def _agreement_version() -> int | None:
    from lms.certification import agreements

    current = agreements.current()
    return current.version if current else None


def _certified_column(agreement_version: int | None) -> Any:
    from lms.certification.services import bound_certified_clause

    return bound_certified_clause(agreement_version)


def _certified_params(now: datetime) -> dict[str, Any]:
    return {"now": now, "day": now.astimezone(UTC).date()}


# The guard's yes or no, read with the session on every page the guard opens.
sessions.load_with_session_on(
    CERTIFIED_NOW,
    sessions.PageRider(
        applies=lambda endpoint: is_certified_endpoint(current_app, endpoint),
        version=_agreement_version,
        column=_certified_column,
        params=_certified_params,
    ),
)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )
