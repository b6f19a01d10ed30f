"""A person's own pages as their history grows: a page's time and statements with more and
more history behind it, in one process, on the seeded PostgreSQL data.

Two histories, each added to one seeded certified partner step by step, timed at each step as
``bench.profile`` times a page (the fastest of ``--rounds`` rounds), and deleted at the end:

- ``outcomes`` (the default): referred patients, each with ``--measurements`` GAD-7 and PHQ-9
  questionnaires, one a month. The seeded partners have at most a few dozen patients; one who
  refers for years has hundreds. Pages: the outcome summary, its second page, the referrals.
- ``thread``: messages in one support request, the partner's and a clinician's in turn (a long
  night about a patient in a dosing session). The seeded threads have at most 7 events. Pages:
  the partner's request and its polled thread, the clinician's review of it.

::

    .venv/bin/python -m bench.history                            # 0, 100, 300 patients more
    .venv/bin/python -m bench.history thread                     # 0, 50, 200 messages
    .venv/bin/python -m bench.history --steps 0,50 --measurements 24 --path /referrals

What is added is marked (patients: their consent dated ``MARK``, an instant no seeded or real
referral has; the request: a submission token starting ``history-``) and removed even when a
step fails; a run cut short is cleaned up by the next one.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The added patients' consent time: how they are found again to be removed.
MARK = datetime(2001, 1, 1, 0, 0, 1, tzinfo=UTC)
FILING_PREFIX = "history-"
STEPS = {"outcomes": "0,100,300", "thread": "0,50,200"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("history", nargs="?", default="outcomes", choices=sorted(STEPS))
    parser.add_argument("--steps", help="how much is added, step by step (patients, messages)")
    parser.add_argument("--measurements", type=int, default=12, help="questionnaires a patient")
    parser.add_argument("--path", action="append", help="pages to time (as the partner)")
    parser.add_argument("--requests", type=int, default=12, help="requests a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--profile", action="store_true", help="at the last step: where the first page's time goes"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import event
    from werkzeug.test import Client

    from bench import prepare, run
    from lms.accounts.models import Role

    app = run.make_app(
        args.database_url or run.DEFAULT_URL,
        secrets.token_hex(32),
        (ROOT / "instance" / "bench").resolve(),
    )
    app.config.update(LMS_ENV="production", DEBUG=False)
    app.jinja_env.auto_reload = False
    engine = app.extensions["lms.db"].engine
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_a: _count(statements))
    with app.app_context():
        remove_added()
        partner = prepare.certified_therapists(1)[0]
        clinician = prepare.staff(Role.CLINICIAN, 1)[0]
        partner_login, clinician_login = prepare.sign_sessions(
            app, [(partner.id, partner.session_token), (clinician.id, clinician.session_token)]
        )
        partner_id, clinician_id = partner.id, clinician.id
        request_id = new_request(partner_id, clinician_id) if args.history == "thread" else 0
    client = Client(app, use_cookies=False)
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    as_partner = {"Cookie": partner_login.cookie, "User-Agent": prepare.USER_AGENT}
    as_clinician = {"Cookie": clinician_login.cookie, "User-Agent": prepare.USER_AGENT}
    if args.history == "outcomes":
        pages = [(p, as_partner) for p in args.path or ["/outcomes", "/outcomes?page=2"]]
        pages += [] if args.path else [("/referrals", as_partner)]
        print(f"partner #{partner_id}; {args.measurements} questionnaires a patient added")
        print(f"{'patients':>9} {'questionnaires':>15}  " + _header(pages))
    else:
        pages = [(p, as_partner) for p in args.path or []] or [
            (f"/support/{request_id}", as_partner),
            (f"/support/{request_id}/thread", as_partner),
            (f"/clinical/support/{request_id}", as_clinician),
        ]
        print(f"partner #{partner_id}, clinician #{clinician_id}, request #{request_id}")
        print(f"{'messages':>9} {'events':>15}  " + _header(pages))
    added = 0
    try:
        for step in [int(n) for n in (args.steps or STEPS[args.history]).split(",")]:
            with app.app_context():
                if args.history == "outcomes":
                    add_patients(partner_id, step - added, args.measurements, start=added)
                    sizes = history_of(partner_id)
                else:
                    add_messages(request_id, partner_id, clinician_id, step - added, start=added)
                    sizes = (step, thread_of(request_id))
                added = step
            cells = []
            for path, headers in pages:
                response = client.get(path, headers=headers, environ_base=environ)
                response.close()  # warm-up: templates compiled
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code}")
                best = float("inf")
                for _ in range(args.rounds):
                    started = time.perf_counter()
                    for _ in range(args.requests):
                        statements[0] = 0
                        client.get(path, headers=headers, environ_base=environ).close()
                    best = min(best, (time.perf_counter() - started) / args.requests)
                cells.append(f"{best * 1000:7.1f} ms, {statements[0]:2d} stmts")
            print(f"{sizes[0]:>9} {sizes[1]:>15}  " + "  ".join(f"{c:>22}" for c in cells))
        if args.profile:
            path, headers = pages[0]
            profiler = cProfile.Profile()
            profiler.runcall(
                lambda: [
                    client.get(path, headers=headers, environ_base=environ).close()
                    for _ in range(args.requests)
                ]
            )
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        with app.app_context():
            patients, requests = remove_added()
        print(f"removed {patients} added patients and {requests} added requests")
    return 0


def _header(pages: list[tuple[str, Any]]) -> str:
    return "  ".join(f"{p if len(p) <= 22 else '…' + p[-21:]:>22}" for p, _ in pages)


def _count(statements: list[int]) -> None:
    statements[0] += 1


def history_of(partner_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from lms.extensions import db
    from lms.outcomes.models import Measurement
    from lms.referrals.models import Referral

    patients = db.session.scalar(select(func.count()).where(Referral.therapist_id == partner_id))
    questionnaires = db.session.scalar(
        select(func.count())
        .select_from(Measurement)
        .join(Referral, Referral.id == Measurement.referral_id)
        .where(Referral.therapist_id == partner_id)
    )
    return patients or 0, questionnaires or 0


def add_patients(partner_id: int, count: int, measurements: int, start: int) -> None:
    """``count`` referred patients of the partner, each with ``measurements`` questionnaires,
    one a month (GAD-7 and PHQ-9 in turn), the newest last month; item 9 answered above 0 on
    one PHQ-9 in ten, as the safety prompt sees it."""
    import random

    from lms.db import utcnow
    from lms.extensions import db
    from lms.outcomes.models import InstrumentKind, Measurement
    from lms.referrals.models import Referral, ReferralStatus
    from lms.scale import SCALE_DOMAIN

    rng = random.Random(start)
    now = utcnow()
    for n in range(start, start + count):
        name = f"History Patient {n:04d}"
        created = now - timedelta(days=31 * (measurements + 1))
        referral = Referral(
            therapist_id=partner_id,
            patient_name=name,
            email=f"history.{n}@mail.{SCALE_DOMAIN}",
            phone="555-0100",
            state="CA",
            prior_treatments="Two SSRIs; weekly psychotherapy for a year.",
            current_medications="Sertraline 100 mg",
            gad7=rng.randint(5, 21),
            phq9=rng.randint(5, 27),
            consent_confirmed_at=MARK,
            status=ReferralStatus.ELIGIBLE,
            created_at=created,
            updated_at=created,
        )
        db.session.add(referral)
        db.session.flush()
        for m in range(measurements):
            kind = InstrumentKind.GAD7 if m % 2 == 0 else InstrumentKind.PHQ9
            items = 7 if kind == InstrumentKind.GAD7 else 9
            answers = [rng.randint(0, 3) for _ in range(items)]
            if kind == InstrumentKind.PHQ9:
                answers[-1] = 1 if rng.random() < 0.1 else 0
            day = (created + timedelta(days=31 * (m + 1))).date()
            db.session.add(
                Measurement(
                    referral_id=referral.id,
                    instrument=kind,
                    administered_on=day,
                    answers=answers,
                    total=sum(answers),
                    recorded_by_id=partner_id,
                )
            )
    db.session.commit()


def new_request(partner_id: int, clinician_id: int) -> int:
    """A resolved request of the partner, claimed and answered by the clinician, with only
    its filing in its thread (resolved: it stays out of the queue and its counts)."""
    from lms.db import utcnow
    from lms.extensions import db
    from lms.support.models import (
        Category,
        EventKind,
        Status,
        SupportEvent,
        SupportRequest,
        Urgency,
    )

    now = utcnow()
    filed = now - timedelta(hours=10)
    request = SupportRequest(
        therapist_id=partner_id,
        category=Category.ACUTE_DOSING,
        urgency=Urgency.URGENT,
        subject="Patient anxious and nauseous during the session",
        description="Thirty minutes in; blood pressure 150/95; asks for guidance.",
        callback_phone="555-0100",
        status=Status.RESOLVED,
        target_minutes=15,
        filed_at=filed,
        due_at=filed + timedelta(minutes=15),
        claimed_by_id=clinician_id,
        claimed_at=filed + timedelta(minutes=2),
        first_response_at=filed + timedelta(minutes=3),
        first_response_by_id=clinician_id,
        resolved_at=now,
        updated_at=now,
        submission_token=f"{FILING_PREFIX}{secrets.token_hex(8)}",
    )
    db.session.add(request)
    db.session.flush()
    db.session.add(
        SupportEvent(
            request_id=request.id,
            actor_id=partner_id,
            kind=EventKind.FILED,
            to_status=Status.OPEN,
            created_at=filed,
        )
    )
    db.session.commit()
    return request.id


def add_messages(
    request_id: int, partner_id: int, clinician_id: int, count: int, start: int
) -> None:
    """``count`` messages more in the request's thread, the clinician's and the partner's in
    turn, a minute apart, with an internal note every tenth."""
    from lms.extensions import db
    from lms.support.models import EventKind, SupportEvent, SupportRequest

    request = db.session.get(SupportRequest, request_id)
    assert request is not None
    for n in range(start, start + count):
        kind = [EventKind.REPLY, EventKind.THERAPIST_REPLY][n % 2]
        if n % 10 == 9:
            kind = EventKind.NOTE
        db.session.add(
            SupportEvent(
                request_id=request_id,
                actor_id=partner_id if kind == EventKind.THERAPIST_REPLY else clinician_id,
                kind=kind,
                internal=kind == EventKind.NOTE,
                body=f"Message {n}: vitals rechecked, " + "patient resting, " * 12,
                created_at=request.filed_at + timedelta(minutes=4 + n),
            )
        )
    db.session.commit()


def thread_of(request_id: int) -> int:
    from sqlalchemy import func, select

    from lms.extensions import db
    from lms.support.models import SupportEvent

    return db.session.scalar(select(func.count()).where(SupportEvent.request_id == request_id)) or 0


def remove_added() -> tuple[int, int]:
    from sqlalchemy import delete, select, text

    from lms.extensions import db
    from lms.outcomes.models import Measurement
    from lms.referrals.models import Referral
    from lms.support.models import SupportAlert, SupportEvent, SupportNotification, SupportRequest

    ids = list(db.session.scalars(select(Referral.id).where(Referral.consent_confirmed_at == MARK)))
    if ids:
        db.session.execute(delete(Measurement).where(Measurement.referral_id.in_(ids)))
        db.session.execute(delete(Referral).where(Referral.id.in_(ids)))
    requests = list(
        db.session.scalars(
            select(SupportRequest.id).where(
                SupportRequest.submission_token.like(f"{FILING_PREFIX}%")
            )
        )
    )
    if requests:
        # A thread is append-only (a trigger refuses deletes); the benchmark's own request
        # goes with its triggers off for this transaction (PostgreSQL's superuser, as here).
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        for model in (SupportEvent, SupportAlert, SupportNotification):
            db.session.execute(delete(model).where(model.request_id.in_(requests)))
        db.session.execute(delete(SupportRequest).where(SupportRequest.id.in_(requests)))
    db.session.commit()
    return len(ids), len(requests)


if __name__ == "__main__":
    raise SystemExit(main())
