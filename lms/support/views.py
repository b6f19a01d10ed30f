"""Support queue pages: therapists file and follow requests, clinicians work the queue.

Therapists (``certified_required``) see their own requests only, and never an internal
row of the history (filtered in SQL). Clinicians and admins (``staff_required``) see the
queue and every request; each staff view of a request is audited. Clinical actions
(claim, reply, waiting for the therapist, resolve, reopen) are the clinicians'; admins may
read, write internal notes and reassign.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from lms import audit
from lms.accounts import sessions
from lms.accounts.models import Role
from lms.auth import current_user_obj, get_or_404, role_required, staff_required
from lms.certification.guard import certified_required
from lms.crypto import matches_words_or_number
from lms.db import paginate, retry_if_locked, utcnow
from lms.extensions import db, limiter, user_or_address
from lms.forms import choices
from lms.support import metrics as support_metrics
from lms.support import notifications, services
from lms.support.forms import (
    ActionForm,
    MessageForm,
    MetricsFilterForm,
    NoteForm,
    OwnRequestFilterForm,
    QueueFilterForm,
    ReassignForm,
    ReplyForm,
    RequestForm,
    TherapistReplyForm,
)
from lms.support.models import Status, SupportAlert, SupportRequest, Urgency
from lms.support.timing import all_targets, target_label, timing
from lms.timezones import localtime, viewer_zone

bp = Blueprint("support", __name__)

PER_PAGE = 25
POLL_SECONDS = 10
ALERTS_SHOWN = 20


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    """``support_unread_alerts()`` for the navigation's badge: counted only if the page asks,
    and once however many of its templates ask (the memo lives for this one render)."""
    return {"support_unread_alerts": functools.cache(_unread_alerts_of_current_user)}


@bp.app_template_filter("alert_badge")
def _alert_badge(count: int) -> str:
    """The badge's text: the number, or "99+" past the cap the count stops at."""
    return notifications.badge(count)


def _unread_alerts_of_current_user() -> int:
    """The badge in the navigation: unread in-app alerts (lazy: only pages that ask)."""
    if not current_user.is_authenticated:
        return 0
    known = sessions.loaded(notifications.UNREAD_ALERTS)  # read with the session
    if known is not None:
        return int(known)
    return notifications.unread_count(current_user.id)


def _retry_if_locked(action: Callable[[], Any], attempts: int = 3) -> Any:
    """Run ``action``; on SQLite, retry when another writer held the lock (a busy database
    is not the user's fault)."""
    return retry_if_locked(db.session, action, attempts)


# --- therapists -------------------------------------------------------------------------------


def _own_request_or_404(request_id: int) -> SupportRequest:
    user = current_user_obj()
    return get_or_404(SupportRequest, request_id, allowed=lambda r: r.therapist_id == user.id)


def _unread_request_ids(user_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(SupportAlert.request_id).where(
                SupportAlert.user_id == user_id, SupportAlert.read_at.is_(None)
            )
        )
    )


@bp.route("/support")
@certified_required
def index() -> Any:
    user = current_user_obj()
    form = OwnRequestFilterForm(request.args)
    valid = form.validate()
    stmt = (
        select(SupportRequest)
        .where(SupportRequest.therapist_id == user.id)
        # The list shows the subject: the description and the call-back number (encrypted)
        # stay unread.
        .options(defer(SupportRequest.description), defer(SupportRequest.callback_phone))
        .order_by(SupportRequest.filed_at.desc(), SupportRequest.id.desc())
    )
    text = (form.q.data or "") if valid else ""
    if text:
        stmt = stmt.where(
            matches_words_or_number(SupportRequest.search_terms, SupportRequest.id, text)
        )
    if valid and form.status.data:
        stmt = stmt.where(SupportRequest.status == Status(form.status.data))
    page = paginate(db.session, stmt, request.args.get("page", 1, type=int), PER_PAGE)
    filtered = bool(text or (valid and form.status.data))
    # Whether the partner has asked anything at all (the empty page says how to start).
    anything = bool(page.total) or (
        filtered
        and db.session.scalar(
            select(SupportRequest.id).where(SupportRequest.therapist_id == user.id).limit(1)
        )
        is not None
    )
    now = utcnow()
    html = render_template(
        "support/index.html",
        form=form,
        page=page,
        anything=anything,
        timings={r.id: timing(r, now) for r in page.items},
        unread=_unread_request_ids(user.id),
    )
    return html, (200 if valid else 422)


def _prepare_request_form(form: RequestForm, user: Any, *, names: bool = True) -> None:
    """The form's choices. ``names=False`` (a submission): only the submitted patient, if it
    is one of the user's referrals: enough to check the choice, with no statement when no
    patient was chosen (names are decrypted only for a page that shows them)."""
    targets = all_targets()
    form.urgency.choices = choices(
        (u.value, f"{u.label}: a clinician responds within {target_label(targets[u])}")
        for u in Urgency
    )
    if names:
        patients = [
            (str(id_), f"Referral #{id_}: {name}") for id_, name in services.own_referrals(user)
        ]
    else:
        chosen = (
            services.own_referral_id(user, form.referral_id.data) if form.referral_id.data else None
        )
        patients = [(str(chosen), f"Referral #{chosen}")] if chosen is not None else []
    form.referral_id.choices = choices([("", "No patient"), *patients])


def _filing_limit() -> str:
    return str(current_app.config["SUPPORT_FILING_RATE_LIMIT"])


def _filing_refused(_limit: Any) -> Response:
    """Over the filing limit: the form comes back with everything typed still in it, and
    what to do now, instead of a bare error page."""
    form = RequestForm()
    _prepare_request_form(form, current_user_obj())
    message = (
        "You have filed many requests in a short time, so this one was not sent. Your text is "
        "still below: send it again in a few minutes, or add it as a reply to one of your open "
        "requests. If a patient may be in danger now, call 911."
    )
    response = make_response(render_template("support/new.html", form=form, error=message), 429)
    response.headers["Retry-After"] = "60"
    return response


@bp.route("/support/new", methods=["GET", "POST"])
@certified_required
@limiter.limit(_filing_limit, methods=["POST"], key_func=user_or_address, on_breach=_filing_refused)
def new() -> Any:
    user = current_user_obj()
    form = RequestForm()
    submitted = form.is_submitted()
    _prepare_request_form(form, user, names=not submitted)
    if not submitted:
        form.submission_token.data = secrets.token_urlsafe(24)
    error = None
    if form.validate_on_submit():
        filed = None
        try:
            filed = services.file_request(user, form.data)
            db.session.commit()
        except services.SupportError as refused:
            db.session.rollback()
            error = refused.message
        except IntegrityError:
            # The same form sent twice at once: the first submission filed it.
            db.session.rollback()
            filed = services.find_by_token(user, form.submission_token.data)
            if filed is None:
                raise
        if filed is not None:
            flash(
                f"Request #{filed.id} filed. A clinician will respond by "
                f"{localtime(filed.due_at)}.",
                "success",
            )
            return redirect(url_for("support.detail", request_id=filed.id))
    if submitted:
        _prepare_request_form(form, user)  # shown again: with the patients' names
    return render_template("support/new.html", form=form, error=error), (
        422 if (form.errors or error) else 200
    )


def _render_detail(
    req: SupportRequest, reply_form: TherapistReplyForm | None = None, error: str | None = None
) -> Any:
    now = utcnow()
    return render_template(
        "support/detail.html",
        req=req,
        events=services.visible_events(req),
        timing=timing(req, now),
        reply_form=reply_form or TherapistReplyForm(formdata=None),
        action_form=ActionForm(formdata=None),
        poll_seconds=POLL_SECONDS,
        since=services.thread_unchanged_token(req, current_user_obj(), now),
        error=error,
    ), (422 if error or (reply_form and reply_form.errors) else 200)


@bp.route("/support/<int:request_id>")
@certified_required
def detail(request_id: int) -> Any:
    req = _own_request_or_404(request_id)
    if notifications.mark_read(current_user_obj().id, utcnow(), [req.id]):
        db.session.commit()
    return _render_detail(req)


@bp.route("/support/<int:request_id>/thread")
@certified_required
def thread(request_id: int) -> Any:
    """The conversation alone, polled by the therapist's page while the request is open;
    204 (no content: the page keeps what it shows) while nothing in it has changed since the
    poll's ``since`` token."""
    req = _own_request_or_404(request_id)
    now = utcnow()
    token = services.thread_unchanged_token(req, current_user_obj(), now)
    if request.args.get("since") == token:
        return Response(status=204)
    return render_template(
        "support/_thread.html",
        req=req,
        events=services.visible_events(req),
        timing=timing(req, now),
        poll_seconds=POLL_SECONDS,
        since=token,
    )


@bp.route("/support/<int:request_id>/reply", methods=["POST"])
@certified_required
def therapist_reply(request_id: int) -> Any:
    req = _own_request_or_404(request_id)
    user = current_user_obj()
    form = TherapistReplyForm()
    if not form.validate_on_submit():
        return _render_detail(req, reply_form=form)
    try:
        _retry_if_locked(lambda: services.therapist_reply(req, user, form.body.data))
    except services.SupportError as refused:
        db.session.rollback()
        return _render_detail(req, reply_form=form, error=refused.message)
    db.session.commit()
    flash("Your reply was sent to the medical team.", "success")
    return redirect(url_for("support.detail", request_id=req.id))


@bp.route("/support/<int:request_id>/close", methods=["POST"])
@certified_required
def close(request_id: int) -> Any:
    req = _own_request_or_404(request_id)
    user = current_user_obj()
    if not ActionForm().validate_on_submit():
        return _render_detail(req, error="Your form expired. Reload the page and try again.")
    try:
        _retry_if_locked(lambda: services.close(req, user))
    except services.SupportError as refused:
        db.session.rollback()
        return _render_detail(req, error=refused.message)
    db.session.commit()
    flash(f"Request #{req.id} is closed.", "success")
    return redirect(url_for("support.detail", request_id=req.id))


# --- clinicians and admins: the queue ---------------------------------------------------------


def _queue_context(*, live: bool = False) -> tuple[dict[str, Any] | None, bool]:
    """What the queue page (or, with ``live``, its polled part) shows, and whether the
    filters were valid. For the polled part: ``None`` when the poll brought the token of
    what the page already shows and nothing has changed since (no rows read, nothing
    rendered)."""
    user = current_user_obj()
    now = utcnow()
    form = QueueFilterForm(request.args)
    valid = form.validate()
    f = services.QueueFilter()
    if valid:
        f = services.QueueFilter(
            mine=bool(form.mine.data),
            unclaimed=bool(form.unclaimed.data),
            overdue=bool(form.overdue.data),
            status=form.status.data or "",
            urgency=form.urgency.data or "",
            q=form.q.data or "",
        )
    unfiltered = f == services.QueueFilter()
    page_number = request.args.get("page", 1, type=int)
    counts = services.queue_counts(now)
    # Read with the session for the badge: a clinician with none unread asks nothing more.
    unread = sessions.loaded(notifications.UNREAD_ALERTS, user.id)
    alerts = [] if unread == 0 else notifications.unread_alerts(user.id, limit=ALERTS_SHOWN)
    token = services.queue_unchanged_token(user, f, page_number, counts, alerts, now)
    if live and token is not None and request.args.get("since") == token:
        return None, valid
    page = paginate(
        db.session,
        services.queue_query(user, f, now),
        page_number,
        PER_PAGE,
        # Unfiltered, the queue is the active requests, just counted; and which rows it reads
        # depends on no value sent with it, so its page's size is written in (planned once).
        total=counts.active if unfiltered else None,
        write_limit=unfiltered,
    )
    # The on-call line and switch are the page's, not the polled part's.
    on_call = [] if live else notifications.on_call_roster()
    args = {k: v for k, v in request.args.to_dict(flat=True).items() if k != "since"}
    if token is not None:
        args["since"] = token
    context = {
        "form": form,
        "page": page,
        "now": now,
        "zone_name": viewer_zone().key,
        "timings": {r.id: timing(r, now) for r in page.items},
        "newest_first": services.newest_first(f),
        "alerts": alerts,
        "on_call": on_call,
        "is_on_call": user.role == Role.CLINICIAN and any(u.id == user.id for u in on_call),
        "is_clinician": user.role == Role.CLINICIAN,
        "counts": counts,
        "poll_seconds": POLL_SECONDS,
        "live_url": url_for("support.queue_live", **args),
    }
    return context, valid


