"""Admin pages: users, staff invitations, the audit log, and mail sent in development."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from lms import audit
from lms.accounts import services
from lms.accounts.models import Invitation, Role, User
from lms.admin import lists, reports
from lms.admin.forms import (
    ActiveForm,
    AuditFilterForm,
    ConfirmForm,
    InviteForm,
    RoleForm,
    TherapistSearchForm,
    UserSearchForm,
)
from lms.audit import AuditEvent
from lms.auth import admin_required, current_user_obj, get_or_404
from lms.db import matches_any, paginate, utcnow
from lms.exports import audited_csv
from lms.extensions import db
from lms.mail import mail_folder
from lms.timezones import viewer_zone
from lms.training.forms import RevokeForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page_arg() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.route("/")
@admin_required
def index() -> Any:
    """The operations dashboard: the onboarding funnel and what needs action now."""
    from lms.licensure.services import today

    now = utcnow()
    funnel, counted_at = reports.recent_funnel(now)
    boxes = reports.dashboard_boxes(now, today())
    return render_template(
        "admin/dashboard.html",
        funnel=funnel,
        funnel_counted_at=counted_at,
        today=today(),
        **boxes,
    )


def _directory_filters(form: TherapistSearchForm) -> reports.DirectoryFilters:
    if not form.validate():
        return reports.DirectoryFilters()
    return reports.DirectoryFilters(
        q=(form.q.data or "").strip(),
        state=form.state.data or "",
        license_type=form.license_type.data or "",
        certification=form.certification.data or "",
        sort=form.sort.data or reports.DEFAULT_SORT,
    )


@bp.route("/therapists")
@admin_required
def therapists() -> Any:
    """The therapist directory: search, filter by state, license type and certification."""
    form = TherapistSearchForm(request.args)
    filters = _directory_filters(form)
    now = utcnow()
    stmt, params = reports.directory_query(filters, now)
    page = paginate(
        db.session,
        stmt,
        _page_arg(),
        current_app.config["PER_PAGE"],
        # A name search reads every therapist's name anyway: counted with the page's rows.
        count_with_rows=bool(filters.q),
        params=params,
        # Unfiltered, nothing is sent with the statement: its page's size is written too.
        write_limit=filters == reports.DirectoryFilters(sort=filters.sort),
    )
    rows = reports.directory_rows(list(page.items), now)
    # Whether the list is filtered: filters with an error are not applied (the form says
    # which), and the count must not claim they were.
    filtered = filters != reports.DirectoryFilters(sort=filters.sort)
    return render_template(
        "admin/therapists.html", form=form, page=page, rows=rows, filtered=filtered
    ), (200 if not form.errors else 422)


@bp.route("/therapists.csv")
@admin_required
def therapists_csv() -> Any:
    """Every therapist the directory shows under the same filters, same order, same columns."""
    form = TherapistSearchForm(request.args)
    filters = _directory_filters(form)
    if form.errors:
        return _filter_error(form)
    now = utcnow()
    stmt, params = reports.directory_query(filters, now)
    rows: list[list[str]] = []
    offset, batch = 0, 500
    while True:  # in batches, so each query of licenses and flags stays small
        users = db.session.execute(stmt.limit(batch).offset(offset), params).all()
        rows.extend(row.csv_values() for row in reports.directory_rows(users, now))
        if len(users) < batch:
            break
        offset += batch
    return audited_csv("therapists", reports.CSV_HEADER, rows)


def _users_query(form: UserSearchForm) -> Any:
    stmt = select(User)
    if form.validate():
        if form.q.data:
            stmt = stmt.where(matches_any(form.q.data, User.email, User.full_name))
        if form.role.data:
            stmt = stmt.where(User.role == Role(form.role.data))
        if form.status.data == "active":
            stmt = stmt.where(User.is_active)
        elif form.status.data == "inactive":
            stmt = stmt.where(~User.is_active)
        elif form.status.data == "unverified":
            stmt = stmt.where(User.email_verified_at.is_(None))
    return stmt.order_by(User.created_at.desc(), User.id.desc())


@bp.route("/users")
@admin_required
def users() -> Any:
    form = UserSearchForm(request.args)
    stmt = _users_query(form)
    page = paginate(db.session, stmt, _page_arg(), current_app.config["PER_PAGE"])
    html = render_template("admin/users.html", form=form, page=page, row=lists.user_row)
    return html, (422 if form.errors else 200)


@bp.route("/users.csv")
@admin_required
def users_csv() -> Any:
    form = UserSearchForm(request.args)
    stmt = _users_query(form)
    if form.errors:
        return _filter_error(form)
    rows = [lists.user_row(u) for u in db.session.scalars(stmt)]
    return audited_csv("users", lists.USER_COLUMNS, rows)


def _filter_error(form: Any) -> Any:
    return {"error": "Check the filters: " + "; ".join(sum(form.errors.values(), []))}, 422


@bp.route("/users/<int:user_id>")
@admin_required
def user_detail(user_id: int) -> Any:
    user = get_or_404(User, user_id, allowed=lambda _u: True)
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            or_(
                (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id)),
                AuditEvent.actor_id == user.id,
            )
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "admin/user_detail.html",
        user=user,
        events=events,
        therapist=reports.therapist_record(user, utcnow()) if user.role == Role.THERAPIST else None,
        revoke_form=RevokeForm(),
        now=utcnow(),
        active_form=ActiveForm(active="0" if user.is_active else "1"),
        role_form=RoleForm(role=user.role.value),
        confirm_form=ConfirmForm(),
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@admin_required
def set_active(user_id: int) -> Any:
    user = get_or_404(User, user_id, allowed=lambda _u: True)
    form = ActiveForm()
    if form.validate_on_submit() and form.active.data in {"0", "1"}:
        try:
            services.set_active(
                current_user_obj(), user, form.active.data == "1", form.reason.data or ""
            )
        except services.AccountError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(
                f"{user.full_name} can log in again."
                if user.is_active
                else f"{user.full_name} is deactivated and has been logged out everywhere.",
                "success",
            )
    else:
        flash("The request was not complete; nothing changed.", "error")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@admin_required
def change_role(user_id: int) -> Any:
    user = get_or_404(User, user_id, allowed=lambda _u: True)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            services.change_role(current_user_obj(), user, Role(form.role.data))
        except services.AccountError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"{user.full_name} is now {user.role.label.lower()}.", "success")
    else:
        flash("Choose a role from the list.", "error")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/resend-verification", methods=["POST"])
@admin_required
def resend_verification(user_id: int) -> Any:
    user = get_or_404(User, user_id, allowed=lambda _u: True)
    if ConfirmForm().validate_on_submit():
        if user.email_verified:
            flash("This e-mail address is already confirmed.", "info")
        else:
            services.send_verification_email(user)
            audit.record("account.verification_resent", user)
            db.session.commit()
            flash(f"A new confirmation link was sent to {user.email}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/mfa-reset", methods=["POST"])
@admin_required
def reset_mfa(user_id: int) -> Any:
    """For a lost phone: two-step verification is cleared and every session of the user ends;
    staff must set it up again at their next log-in before any staff page opens."""
    from lms.accounts import mfa, sessions
    from lms.accounts.models import new_session_token

    user = get_or_404(User, user_id, allowed=lambda _u: True)
    admin = current_user_obj()
    if ConfirmForm().validate_on_submit() and user.mfa_enabled and user.id != admin.id:
        mfa.disable(user, admin, "reset by an admin")
        user.session_token = new_session_token()
        sessions.end_all(user, "two-step verification reset")
        db.session.commit()
        flash(f"Two-step verification was reset for {user.full_name}.", "success")
    else:
        flash("Nothing to reset.", "info")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/invitations", methods=["GET", "POST"])
@admin_required
def invitations() -> Any:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = services.invite_staff(
                current_user_obj(), form.email.data, Role(form.role.data)
            )
        except services.AccountError as error:
            db.session.rollback()
            getattr(form, error.field or "email").errors.append(error.message)
        else:
            db.session.commit()
            flash(f"Invitation sent to {invitation.email}.", "success")
            return redirect(url_for("admin.invitations"))
    stmt = select(Invitation).order_by(Invitation.created_at.desc(), Invitation.id.desc())
    page = paginate(db.session, stmt, _page_arg(), current_app.config["PER_PAGE"])
    status = 422 if form.errors else 200
    return render_template(
        "admin/invitations.html", form=form, page=page, now=utcnow(), confirm_form=ConfirmForm()
    ), status


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@admin_required
def revoke_invitation(invitation_id: int) -> Any:
    invitation = get_or_404(Invitation, invitation_id, allowed=lambda _i: True)
    if ConfirmForm().validate_on_submit():
        try:
            services.revoke_invitation(current_user_obj(), invitation)
        except services.AccountError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"The invitation to {invitation.email} was withdrawn.", "success")
    return redirect(url_for("admin.invitations"))


def _audit_query(form: AuditFilterForm) -> Any:
    stmt = select(AuditEvent)
    if form.validate():
        if form.action.data:
            stmt = stmt.where(AuditEvent.action.like(f"{form.action.data.strip()}%"))
        if form.actor.data:
            stmt = stmt.where(AuditEvent.actor_email == form.actor.data.strip().lower())
        if form.object_type.data:
            stmt = stmt.where(AuditEvent.object_type == form.object_type.data.strip().lower())
        if form.object_id.data:
            stmt = stmt.where(AuditEvent.object_id == form.object_id.data.strip())
        zone = viewer_zone()
        if form.date_from.data:
            start = datetime.combine(form.date_from.data, time.min, tzinfo=zone)
            stmt = stmt.where(AuditEvent.created_at >= start)
        if form.date_to.data:
            end = datetime.combine(form.date_to.data, time.min, tzinfo=zone) + timedelta(days=1)
            stmt = stmt.where(AuditEvent.created_at < end)
    return stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


# The most an export may hold (a year of a busy network's audit log is several times this):
# past it the admin is asked to narrow the dates, rather than sent a file cut short.
AUDIT_EXPORT_LIMIT = 100_000
# The audit log is read for an export in batches of this many rows (on PostgreSQL through a
# server-side cursor), so the rows are never all in memory at once.
AUDIT_EXPORT_BATCH = 2_000


@bp.route("/audit")
@admin_required
def audit_log() -> Any:
    form = AuditFilterForm(request.args)
    page = paginate(db.session, _audit_query(form), _page_arg(), 50)
    zone = viewer_zone()  # once for the page, not once a row
    html = render_template(
        "admin/audit.html",
        form=form,
        page=page,
        row=lambda event: lists.audit_row(event, zone),
        export_limit=AUDIT_EXPORT_LIMIT,
    )
    return html, (422 if form.errors else 200)


@bp.route("/audit.csv")
@admin_required
def audit_csv() -> Any:
    form = AuditFilterForm(request.args)
    stmt = _audit_query(form)
    if form.errors:
        return _filter_error(form)
    matching = stmt.with_only_columns(AuditEvent.id).order_by(None).limit(AUDIT_EXPORT_LIMIT + 1)
    if db.session.scalar(select(func.count()).select_from(matching.subquery())) > (
        AUDIT_EXPORT_LIMIT
    ):
        flash(
            f"These filters match more than {AUDIT_EXPORT_LIMIT:,} events, more than one export "
            "holds. Narrow the dates (From, To) and export each part.",
            "error",
        )
        return redirect(url_for("admin.audit_log", **request.args.to_dict()), 303)
    zone = viewer_zone()
    # The columns the CSV shows, as plain rows: no ORM objects to build and keep.
    events = db.session.execute(
        stmt.with_only_columns(*lists.AUDIT_EXPORT_FIELDS).execution_options(
            yield_per=AUDIT_EXPORT_BATCH
        )
    )
    return audited_csv("audit", lists.AUDIT_COLUMNS, (lists.audit_row(e, zone) for e in events))


# --- mail written to instance/mail in development -------------------------------------

_EML_NAME = re.compile(r"^[0-9T]+-[0-9a-f]{8}\.eml$")


def _dev_mail_enabled() -> bool:
    return (
        current_app.config["MAIL_BACKEND"] == "file"
        and current_app.config["LMS_ENV"] != "production"
    )


def _read_eml(name: str) -> email.message.EmailMessage:
    if not _dev_mail_enabled() or not _EML_NAME.match(name):
        abort(404)
    path = mail_folder() / name
    if not path.is_file():
        abort(404)
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


@bp.route("/mail")
@admin_required
def mail() -> Any:
    if not _dev_mail_enabled():
        abort(404)
    folder = mail_folder()
    names = sorted((p.name for p in folder.glob("*.eml")), reverse=True) if folder.is_dir() else []
    per_page = current_app.config["PER_PAGE"]
    page_no = max(1, _page_arg())
    rows = []
    for name in names[(page_no - 1) * per_page : page_no * per_page]:
        message = _read_eml(name)
        rows.append(
            {
                "name": name,
                "to": message["To"],
                "subject": message["Subject"],
                "date": message["Date"],
            }
        )
    pages = max(1, -(-len(names) // per_page))
    return render_template(
        "admin/mail.html", rows=rows, page_no=page_no, pages=pages, total=len(names)
    )


@bp.route("/mail/previews")
@admin_required
def mail_previews() -> Any:
    """Every e-mail template rendered with sample values (development only)."""
    from lms import mail_previews as previews

    if current_app.config["LMS_ENV"] == "production":
        abort(404)
    rendered = [previews.render(name) for name in previews.template_names()]
    return render_template("admin/mail_previews.html", previews=rendered)


@bp.route("/mail/previews/<name>.html")
@admin_required
def mail_preview_html(name: str) -> Any:
    from lms import mail_previews as previews

    if current_app.config["LMS_ENV"] == "production" or name not in previews.template_names():
        abort(404)
    preview = previews.render(name)
    return (
        preview.html or f"<p>{preview.error}</p>",
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": (
                "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
            ),
        },
    )


@bp.route("/mail/<name>")
@admin_required
def mail_message(name: str) -> Any:
    message = _read_eml(name)
    text_part = message.get_body(preferencelist=("plain",))
    return render_template(
        "admin/mail_message.html",
        name=name,
        message=message,
        text=text_part.get_content() if text_part else "",
    )


@bp.route("/mail/<name>/html")
@admin_required
def mail_message_html(name: str) -> Any:
    message = _read_eml(name)
    html_part = message.get_body(preferencelist=("html",))
    body = html_part.get_content() if html_part else ""
    # Shown as a document of its own, sandboxed: no scripts, no same-origin access.
    return (
        body,
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": (
                "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
            ),
        },
    )


# --- certificates ----------------------------------------------------------------------


def _certificates_query(query: str) -> Any:
    from lms.training.models import Certificate

    stmt = select(Certificate)
    if query:
        stmt = stmt.where(matches_any(query, Certificate.holder_name, Certificate.code))
    return stmt.order_by(Certificate.issued_at.desc(), Certificate.id.desc())


@bp.route("/certificates")
@admin_required
def certificates() -> Any:
    query = (request.args.get("q") or "").strip()
    page = paginate(
        db.session, _certificates_query(query), _page_arg(), current_app.config["PER_PAGE"]
    )
    now = utcnow()
    return render_template(
        "admin/certificates.html",
        page=page,
        q=query,
        now=now,
        revoke_form=RevokeForm(),
        row=lambda c: lists.certificate_row(c, now),
    )


@bp.route("/certificates.csv")
@admin_required
def certificates_csv() -> Any:
    query = (request.args.get("q") or "").strip()
    now = utcnow()
    rows = [lists.certificate_row(c, now) for c in db.session.scalars(_certificates_query(query))]
    return audited_csv("certificates", lists.CERTIFICATE_COLUMNS, rows)


@bp.route("/certificates/<int:certificate_id>/revoke", methods=["POST"])
@admin_required
def revoke_certificate(certificate_id: int) -> Any:
    from lms.training import certificates as certs
    from lms.training.models import Certificate

    certificate = get_or_404(Certificate, certificate_id, allowed=lambda _c: True)
    # From the therapist's page, back to it; from the certificates list, back to the list.
    back = (
        redirect(url_for("admin.user_detail", user_id=certificate.user_id))
        if request.form.get("from") == "user"
        else redirect(url_for("admin.certificates", q=certificate.code))
    )
    form = RevokeForm()
    if not form.validate_on_submit():
        flash("Give a reason for revoking the certificate; nothing changed.", "error")
        return back
    try:
        certs.revoke(certificate, current_user_obj(), form.reason.data)
    except ValueError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(f"Certificate {certificate.code} is revoked.", "success")
    return back
