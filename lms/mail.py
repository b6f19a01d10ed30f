"""E-mail: rendered in the request, delivered by a background job after commit.

Backends, picked by ``MAIL_BACKEND``: ``smtp`` (when ``MAIL_SERVER`` is set),
``file`` (``.eml`` files under ``instance/mail/``, the embedded default) and
``memory`` (tests). Every message has a plain-text and an HTML part.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from markupsafe import escape

from lms.db import utcnow
from lms.extensions import db
from lms.jobs import job, pending_action

OUTBOX = "lms.mail_outbox"


@dataclass
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    sender: str
    message_id: str


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for e-mails, built on ``BASE_URL`` (never on the request's Host)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path


def send_email(to: str, subject: str, template: str, *, reason: str, **context: Any) -> None:
    """Render ``templates/mail/<template>.{txt,html}`` and deliver it after the commit.

    ``reason`` is the footer line telling the recipient why they got this e-mail.
    """
    send_email_to_each([to], subject, template, reason=reason, **context)


def send_email_to_each(
    recipients: Sequence[str], subject: str, template: str, *, reason: str, **context: Any
) -> None:
    """The same message to each of ``recipients``, each their own copy (nobody sees the
    others' addresses), delivered after the commit.

    Rendered once, and queued with the transaction's other e-mails as one job that gives
    every recipient a delivery job of their own (with its own retries): a request that
    alerts a whole on-call rota does not render and queue the message once per person.
    """
    if not recipients:
        return
    context.update(subject=subject, reason=reason, base_url=current_app.config["BASE_URL"])
    payload = asdict(
        OutgoingEmail(
            to=recipients[0],
            subject=subject,
            text=render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
            sender=current_app.config["MAIL_DEFAULT_SENDER"],
            message_id=_message_id(),
        )
    )
    pending_action(db.session(), _Outgoing).messages.append((payload, list(recipients)))


def send_email_in_zones(
    by_zone: Mapping[str | None, Sequence[str]],
    subject: Callable[[Mapping[str, str]], str],
    template: str,
    *,
    reason: str,
    local: Mapping[str, Callable[[str | None], str]],
    **context: Any,
) -> None:
    """:func:`send_email_to_each` for readers in several time zones, whose copies differ only
    by the ``local`` values (a time written on the reader's clock: ``local["due"](zone)``).

    Rendered once, with a mark where each local value goes; each zone's copy then has its
    values written in (escaped in the HTML part), which is the text that rendering the
    message for that zone gives (``tests/test_mail_and_jobs.py``). A filing that tells the
    on-call clinicians in six time zones renders its e-mail once, not six times. Should a
    mark not come out of the templates whole (a filter applied to a local value), each zone
    is rendered on its own instead: slower, never wrong.
    """
    zones = [z for z, recipients in by_zone.items() if recipients]

    def each_zone_alone() -> None:
        for zone in zones:
            values = {key: value(zone) for key, value in local.items()}
            send_email_to_each(
                by_zone[zone], subject(values), template, reason=reason, **context, **values
            )

    if len(zones) < 2:
        each_zone_alone()
        return
    marks = {key: f"\ue000{key}\ue000" for key in local}
    marked = {**context, **marks, "subject": subject(marks), "reason": reason}
    marked["base_url"] = current_app.config["BASE_URL"]
    text = render_template(f"mail/{template}.txt", **marked)
    html = render_template(f"mail/{template}.html", **marked)
    if not _marks_whole(marks, text, html):
        each_zone_alone()
        return
    outgoing = pending_action(db.session(), _Outgoing)
    for zone in zones:
        values = {key: value(zone) for key, value in local.items()}
        zone_text, zone_html = text, html
        for key, mark in marks.items():
            zone_text = zone_text.replace(mark, values[key])
            zone_html = zone_html.replace(mark, str(escape(values[key])))
        payload = OutgoingEmail(
            to=by_zone[zone][0],
            subject=subject(values),
            text=zone_text,
            html=zone_html,
            sender=current_app.config["MAIL_DEFAULT_SENDER"],
            message_id=_message_id(),
        )
        outgoing.messages.append((asdict(payload), list(by_zone[zone])))


def _marks_whole(marks: Mapping[str, str], *parts: str) -> bool:
    """Whether every mark character in ``parts`` belongs to a whole mark."""
    for part in parts:
        for mark in marks.values():
            part = part.replace(mark, "")
        if "\ue000" in part:
            return False
    return True


class _Outgoing:
    """The e-mails of one transaction, queued at its commit as one job: a filing that tells
    the on-call clinicians in five time zones queues once, not five times."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, str], list[str]]] = []

    def __call__(self) -> None:
        if len(self.messages) > 1:
            deliver_all(self.messages)
            return
        payload, recipients = self.messages[0]
        if len(recipients) == 1:
            deliver_email(payload)
        else:
            deliver_to_each(payload, recipients)


def _message_id() -> str:
    return make_msgid(domain="partner-lms.local")


@job(retries=5, retry_delay=60)
def deliver_all(messages: list[tuple[dict[str, str], list[str]]]) -> None:
    """:func:`deliver_to_each` for each of several messages."""
    for payload, recipients in messages:
        deliver_to_each.call_local(payload, recipients)


@job(retries=5, retry_delay=60)
def deliver_to_each(payload: dict[str, str], recipients: list[str]) -> None:
    """Queue one delivery per recipient, each with its own Message-ID.

    If the queue fails part-way, the retry queues every recipient again: a message may
    then reach someone twice, never nobody (these are mostly clinical alerts).
    """
    for to in recipients:
        deliver_email({**payload, "to": to, "message_id": _message_id()})


@job(retries=5, retry_delay=60)
def deliver_email(payload: dict[str, str]) -> None:
    """Hand one message to the configured backend; Huey retries on failure."""
    message = OutgoingEmail(**payload)
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "smtp":
        _send_smtp(build_mime(message))
    elif backend == "file":
        _write_file(build_mime(message))
    elif backend == "memory":
        current_app.extensions.setdefault(OUTBOX, []).append(message)
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def build_mime(message: OutgoingEmail) -> EmailMessage:
    mime = EmailMessage()
    mime["From"] = message.sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(utcnow())
    mime["Message-ID"] = message.message_id
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


def _send_smtp(mime: EmailMessage) -> None:
    cfg = current_app.config
    host, port, timeout = cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), cfg["MAIL_TIMEOUT"]
    if cfg["MAIL_USE_SSL"]:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if cfg["MAIL_USE_TLS"] and not cfg["MAIL_USE_SSL"]:
            client.starttls(context=ssl.create_default_context())
        if cfg["MAIL_USERNAME"]:
            client.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        client.send_message(mime)


def mail_folder() -> Path:
    return Path(current_app.config["MAIL_FOLDER"])


def _write_file(mime: EmailMessage) -> None:
    folder = mail_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
    tmp = folder / (name + ".part")
    tmp.write_bytes(bytes(mime))
    tmp.rename(folder / name)  # atomic: the dev page never sees half a message


def outbox() -> list[OutgoingEmail]:
    """Messages delivered by the ``memory`` backend (tests)."""
    return current_app.extensions.setdefault(OUTBOX, [])