@bp.route("/clinical/support")
@staff_required
def queue() -> Any:
    context, valid = _queue_context()
    assert context is not None  # only the polled part may be answered "unchanged"
    filters = {k: v for k, v in request.args.items() if k not in ("page", "since") and v}
    audit.record("support.queue_viewed", filters=filters or None)
    db.session.commit()
    return render_template("support/queue.html", **context), (200 if valid else 422)


@bp.route("/clinical/support/live")
@staff_required
def queue_live() -> Any:
    """The queue's table, alerts and counts: polled by the open queue page every few seconds.
    Answered 204 (no content; htmx keeps what it shows) when nothing it shows has changed
    since the poll's ``since`` token."""
    context, _valid = _queue_context(live=True)
    if context is None:
        return Response(status=204)
    return render_template("support/_queue_live.html", **context)


@bp.route("/clinical/support/on-call", methods=["POST"])
@role_required(Role.CLINICIAN)
def on_call() -> Any:
    user = current_user_obj()
    if ActionForm().validate_on_submit():
        wanted = request.form.get("on_call") == "1"
        _retry_if_locked(lambda: services.set_on_call(user, wanted))
        db.session.commit()
        if wanted:
            flash("You are on call: new requests reach you by e-mail and in the app.", "success")
        else:
            flash("You are off call.", "success")
    return redirect(url_for("support.queue"))


@bp.route("/clinical/support/alerts/read", methods=["POST"])
@staff_required
def alerts_read() -> Any:
    if ActionForm().validate_on_submit():
        notifications.mark_read(current_user_obj().id, utcnow())
        db.session.commit()
        flash("Alerts marked as read.", "success")
    return redirect(url_for("support.queue"))


# --- clinicians and admins: one request -------------------------------------------------------


def _any_request_or_404(request_id: int) -> SupportRequest:
    return get_or_404(SupportRequest, request_id, allowed=lambda r: True)


def _reassign_form(req: SupportRequest, formdata: Any = None) -> ReassignForm:
    form = ReassignForm(formdata=formdata) if formdata is not None else ReassignForm()
    form.assignee_id.choices = choices(
        [
            ("", "Choose a clinician"),
            *(
                (str(u.id), u.full_name)
                for u in services.assignable_clinicians()
                if u.id != req.claimed_by_id
            ),
        ]
    )
    if formdata is None:
        form.version.data = req.version
    return form


def _render_review(
    req: SupportRequest,
    *,
    error: str | None = None,
    status: int | None = None,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    awaiting_form: MessageForm | None = None,
    resolve_form: MessageForm | None = None,
    reassign_form: ReassignForm | None = None,
) -> Any:
    # Every staff view of a request is in the audit log, re-renders after a POST included.
    user = current_user_obj()
    now = utcnow()
    audit.record("support.viewed", req, object_type=services.OBJECT_TYPE)
    notifications.mark_read(user.id, now, [req.id])
    db.session.commit()
    forms = [reply_form, note_form, awaiting_form, resolve_form, reassign_form]
    code = status or (422 if error or any(f is not None and f.errors for f in forms) else 200)
    return render_template(
        "support/review.html",
        req=req,
        events=services.all_events(req),
        timing=timing(req, now),
        error=error,
        is_clinician=user.role == Role.CLINICIAN,
        reply_form=reply_form or ReplyForm(formdata=None),
        note_form=note_form or NoteForm(formdata=None, prefix="note"),
        awaiting_form=awaiting_form or MessageForm(formdata=None, prefix="awaiting"),
        resolve_form=resolve_form or MessageForm(formdata=None, prefix="resolve"),
        reassign_form=reassign_form or _reassign_form(req),
        action_form=ActionForm(formdata=None),
    ), code


@bp.route("/clinical/support/<int:request_id>")
@staff_required
def review(request_id: int) -> Any:
    return _render_review(_any_request_or_404(request_id))


def _act(
    req: SupportRequest,
    form: Any,
    form_key: str | None,
    action: Callable[[], Any],
    done: str,
) -> Any:
    """Validate, run the service, commit once, and go back to the request."""
    form_args = {form_key: form} if form_key else {}
    if not form.validate_on_submit():
        if form_key is None:
            return _render_review(req, error="Your form expired. Reload the page and try again.")
        return _render_review(req, **form_args)
    try:
        _retry_if_locked(action)
    except services.AlreadyClaimed as taken:
        db.session.rollback()
        return _render_review(req, error=_taken_message(taken), status=409, **form_args)
    except services.SupportError as refused:
        db.session.rollback()
        return _render_review(req, error=refused.message, **form_args)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("support.review", request_id=req.id))


