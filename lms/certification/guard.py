"""``certified_required``: the coarse check on every partner-tools route.

It asks the database on each request (one statement,
:func:`lms.certification.services.is_certified_now`), so access ends the moment a
requirement lapses; when it is refused, :func:`~lms.certification.services.certification_status`
says what is missing. Staff are never "certified": the tools are
the partner therapists' own (clinicians and admins get 403).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, flash, redirect, request, url_for
from flask_login import current_user

from lms.accounts.models import Role
from lms.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])

CERTIFIED_ATTR = "_lms_certified_required"


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
        if is_certified_now(user):  # one statement; the full checklist only when refused
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


def is_certified_endpoint(app: Flask, endpoint: str) -> bool:
    """Is ``endpoint`` gated by :func:`certified_required` (the URL-map test uses this)?"""
    view = app.view_functions.get(endpoint)
    return bool(view is not None and getattr(view, CERTIFIED_ATTR, False))


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )
