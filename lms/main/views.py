"""Landing page, each role's dashboard, and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lms.auth import public
from lms.db import utcnow
from lms.extensions import db

bp = Blueprint("main", __name__)


@bp.route("/")
@public
def index() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return render_template("main/index.html")


@bp.route("/dashboard")
def dashboard() -> Any:
    from lms.auth import current_user_obj
    from lms.certification import services as certification
    from lms.licensure import services as licensure
    from lms.training import services as training

    user = current_user_obj()
    learning = []
    licensure_overview = None
    status = None
    certificates = []
    now = utcnow()
    if user.role.value == "therapist":
        certificates = certification.user_certificates(user)
        learning = training.learner_progress(user, certificates, open_only=True)
        licensure_overview = licensure.overview(user, with_attestation=False)
        status = certification.certification_status(
            user,
            now,
            certificates,
            licenses=licensure_overview.licenses,
            policies=licensure_overview.policies,
        )
    elif user.role.value == "admin":
        return redirect(url_for("admin.index"))  # the operations dashboard is the admins' home
    return render_template(
        "main/dashboard.html",
        learning=learning,
        licensure=licensure_overview,
        certification=status,
        certificates=certificates,
        now=now,
    )


@bp.route("/healthz")
@public
def healthz() -> Any:
    """200 when the app can reach its database; 503 with the reason otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        reason = type(exc.orig).__name__ if getattr(exc, "orig", None) else type(exc).__name__
        return {"status": "error", "database": "unreachable", "reason": reason}, 503
    return {"status": "ok", "database": "ok"}