def _taken_message(taken: services.AlreadyClaimed) -> str:
    when = f" at {localtime(taken.claimed_at)}" if taken.claimed_at else ""
    return f"{taken.owner.full_name} claimed this request first{when}. It is theirs now."


@bp.route("/clinical/support/<int:request_id>/claim", methods=["POST"])
@role_required(Role.CLINICIAN)
def claim(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    clinician_id = current_user_obj().id
    if not ActionForm().validate_on_submit():
        return _render_review(req, error="Your form expired. Reload the page and try again.")
    # End the read transaction the page opened, so that the claim's conditional UPDATE is
    # the first statement of its own (on SQLite it then waits for the write lock).
    db.session.commit()
    try:
        _retry_if_locked(lambda: services.claim(request_id, clinician_id))
    except services.AlreadyClaimed as taken:
        db.session.rollback()
        return _render_review(req, error=_taken_message(taken), status=409)
    except services.SupportError as refused:
        db.session.rollback()
        return _render_review(req, error=refused.message, status=409)
    db.session.commit()
    flash(f"You claimed request #{request_id}. Reply to the therapist.", "success")
    return redirect(url_for("support.review", request_id=request_id))


@bp.route("/clinical/support/<int:request_id>/reply", methods=["POST"])
@role_required(Role.CLINICIAN)
def reply(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    user = current_user_obj()
    form = ReplyForm()
    return _act(
        req,
        form,
        "reply_form",
        lambda: services.reply(req, user, form.body.data),
        "Reply sent. The therapist is told by e-mail.",
    )


@bp.route("/clinical/support/<int:request_id>/note", methods=["POST"])
@staff_required
def note(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    user = current_user_obj()
    form = NoteForm(prefix="note")
    return _act(
        req,
        form,
        "note_form",
        lambda: services.add_note(req, user, form.body.data),
        "Internal note added.",
    )


@bp.route("/clinical/support/<int:request_id>/reassign", methods=["POST"])
@staff_required
def reassign(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    user = current_user_obj()
    form = _reassign_form(req, request.form)

    def action() -> Any:
        return services.reassign(
            req, user, int(form.assignee_id.data), form.version.data or req.version
        )

    return _act(req, form, "reassign_form", action, "Request reassigned.")


@bp.route("/clinical/support/<int:request_id>/awaiting", methods=["POST"])
@role_required(Role.CLINICIAN)
def awaiting(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    user = current_user_obj()
    form = MessageForm(prefix="awaiting")
    return _act(
        req,
        form,
        "awaiting_form",
        lambda: services.await_therapist(req, user, form.message.data),
        "The request is waiting for the therapist.",
    )


@bp.route("/clinical/support/<int:request_id>/resolve", methods=["POST"])
@role_required(Role.CLINICIAN)
def resolve(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    user = current_user_obj()
    form = MessageForm(prefix="resolve")
    return _act(
        req,
        form,
        "resolve_form",
        lambda: services.resolve(req, user, form.message.data),
        f"Request #{request_id} resolved.",
    )


@bp.route("/clinical/support/<int:request_id>/reopen", methods=["POST"])
@role_required(Role.CLINICIAN)
def reopen(request_id: int) -> Any:
    req = _any_request_or_404(request_id)
    user = current_user_obj()
    return _act(
        req,
        ActionForm(),
        None,
        lambda: services.reopen(req, user),
        f"Request #{request_id} reopened; it is yours.",
    )


# --- metrics ----------------------------------------------------------------------------------


@bp.route("/clinical/support/metrics")
@staff_required
def metrics() -> Any:
    form = MetricsFilterForm(request.args)
    valid = form.validate()
    report = support_metrics.build(
        form.start.data if valid else None, form.end.data if valid else None, utcnow()
    )
    return render_template(
        "support/metrics.html", form=form, report=report, **support_metrics.chart_context()
    ), (200 if valid else 422)
