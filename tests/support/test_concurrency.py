"""The atomic claim under real concurrency: threads, each with its own session and connection.

The rows must be committed for other connections to see them, so these tests use their own
app and database instead of the suite's rolled-back transaction: on PostgreSQL a schema of
its own in the test database (dropped afterwards), on SQLite a file of its own. SQLite has
one writer at a time, so there the same UPDATE is simply serialised; PostgreSQL is where
concurrent claims really race.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from lms import create_app
from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.support import services
from lms.support.models import EventKind, Status, SupportEvent, SupportRequest
from tests.conftest import make_config, migrate_to_head, pg_url
from tests.support.conftest import request_data

SCHEMA = "support_claim_race"


@pytest.fixture(scope="module")
def race_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder: Path = tmp_path_factory.mktemp("claim-race")
    url = pg_url()
    admin = None
    if url:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        race_url = (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={SCHEMA}"})
            .render_as_string(hide_password=False)
        )
    else:
        race_url = f"sqlite:///{folder / 'race.sqlite3'}"
    app = create_app(make_config(DATABASE_URL=race_url, INSTANCE_PATH=str(folder)))
    migrate_to_head(app)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            admin.dispose()


def _users(app: Flask, prefix: str, clinicians: int) -> tuple[int, list[int]]:
    with app.app_context():
        therapist = User(
            email=f"{prefix}-therapist@example.org",
            full_name="Race Therapist",
            password_hash="x",
            role=Role.THERAPIST,
            email_verified_at=utcnow(),
        )
        staff = [
            User(
                email=f"{prefix}-clinician-{n}@example.org",
                full_name=f"Race Clinician {n}",
                password_hash="x",
                role=Role.CLINICIAN,
                email_verified_at=utcnow(),
            )
            for n in range(clinicians)
        ]
        db.session.add_all([therapist, *staff])
        db.session.commit()
        return therapist.id, [u.id for u in staff]


def test_twenty_threads_claim_one_request_exactly_one_wins(race_app: Flask) -> None:
    therapist_id, clinician_ids = _users(race_app, "twenty", 20)
    with race_app.app_context():
        therapist = db.session.get(User, therapist_id)
        request_id = services.file_request(therapist, request_data()).id
        db.session.commit()

    barrier = threading.Barrier(len(clinician_ids))
    results: list[tuple[str, int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(clinician_id: int) -> None:
        with race_app.app_context():
            try:
                barrier.wait(timeout=30)
                services.claim(request_id, clinician_id)  # what the claim button does
                db.session.commit()
                outcome = ("won", clinician_id, clinician_id)
            except services.AlreadyClaimed as taken:
                outcome = ("lost", clinician_id, taken.owner.id)
                db.session.rollback()
            except BaseException as error:  # reported below, never swallowed
                db.session.rollback()
                with lock:
                    errors.append(error)
                return
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(cid,)) for cid in clinician_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(results) == 20
    winners = [r for r in results if r[0] == "won"]
    assert len(winners) == 1
    owner = winners[0][1]
    # Every loser was told who has it.
    assert all(r[2] == owner for r in results if r[0] == "lost")

    with race_app.app_context():
        row = db.session.get(SupportRequest, request_id)
        assert row.claimed_by_id == owner and row.status == Status.CLAIMED
        assert row.version == 2
        claims = db.session.scalar(
            select(func.count())
            .select_from(SupportEvent)
            .where(SupportEvent.request_id == request_id, SupportEvent.kind == EventKind.CLAIMED)
        )
        audited = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "support.claimed", AuditEvent.object_id == str(request_id))
        )
        assert claims == 1 and audited == 1


def test_five_hundred_requests_eight_workers_each_claimed_once(race_app: Flask) -> None:
    therapist_id, clinician_ids = _users(race_app, "fivehundred", 8)
    now = utcnow()
    with race_app.app_context():
        rows: list[dict[str, Any]] = [
            {
                "therapist_id": therapist_id,
                "category": "other",
                "urgency": ("urgent", "high", "routine")[n % 3],
                "subject": f"Load {n}",
                "description": "load test",
                "callback_phone": "303-555-0100",
                "status": Status.OPEN,
                "target_minutes": 15,
                "filed_at": now,
                "due_at": now + timedelta(minutes=15 + n),
                "updated_at": now,
                "version": 1,
            }
            for n in range(500)
        ]
        db.session.execute(insert(SupportRequest), rows)
        db.session.commit()
        ids = set(
            db.session.scalars(
                select(SupportRequest.id).where(SupportRequest.therapist_id == therapist_id)
            )
        )
    assert len(ids) == 500

    won: dict[int, list[int]] = {cid: [] for cid in clinician_ids}
    lost: Counter[int] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(clinician_ids))

    def worker(clinician_id: int) -> None:
        rng = random.Random(clinician_id)
        start.wait(timeout=30)
        while True:
            with race_app.app_context():
                try:
                    # What a clinician does: look at the top of the queue, claim one of it.
                    top = db.session.scalars(
                        select(SupportRequest.id)
                        .where(
                            SupportRequest.status == Status.OPEN,
                            SupportRequest.therapist_id == therapist_id,
                        )
                        .order_by(SupportRequest.due_at)
                        .limit(4)
                    ).all()
                    db.session.commit()  # as the claim view: the UPDATE opens its own transaction
                    if not top:
                        return
                    pick = rng.choice(top)
                    services.claim(pick, clinician_id)
                    db.session.commit()
                    with lock:
                        won[clinician_id].append(pick)
                except services.AlreadyClaimed:
                    db.session.rollback()
                    with lock:
                        lost[clinician_id] += 1
                except BaseException as error:
                    db.session.rollback()
                    with lock:
                        errors.append(error)
                    return

    threads = [threading.Thread(target=worker, args=(cid,)) for cid in clinician_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == []
    claimed = [rid for picks in won.values() for rid in picks]
    assert len(claimed) == 500 and set(claimed) == ids  # each exactly once
    assert sum(1 for picks in won.values() if picks) >= 2  # the workers really competed

    with race_app.app_context():
        owners = dict(
            db.session.execute(
                select(SupportRequest.id, SupportRequest.claimed_by_id).where(
                    SupportRequest.id.in_(ids)
                )
            ).all()
        )
        for clinician_id, picks in won.items():
            assert all(owners[rid] == clinician_id for rid in picks)
        per_request = dict(
            db.session.execute(
                select(SupportEvent.request_id, func.count())
                .where(SupportEvent.request_id.in_(ids), SupportEvent.kind == EventKind.CLAIMED)
                .group_by(SupportEvent.request_id)
            ).all()
        )
        assert set(per_request) == ids and set(per_request.values()) == {1}
