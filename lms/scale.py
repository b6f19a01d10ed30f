"""Seeded scale data for performance work: ``flask --app app seed-scale``.

Generates the network as it looks after three years: 5,000 therapists across every state
(weighted by population, most of them somewhere along onboarding), three courses with
200,000 module completions and 60,000 quiz attempts, 8,000 licenses with their documents,
50,000 support requests with 200,000 messages and events, 20,000 referrals, 100,000
outcome questionnaires and 1,000,000 audit rows (``--scale`` multiplies every number).

Rows are written in bulk, never through the ORM one by one: SQLAlchemy Core ``insert()``
with executemany on SQLite, ``COPY`` on PostgreSQL. Primary keys are assigned here (so
rows can point at each other without a round trip) and PostgreSQL's sequences are moved
past them at the end. Every scale account's e-mail ends in ``@scale.example``; they share
the password :data:`SCALE_PASSWORD`, and the staff the demo authenticator secret.

Refuses to run in production, and refuses to add a second copy of the data (``--reset``
empties the database first: the audit log is append-only, so a fresh start is the only
honest way to remove it).
"""

from __future__ import annotations

import enum
import json
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection

from lms.accounts.models import Role, User
from lms.accounts.passwords import hash_password
from lms.crypto import Encrypted, search_terms
from lms.db import mark_written
from lms.extensions import db

SCALE_DOMAIN = "scale.example"
SCALE_PASSWORD = "scale-password-2026"  # noqa: S105 - documented password of generated data
# The demo staff accounts' documented authenticator secret (README); scale staff share it.
SCALE_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105
HISTORY_DAYS = 3 * 365
BATCH = 5000

# Numbers at --scale 1 (the "thousands of therapists and years of history").
FULL_SCALE: dict[str, int] = {
    "therapists": 5_000,
    "clinicians": 60,
    "admins": 16,
    "module_completions": 200_000,
    "quiz_attempts": 60_000,
    "licenses": 8_000,
    "support_requests": 50_000,
    "support_events": 200_000,
    "referrals": 20_000,
    "outcome_measurements": 100_000,
    "audit_events": 1_000_000,
}
MINIMUM = {"therapists": 20, "clinicians": 3, "admins": 2}


# Where therapists are (2020 census, millions), the largest city, and the time zone.
def _words(text_: str) -> list[str]:
    return text_.split(" ")


STATES: dict[str, tuple[float, str, str]] = {
    "CA": (39.5, "Los Angeles", "America/Los_Angeles"),
    "TX": (29.1, "Houston", "America/Chicago"),
    "FL": (21.5, "Jacksonville", "America/New_York"),
    "NY": (20.2, "New York", "America/New_York"),
    "PA": (13.0, "Philadelphia", "America/New_York"),
    "IL": (12.8, "Chicago", "America/Chicago"),
    "OH": (11.8, "Columbus", "America/New_York"),
    "GA": (10.7, "Atlanta", "America/New_York"),
    "NC": (10.4, "Charlotte", "America/New_York"),
    "MI": (10.1, "Detroit", "America/Detroit"),
    "NJ": (9.3, "Newark", "America/New_York"),
    "VA": (8.6, "Virginia Beach", "America/New_York"),
    "WA": (7.7, "Seattle", "America/Los_Angeles"),
    "AZ": (7.2, "Phoenix", "America/Phoenix"),
    "MA": (7.0, "Boston", "America/New_York"),
    "TN": (6.9, "Nashville", "America/Chicago"),
    "IN": (6.8, "Indianapolis", "America/Indiana/Indianapolis"),
    "MD": (6.2, "Baltimore", "America/New_York"),
    "MO": (6.2, "Kansas City", "America/Chicago"),
    "WI": (5.9, "Milwaukee", "America/Chicago"),
    "CO": (5.8, "Denver", "America/Denver"),
    "MN": (5.7, "Minneapolis", "America/Chicago"),
    "SC": (5.1, "Charleston", "America/New_York"),
    "AL": (5.0, "Huntsville", "America/Chicago"),
    "LA": (4.7, "New Orleans", "America/Chicago"),
    "KY": (4.5, "Louisville", "America/New_York"),
    "OR": (4.2, "Portland", "America/Los_Angeles"),
    "OK": (4.0, "Oklahoma City", "America/Chicago"),
    "CT": (3.6, "Bridgeport", "America/New_York"),
    "UT": (3.3, "Salt Lake City", "America/Denver"),
    "IA": (3.2, "Des Moines", "America/Chicago"),
    "NV": (3.1, "Las Vegas", "America/Los_Angeles"),
    "AR": (3.0, "Little Rock", "America/Chicago"),
    "MS": (3.0, "Jackson", "America/Chicago"),
    "KS": (2.9, "Wichita", "America/Chicago"),
    "NM": (2.1, "Albuquerque", "America/Denver"),
    "NE": (2.0, "Omaha", "America/Chicago"),
    "ID": (1.8, "Boise", "America/Boise"),
    "WV": (1.8, "Charleston", "America/New_York"),
    "HI": (1.5, "Honolulu", "Pacific/Honolulu"),
    "NH": (1.4, "Manchester", "America/New_York"),
    "ME": (1.4, "Portland", "America/New_York"),
    "RI": (1.1, "Providence", "America/New_York"),
    "MT": (1.1, "Billings", "America/Denver"),
    "DE": (1.0, "Wilmington", "America/New_York"),
    "SD": (0.9, "Sioux Falls", "America/Chicago"),
    "ND": (0.8, "Fargo", "America/Chicago"),
    "AK": (0.7, "Anchorage", "America/Anchorage"),
    "DC": (0.7, "Washington", "America/New_York"),
    "VT": (0.6, "Burlington", "America/New_York"),
    "WY": (0.6, "Cheyenne", "America/Denver"),
}

FIRST = _words(
    "Alex Amara Ana Ben Camila Carlos Chloe Daniel Dana David Elena Emily Eric Fatima Grace "
    "Hannah Hiro Isaac Jamal Jana Jordan Julia Kai Kate Laila Leo Lucia Maya Marcus Maria Mei "
    "Nadia Nina Noah Omar Olivia Paul Priya Quinn Rachel Rosa Sam Sara Sofia Tariq Tess Theo "
    "Uma Victor Wei Yara Zoe Ruth Henry Iris Felix Gwen Hugo Ivy June"
)
LAST = _words(
    "Adams Ahmed Alvarez Bauer Brooks Chen Cohen Diaz Ellis Evans Fischer Flores Garcia Gupta "
    "Hall Hansen Ito Jackson Johnson Kim Klein Kowalski Lee Lopez Martin Meyer Miller Morales "
    "Nguyen Novak Okafor Olsen Patel Perez Price Quinn Reyes Rossi Sato Schmidt Shah Silva "
    "Smith Suzuki Taylor Torres Tran Walker Wang Weber Williams Wilson Wong Young Zhang Ward "
    "Baker Reed Park Hughes"
)

# Onboarding stages: share of therapists (most are somewhere along the way).
STAGES = {"registered": 0.10, "training": 0.30, "trained": 0.08, "certified": 0.45, "lapsed": 0.07}
LICENSE_TYPES = {
    "lpc": 25,
    "lcsw": 25,
    "lmft": 20,
    "psychologist": 14,
    "lmhc": 8,
    "clinical_psychologist": 4,
    "pmhnp": 3,
    "psychiatrist": 1,
}
CARRIERS = (
    "American Professional Agency",
    "CPH & Associates",
    "The Trust",
    "HPSO",
    "Allied World",
    "Berxi",
)


class ScaleError(click.ClickException):
    """seed-scale refused to run; the message says why."""


def plan_counts(scale: float) -> dict[str, int]:
    """The number of each kind of row at ``scale`` (1.0 = the issue's numbers)."""
    if not 0 < scale <= 10:
        raise ScaleError("--scale must be between 0 and 10.")
    out = {k: max(MINIMUM.get(k, 1), round(v * scale)) for k, v in FULL_SCALE.items()}
    return out


# --- writing rows in bulk ---------------------------------------------------------------------


class Writer:
    """Buffers rows per table and writes them in large batches: COPY on PostgreSQL,
    Core executemany elsewhere. Column defaults are filled in Python, so both write the
    same values. Ids are assigned here (:meth:`next_id`)."""

    def __init__(self, connection: Connection, batch: int = BATCH) -> None:
        self.conn = connection
        self.pg = connection.dialect.name == "postgresql"
        self.batch = batch
        self.buffers: dict[str, list[dict[str, Any]]] = {}
        self.tables: dict[str, Table] = {}
        self.counts: Counter[str] = Counter()
        self._ids: dict[str, int] = {}

    def table(self, name: str) -> Table:
        return db.metadata.tables[name]

    def next_id(self, name: str) -> int:
        if name not in self._ids:
            current = self.conn.scalar(select(func.max(self.table(name).c.id)))
            self._ids[name] = int(current or 0)
        self._ids[name] += 1
        return self._ids[name]

    def add(self, name: str, row: dict[str, Any]) -> None:
        buffer = self.buffers.setdefault(name, [])
        buffer.append(row)
        if len(buffer) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write every buffer, parents before children (foreign keys)."""
        for table in db.metadata.sorted_tables:
            rows = self.buffers.get(table.name)
            if rows:
                self._write(table, rows)
                self.counts[table.name] += len(rows)
                self.buffers[table.name] = []

    def _complete(self, table: Table, rows: list[dict[str, Any]]) -> list[str]:
        """Fill Python-side defaults of columns a row leaves out; returns the column list."""
        names = {k for row in rows for k in row}
        for column in table.columns:
            if column.name in names or column.default is None:
                continue
            default = column.default
            if getattr(default, "is_scalar", False):
                value_of: Callable[[], Any] = lambda d=default: d.arg  # noqa: E731
            elif getattr(default, "is_callable", False):
                value_of = lambda d=default: d.arg(None)  # noqa: E731
            else:
                continue
            for row in rows:
                row[column.name] = value_of()
            names.add(column.name)
        return [c.name for c in table.columns if c.name in names]

    def _write(self, table: Table, rows: list[dict[str, Any]]) -> None:
        columns = self._complete(table, rows)
        if not self.pg:
            self.conn.execute(table.insert(), [{c: row.get(c) for c in columns} for row in rows])
            return
        json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
        # COPY bypasses the column types: encrypted columns are encrypted here, as the
        # executemany path (and the app) does through the types.
        sealed = {c.name: c.type for c in table.columns if isinstance(c.type, Encrypted)}
        dialect = self.conn.dialect
        raw = self.conn.connection.driver_connection
        assert raw is not None
        mark_written(raw)  # written around SQLAlchemy: its transaction is never a read
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        sealed[c].process_bind_param(row.get(c), dialect)
                        if c in sealed
                        else _copy_value(row.get(c), c in json_columns)
                        for c in columns
                    ]
                )

    def finish(self) -> None:
        self.flush()
        if self.pg:
            for name in self.counts:
                table = self.table(name)
                if "id" in table.c and table.c.id.primary_key:
                    # Table names come from the metadata, never from input.
                    sql = f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {name}))"  # noqa: E501, S608
                    self.conn.execute(text(sql))


def _copy_value(value: Any, is_json: bool) -> Any:
    if is_json:
        return None if value is None else json.dumps(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


# --- the generator ----------------------------------------------------------------------------


@dataclass
class Therapist:
    id: int
    name: str
    email: str
    state: str
    joined: datetime
    stage: str
    completions: int = 0
    max_completions: int = 0
    license_states: list[str] = field(default_factory=list)
    certified_since: datetime | None = None
    referrals: list[int] = field(default_factory=list)


@dataclass
class Module:
    id: int
    course: str
    has_quiz: bool
    questions: list[dict[str, Any]]
    settings: dict[str, Any] | None
    version_year: int | None = None


class Generator:
    def __init__(
        self, writer: Writer, counts: dict[str, int], seed: int, echo: Callable[[str], None]
    ):
        self.w = writer
        self.n = counts
        self.rng = random.Random(seed)
        self.echo = echo
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(days=HISTORY_DAYS)
        self.password_hash = hash_password(SCALE_PASSWORD)
        self.therapists: list[Therapist] = []
        self.clinicians: list[int] = []
        self.admins: list[int] = []
        self.user_email: dict[int, str] = {}
        self.made: Counter[str] = Counter()
        self.enrollment_ids: dict[tuple[int, str], int] = {}
        self.subject_terms: dict[str, str] = {}  # the search terms of each category's subject

    # helpers
    def between(self, start: datetime, end: datetime) -> datetime:
        if end <= start:
            return start
        span = (end - start).total_seconds()
        return start + timedelta(seconds=int(self.rng.random() * span))

    def pick_state(self) -> str:
        states = list(STATES)
        return self.rng.choices(states, weights=[STATES[s][0] for s in states])[0]

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def timed(self, label: str, step: Callable[[], None]) -> None:
        started = time.monotonic()
        step()
        self.w.flush()
        self.echo(f"  {label:<28} {time.monotonic() - started:6.1f} s")

    # --- people ---------------------------------------------------------------------------
    def users(self) -> None:
        n = self.n["therapists"]
        stages = []
        for stage, share in STAGES.items():
            stages += [stage] * round(share * n)
        stages = (stages + ["training"] * n)[:n]
        self.rng.shuffle(stages)
        states = list(STATES)
        for i in range(n):
            # Every state is covered first; then the rest follow the population.
            state = states[i] if i < len(states) else self.pick_state()
            # The network grew: more therapists joined recently.
            joined = self.now - timedelta(days=HISTORY_DAYS * (1 - math.sqrt(self.rng.random())))
            if stages[i] in ("certified", "lapsed"):
                joined = min(joined, self.now - timedelta(days=60))
            name = self.name()
            uid = self.w.next_id("users")
            email = f"{name.lower().replace(' ', '.')}.{uid}@{SCALE_DOMAIN}"
            therapist = Therapist(uid, name, email, state, joined, stages[i])
            self.therapists.append(therapist)
            verified = stages[i] != "registered" or self.rng.random() < 0.7
            self._user(uid, email, name, Role.THERAPIST, STATES[state][2], joined, verified)
        for role, count, bucket in (
            (Role.CLINICIAN, self.n["clinicians"], self.clinicians),
            (Role.ADMIN, self.n["admins"], self.admins),
        ):
            for _ in range(count):
                name = ("Dr. " if role == Role.CLINICIAN else "") + self.name()
                uid = self.w.next_id("users")
                email = f"{role.value}.{uid}@{SCALE_DOMAIN}"
                state = self.pick_state()
                joined = self.between(self.start, self.now - timedelta(days=30))
                self._user(uid, email, name, role, STATES[state][2], joined, True, staff=True)
                bucket.append(uid)
        self.made["users"] = n + len(self.clinicians) + len(self.admins)

    def _user(
        self,
        uid: int,
        email: str,
        name: str,
        role: Role,
        zone: str,
        joined: datetime,
        verified: bool,
        staff: bool = False,
    ) -> None:
        self.user_email[uid] = email
        self.w.add(
            "users",
            {
                "id": uid,
                "email": email,
                "full_name": name,
                "password_hash": self.password_hash,
                "role": role.value,
                "timezone": zone,
                "is_active": True,
                "email_verified_at": joined + timedelta(minutes=7) if verified else None,
                "session_token": secrets.token_urlsafe(32),
                "created_at": joined,
                "last_login_at": self.between(joined, self.now) if verified else None,
                "deactivated_at": None,
                "invited_by_id": None,
                "mfa_secret": SCALE_TOTP_SECRET if staff else None,
                "mfa_enabled_at": joined + timedelta(minutes=9) if staff else None,
                "mfa_last_step": None,
            },
        )

    # --- courses --------------------------------------------------------------------------
    def courses(self) -> None:
        """kap-foundations from courses/ (synced if missing), plus two generated courses:
        an advanced course and the yearly refresher (one version a year since 2023)."""
        from lms.training.models import Course, CourseVersion

        foundations = db.session.scalar(select(Course).where(Course.slug == "kap-foundations"))
        if foundations is None or foundations.current_version_id is None:
            from lms.training.sync import sync_all

            _results, problems = sync_all()
            if problems:
                raise ScaleError("courses/ has problems: " + "; ".join(problems))
            foundations = db.session.scalar(select(Course).where(Course.slug == "kap-foundations"))
        if foundations is None or foundations.current_version_id is None:
            raise ScaleError("The kap-foundations course is missing from courses/.")
        version = db.session.get(CourseVersion, foundations.current_version_id)
        assert version is not None
        self.foundations = foundations
        self.evaluation_items = (version.evaluation or {}).get("items", [])
        self.course_modules: dict[str, list[list[Module]]] = {
            "kap-foundations": [
                [
                    Module(m.id, "kap-foundations", m.has_quiz, m.questions, m.quiz_settings)
                    for m in version.modules
                ]
            ]
        }
        quiz_modules = [m for m in version.modules if m.has_quiz and m.questions]
        self.course_rows: dict[str, Course] = {"kap-foundations": foundations}
        self._generated_course(
            "kap-advanced",
            "Advanced KAP Practice: Complex Presentations",
            45000,
            [("2025.1", 2025)],
            36,
            lambda position: position % 6 == 5,
            quiz_modules,
        )
        self._generated_course(
            "kap-refresher",
            "Annual KAP Refresher",
            0,
            [("2023.1", 2023), ("2024.1", 2024), ("2025.1", 2025), ("2026.1", 2026)],
            15,
            lambda position: position == 14,
            quiz_modules,
        )
        db.session.flush()
        self.made["courses"] = 3

    def _generated_course(
        self,
        slug: str,
        title: str,
        price: int,
        versions: list[tuple[str, int]],
        size: int,
        has_quiz: Callable[[int], bool],
        quiz_from: list[Any],
    ) -> None:
        from lms.training.content import render_lesson
        from lms.training.models import Course, CourseVersion, CourseVersionModule, ModuleVersion

        course = db.session.scalar(select(Course).where(Course.slug == slug))
        if course is None:
            course = Course(
                slug=slug,
                title=title,
                summary=f"{title}: generated scale-test content.",
                price_cents=price,
                ce_hours=Decimal("8.0"),
                required_for_certification=False,
                content_status="scale-test",
                content_review_note="Generated by flask seed-scale; not real course content.",
            )
            db.session.add(course)
            db.session.flush()
            for number, (label, _year) in enumerate(versions, start=1):
                cv = CourseVersion(
                    course_id=course.id,
                    number=number,
                    label=label,
                    content_hash=f"scale-{slug}-{label}",
                    evaluation={"title": "Course evaluation", "intro": "", "items": []},
                )
                db.session.add(cv)
                db.session.flush()
                for position in range(size):
                    source = quiz_from[(position + number) % len(quiz_from)]
                    markdown = (
                        f"# {title}, part {position + 1}\n\n"
                        f"Generated lesson {position + 1} of the {label} version. "
                        "It stands in for real content in scale tests.\n\n"
                        + "\n\n".join(
                            f"Paragraph {p + 1}: the therapist's role before, during and after "
                            "a ketamine session, and how to work with the medical team."
                            for p in range(6)
                        )
                    )
                    module = ModuleVersion(
                        course_id=course.id,
                        slug=f"{position + 1:02d}-part-{position + 1}",
                        content_hash=f"scale-{label}-{position}",
                        title=f"Part {position + 1} ({label})",
                        summary="Generated module.",
                        estimated_minutes=25,
                        lesson_markdown=markdown,
                        lesson_html=render_lesson(markdown, ""),
                        quiz_settings=dict(source.quiz_settings) if has_quiz(position) else None,
                        questions=list(source.questions) if has_quiz(position) else [],
                    )
                    db.session.add(module)
                    db.session.flush()
                    db.session.add(
                        CourseVersionModule(
                            course_version_id=cv.id, position=position, module_version_id=module.id
                        )
                    )
                course.current_version_id = cv.id
            db.session.flush()
        self.course_rows[slug] = course
        out = []
        for cv in db.session.scalars(
            select(CourseVersion)
            .where(CourseVersion.course_id == course.id)
            .order_by(CourseVersion.number)
        ):
            year = int(cv.label[:4])
            out.append(
                [
                    Module(m.id, slug, m.has_quiz, m.questions, m.quiz_settings, year)
                    for m in cv.modules
                ]
            )
        self.course_modules[slug] = out

    def path_for(self, t: Therapist) -> list[Module]:
        """The modules a therapist works through, in order: foundations, advanced, then each
        refresher published since they joined."""
        path = list(self.course_modules["kap-foundations"][0])
        path += self.course_modules["kap-advanced"][0]
        for version in self.course_modules["kap-refresher"]:
            if version[0].version_year and version[0].version_year >= t.joined.year:
                path += version
        return path

    # --- training ------------------------------------------------------------------------
    def plan_completions(self) -> None:
        """How many modules each therapist has completed: in-training therapists part of the
        foundations, everybody past training all of it, the rest spread by tenure."""
        target = self.n["module_completions"]
        n_found = len(self.course_modules["kap-foundations"][0])
        weights: list[float] = []
        movable: list[Therapist] = []
        for t in self.therapists:
            t.max_completions = len(self.path_for(t))
            if t.stage == "registered":
                t.completions = t.max_completions = 0
            elif t.stage == "training":
                t.completions = self.rng.randint(0, n_found - 1)
                t.max_completions = t.completions
            else:
                t.completions = n_found
                movable.append(t)
                weights.append(1 + (self.now - t.joined).days / 365)
        left = target - sum(t.completions for t in self.therapists)
        while left > 0 and movable:
            for t in self.rng.choices(movable, weights=weights, k=min(left, 5000)):
                if left and t.completions < t.max_completions:
                    t.completions += 1
                    left -= 1
            open_ = [
                (t, wt)
                for t, wt in zip(movable, weights, strict=True)
                if t.completions < t.max_completions
            ]
            movable = [t for t, _ in open_]
            weights = [wt for _, wt in open_]

    def training(self) -> None:
        self.plan_completions()
        foundations = self.course_rows["kap-foundations"]
        attempts_target = self.n["quiz_attempts"]
        quiz_done: list[tuple[Therapist, Module, datetime, int]] = []
        partial: list[tuple[Therapist, Module, datetime, int]] = []
        for t in self.therapists:
            if t.stage == "registered":
                if self.rng.random() < 0.5 and t.stage == "registered":
                    self._enrollment(t, foundations, "pending_payment", None, None)
                continue
            path = self.path_for(t)
            start = t.joined + timedelta(days=self.rng.randint(1, 20))
            end = self.now - timedelta(days=1)
            if t.stage in ("certified", "lapsed", "trained"):
                end = min(end, start + timedelta(days=self.rng.randint(60, HISTORY_DAYS)))
            times = sorted(self.between(start, end) for _ in range(t.completions))
            enrolled_until: dict[str, tuple[int, datetime | None]] = {}
            for index, (module, done_at) in enumerate(zip(path, times, strict=False)):
                self._progress(t, module, done_at, done_at)
                if module.has_quiz:
                    quiz_done.append((t, module, done_at, index))
                enrolled_until[module.course] = (index, done_at)
            if t.completions < len(path) and t.stage == "training":
                module = path[t.completions]
                lesson_at = self.between(times[-1] if times else start, self.now)
                self._progress(t, module, lesson_at, None)
                if module.has_quiz:
                    partial.append((t, module, lesson_at, t.completions))
            self._enrollments(t, path, times)
        self._attempts(quiz_done, partial, attempts_target)

    def _progress(
        self, t: Therapist, m: Module, lesson_at: datetime, done: datetime | None
    ) -> None:
        self.w.add(
            "module_progress",
            {
                "id": self.w.next_id("module_progress"),
                "user_id": t.id,
                "module_version_id": m.id,
                "lesson_completed_at": lesson_at - timedelta(minutes=20),
                "quiz_passed_at": done if (m.has_quiz and done) else None,
                "best_score": (0.85 + self.rng.random() * 0.15) if (m.has_quiz and done) else None,
                "completed_at": done,
            },
        )
        if done is not None:
            self.made["module_completions"] += 1

    def _enrollments(self, t: Therapist, path: list[Module], times: list[datetime]) -> None:
        done_ids = {m.id for m in path[: len(times)]}
        by_course: dict[str, list[Module]] = {}
        for m in path:
            by_course.setdefault(m.course, []).append(m)
        position = 0
        for slug, modules in by_course.items():
            first = position
            position += len(modules)
            touched = [i for i in range(first, position) if i < len(times)]
            if slug != "kap-foundations" and not touched:
                continue
            current = self.course_modules[slug][-1]
            complete = all(m.id in done_ids for m in current)
            started = times[first] - timedelta(days=2) if touched else t.joined + timedelta(days=1)
            finished = times[position - 1] if complete else None
            last = path[touched[-1]].id if touched else None
            self._enrollment(
                t,
                self.course_rows[slug],
                "completed" if complete else "active",
                started,
                finished,
                last,
            )

    def _enrollment(
        self,
        t: Therapist,
        course: Any,
        status: str,
        started: datetime | None,
        finished: datetime | None,
        last_module: int | None = None,
    ) -> None:
        eid = self.w.next_id("enrollments")
        started = started or t.joined + timedelta(days=1)
        paid = course.price_cents > 0
        roll = self.rng.random()
        source = "free"
        if status == "pending_payment":
            source = "paid"
        elif paid:
            source = (
                "paid" if roll < 0.82 else ("comped" if roll < 0.92 else "no_payment_configured")
            )
        self.w.add(
            "enrollments",
            {
                "id": eid,
                "user_id": t.id,
                "course_id": course.id,
                "course_version_id": course.current_version_id,
                "status": status,
                "source": source,
                "enrolled_at": started,
                "activated_at": None if status == "pending_payment" else started,
                "completed_at": finished,
                "last_module_version_id": last_module,
            },
        )
        self.made["enrollments"] += 1
        self.enrollment_ids[(t.id, course.slug)] = eid
        if paid and source == "paid":
            self._payment(t, course, eid, started, status)
        if finished is not None:
            if course.slug == "kap-foundations" and self.evaluation_items:
                self.w.add(
                    "evaluation_responses",
                    {
                        "id": self.w.next_id("evaluation_responses"),
                        "enrollment_id": eid,
                        "course_version_id": course.current_version_id,
                        "answers": {
                            item["id"]: (
                                self.rng.choice("345") if item["kind"] == "likert" else "Useful."
                            )
                            for item in self.evaluation_items
                        },
                        "submitted_at": finished,
                    },
                )
            self._certificate(t, course, eid, finished)

    def _payment(self, t: Therapist, course: Any, eid: int, at: datetime, status: str) -> None:
        pid = self.w.next_id("payments")
        state = (
            "succeeded" if status != "pending_payment" else self.rng.choice(["pending", "failed"])
        )
        intent = f"pi_scale_{pid}_{secrets.token_hex(4)}"
        self.w.add(
            "payments",
            {
                "id": pid,
                "user_id": t.id,
                "course_id": course.id,
                "enrollment_id": eid,
                "amount_cents": course.price_cents,
                "currency": course.currency,
                "status": state,
                "idempotency_key": f"lms-payment-scale-{pid}-{secrets.token_hex(6)}",
                "attempt": 1,
                "stripe_payment_intent_id": intent,
                "stripe_customer_id": f"cus_scale_{t.id}",
                "failure_message": "Your card was declined." if state == "failed" else None,
                "created_at": at,
                "updated_at": at,
                "submitted_at": at,
                "paid_at": at + timedelta(seconds=5) if state == "succeeded" else None,
            },
        )
        self.made["payments"] += 1
        if state == "succeeded":
            self.w.add(
                "stripe_events",
                {
                    "id": self.w.next_id("stripe_events"),
                    "event_id": f"evt_scale_{pid}_{secrets.token_hex(4)}",
                    "type": "payment_intent.succeeded",
                    "payment_id": pid,
                    "outcome": "activated",
                    "received_at": at + timedelta(seconds=5),
                },
            )

    def _certificate(self, t: Therapist, course: Any, eid: int, issued: datetime) -> None:
        from lms.training.certificates import add_months, new_code

        if course.slug == "kap-foundations":
            if t.stage == "certified":
                # Certified partners hold a valid certificate (recertified within 24 months).
                issued = max(issued, self.now - timedelta(days=self.rng.randint(5, 700)))
                t.certified_since = issued
            elif t.stage == "lapsed" and self.rng.random() < 0.5:
                issued = min(issued, self.now - timedelta(days=760))
        expires = add_months(issued, course.certificate_validity_months)
        revoked = (
            t.stage == "lapsed" and course.slug == "kap-foundations" and self.rng.random() < 0.2
        )
        self.w.add(
            "certificates",
            {
                "id": self.w.next_id("certificates"),
                "code": new_code(),
                "user_id": t.id,
                "course_id": course.id,
                "enrollment_id": eid,
                "course_version_id": course.current_version_id,
                "holder_name": t.name,
                "course_title": course.title,
                "ce_hours": course.ce_hours,
                "approval_statement": course.approval_statement or "",
                "issued_at": issued,
                "expires_at": expires,
                "revoked_at": issued + timedelta(days=200) if revoked else None,
                "revoked_reason": "License action reported by the state board."
                if revoked
                else None,
                "revoked_by_id": self.admins[0] if revoked else None,
            },
        )
        self.made["certificates"] += 1

    def _attempts(
        self,
        done: list[tuple[Therapist, Module, datetime, int]],
        partial: list[tuple[Therapist, Module, datetime, int]],
        target: int,
    ) -> None:
        from lms.training.demo import ideal_response
        from lms.training.gift import Question, ResponseError, grade

        graded: dict[tuple[int, int], tuple[Any, float, Any, float, str, str]] = {}

        def answers_for(m: Module, q_index: int) -> tuple[Any, float, Any, float, str, str]:
            key = (m.id, q_index)
            if key not in graded:
                question = Question.from_dict(m.questions[q_index])
                right = ideal_response(question)
                wrong = right
                if question.kind == "multichoice":
                    bad = [i for i, a in enumerate(question.answers) if a.weight <= 0]
                    wrong = bad[0] if bad else right
                elif question.kind == "truefalse":
                    wrong = not bool(question.correct_answer)
                try:
                    right_f = grade(question, right).fraction or 0.0
                    wrong_f = grade(question, wrong).fraction or 0.0
                except ResponseError:
                    right_f = wrong_f = 0.0
                graded[key] = (right, right_f, wrong, wrong_f, question.kind, question.key())
            return graded[key]

        # Failed tries (at most two) before the pass or before the try still open.
        if len(done) + len(partial) > target:
            # Few learners have started the quiz of the module they are on.
            partial = partial[: max(0, target - len(done))]
        pool = done + partial
        failures = Counter[int]()
        open_ = list(range(len(pool)))
        left = target - len(pool)
        while left > 0 and open_:
            for index in self.rng.choices(open_, k=min(left, 5000)):
                if left > 0 and failures[index] < 2:
                    failures[index] += 1
                    left -= 1
            open_ = [i for i in open_ if failures[i] < 2]
        for index, (t, m, at, _pos) in enumerate(pool):
            passed_at = at if index < len(done) else None
            tries = failures[index]
            when = at - timedelta(hours=tries * 2 + 1)
            for number in range(1, tries + 1):
                self._attempt(t, m, number, when, passing=False, answers_for=answers_for)
                when += timedelta(hours=2)
            if passed_at is not None:
                self._attempt(t, m, tries + 1, passed_at - timedelta(minutes=15), True, answers_for)
            else:
                self._attempt(t, m, tries + 1, when, None, answers_for)

    def _attempt(
        self,
        t: Therapist,
        m: Module,
        number: int,
        started: datetime,
        passing: bool | None,
        answers_for: Callable[[Module, int], tuple[Any, float, Any, float, str, str]],
    ) -> None:
        settings = m.settings or {}
        indices = list(range(len(m.questions)))
        self.rng.shuffle(indices)
        drawn = int(settings.get("questions_per_attempt", 0) or 0)
        if drawn:
            indices = indices[:drawn]
        aid = self.w.next_id("quiz_attempts")
        frozen = []
        chosen = []
        for position, q_index in enumerate(indices):
            question = m.questions[q_index]
            order = list(range(len(question.get("answers", []))))
            if question.get("kind") in ("multichoice", "multiresponse"):
                self.rng.shuffle(order)
            frozen.append({"question": question, "order": order, "options": []})
            chosen.append((position, q_index))
        pass_mark = int(settings.get("pass_mark", 80))
        rows = []
        for position, q_index in chosen:
            right, right_f, wrong, wrong_f, kind, key = answers_for(m, q_index)
            if kind in ("essay", "description"):
                continue
            good = self.rng.random() < (0.92 if passing else 0.5)
            rows.append([position, key, right if good else wrong, right_f if good else wrong_f])
        fractions = [r[3] for r in rows]
        score = sum(fractions) / len(fractions) if fractions else 0.0
        if passing is not None:
            # Nudge the answers until the attempt is as good (or as bad) as it should be.
            for row in rows:
                if (score * 100 >= pass_mark) == passing:
                    break
                right, right_f, wrong, wrong_f, _k, _key = answers_for(m, chosen[row[0]][1])
                row[2], row[3] = (right, right_f) if passing else (wrong, wrong_f)
                fractions = [r[3] for r in rows]
                score = sum(fractions) / len(fractions) if fractions else 0.0
        finished = passing is not None
        self.w.add(
            "quiz_attempts",
            {
                "id": aid,
                "user_id": t.id,
                "enrollment_id": self.enrollment_ids[(t.id, m.course)],
                "module_version_id": m.id,
                "number": number,
                "status": "submitted" if finished else "in_progress",
                "questions": frozen,
                "pass_mark": pass_mark,
                "review": str(settings.get("review", "feedback")),
                "started_at": started,
                "deadline_at": None,
                "submitted_at": started + timedelta(minutes=14) if finished else None,
                "score": score if finished else None,
                "passed": (score * 100 >= pass_mark - 1e-9) if finished else None,
            },
        )
        for position, key, response, fraction in rows if finished else rows[: len(rows) // 2]:
            self.w.add(
                "attempt_answers",
                {
                    "id": self.w.next_id("attempt_answers"),
                    "attempt_id": aid,
                    "position": position,
                    "question_key": key,
                    "response": response,
                    "saved_at": started + timedelta(minutes=1 + position),
                    # Saved answers carry their score (lms.training.quiz.save_answer).
                    "fraction": fraction,
                },
            )
        self.made["quiz_attempts"] += 1

    # --- licensure and certification ------------------------------------------------------
    def licensure(self) -> None:
        from lms.certification import agreements
        from lms.licensure.demo import tiny_pdf

        today = self.now.date()
        target = self.n["licenses"]
        plan: list[tuple[Therapist, str, str]] = []  # (therapist, state, status)
        for t in self.therapists:
            roll = self.rng.random()
            if t.stage == "registered" and roll < 0.2:
                plan.append((t, t.state, "pending"))
            elif t.stage == "training" and roll < 0.5:
                plan.append(
                    (
                        t,
                        t.state,
                        self.rng.choice(["pending"] * 7 + ["changes_requested"] * 2 + ["rejected"]),
                    )
                )
            elif t.stage == "trained" and roll < 0.9:
                plan.append(
                    (
                        t,
                        t.state,
                        self.rng.choice(["pending"] * 6 + ["verified"] * 3 + ["changes_requested"]),
                    )
                )
            elif t.stage == "certified":
                plan.append((t, t.state, "verified"))
            elif t.stage == "lapsed":
                plan.append((t, t.state, "expired" if roll < 0.5 else "verified"))
        partners = [t for t in self.therapists if t.stage == "certified"]
        held = {(t.id, state) for t, state, _ in plan}
        guard = 0
        while len(plan) < target and partners and guard < target * 20:
            guard += 1
            t = self.rng.choice(partners)
            state = self.pick_state()
            if (t.id, state) not in held:
                held.add((t.id, state))
                plan.append((t, state, "verified"))
        plan = plan[:target] if len(plan) > target else plan
        pdf = tiny_pdf("Scale-test license document")
        self.documents: list[tuple[str, bytes]] = []
        types = list(LICENSE_TYPES)
        type_of: dict[int, str] = {}
        for t, state, status in plan:
            kind = type_of.setdefault(
                t.id, self.rng.choices(types, weights=list(LICENSE_TYPES.values()))[0]
            )
            submitted = self.between(t.joined, min(self.now, t.joined + timedelta(days=90)))
            if status == "verified":
                expires = today + timedelta(days=self.rng.randint(10, 730))
                t.license_states.append(state)
            elif status == "expired":
                expires = today - timedelta(days=self.rng.randint(1, 300))
            else:
                expires = today + timedelta(days=self.rng.randint(60, 730))
            decided = status not in ("pending",)
            lid = self.w.next_id("licenses")
            self.w.add(
                "licenses",
                {
                    "id": lid,
                    "user_id": t.id,
                    "expires_on": expires,
                    "status": status,
                    "revision": 1 if status != "changes_requested" else 2,
                    "created_at": submitted,
                    "updated_at": submitted,
                    "submitted_at": submitted,
                    "decided_at": submitted + timedelta(days=2) if decided else None,
                    "decided_by_id": self.rng.choice(self.admins) if decided else None,
                    "decision_method": "State board website" if decided else None,
                    "decision_note": (
                        "The number does not match the board's record."
                        if status in ("rejected", "changes_requested")
                        else None
                    ),
                    "reverify_on": (today + timedelta(days=self.rng.randint(30, 365)))
                    if status == "verified"
                    else None,
                    "reminded_days": None,
                    "license_type": kind,
                    "state": state,
                    "number": f"{state}-{kind[:3].upper()}-{lid:07d}",
                    "issued_on": expires - timedelta(days=self.rng.randint(800, 4000)),
                    "npi": f"1{self.rng.randrange(10**8, 10**9)}",
                },
            )
            self.made["licenses"] += 1
            for copy in range(2 if self.rng.random() < 0.15 else 1):
                self._document(t.id, lid, None, pdf, submitted, f"license-{copy + 1}.pdf")
        current = agreements.current()
        for t in self.therapists:
            if t.stage in ("certified", "lapsed") or (
                t.stage == "trained" and self.rng.random() < 0.5
            ):
                status = "verified" if t.stage != "trained" else "pending"
                iid = self.w.next_id("insurance_policies")
                at = t.joined + timedelta(days=self.rng.randint(3, 40))
                per_claim = self.rng.choice([100_000_000, 200_000_000])
                self.w.add(
                    "insurance_policies",
                    {
                        "id": iid,
                        "user_id": t.id,
                        "expires_on": today + timedelta(days=self.rng.randint(20, 365)),
                        "status": status,
                        "revision": 1,
                        "created_at": at,
                        "updated_at": at,
                        "submitted_at": at,
                        "decided_at": at + timedelta(days=1) if status == "verified" else None,
                        "decided_by_id": self.rng.choice(self.admins)
                        if status == "verified"
                        else None,
                        "decision_method": "Carrier certificate" if status == "verified" else None,
                        "carrier": self.rng.choice(CARRIERS),
                        "policy_number": f"PL-{iid:08d}",
                        "per_claim_cents": per_claim,
                        "aggregate_cents": per_claim * 3,
                    },
                )
                self.made["insurance_policies"] += 1
                self._document(t.id, None, iid, pdf, at, "insurance.pdf")
                self.w.add(
                    "licensure_attestations",
                    {
                        "id": self.w.next_id("licensure_attestations"),
                        "user_id": t.id,
                        "discipline_history": False,
                        "license_restrictions": False,
                        "felony": False,
                        "impairment": False,
                        "current_coverage": True,
                        "explanation": None,
                        "signed_name": t.name,
                        "signed_on": at.date(),
                        "created_at": at,
                    },
                )
            if t.stage in ("certified", "lapsed") and current is not None:
                at = t.joined + timedelta(days=self.rng.randint(30, 59))
                self.w.add(
                    "agreement_acceptances",
                    {
                        "id": self.w.next_id("agreement_acceptances"),
                        "user_id": t.id,
                        "version": current.version,
                        "text_sha256": current.sha256,
                        "full_name_typed": t.name,
                        "accepted_at": at,
                        "ip_address": "198.51.100.7",
                    },
                )
        self._store_documents()

    def _document(
        self,
        user_id: int,
        license_id: int | None,
        insurance_id: int | None,
        pdf: bytes,
        at: datetime,
        name: str,
    ) -> None:
        key = secrets.token_hex(16)
        self.documents.append((key, pdf))
        self.w.add(
            "licensure_documents",
            {
                "id": self.w.next_id("licensure_documents"),
                "user_id": user_id,
                "license_id": license_id,
                "insurance_id": insurance_id,
                "storage_key": key,
                "original_name": name,
                "content_type": "application/pdf",
                "size_bytes": len(pdf),
                "sha256": _sha256(pdf),
                "uploaded_at": at,
            },
        )
        self.made["documents"] += 1

    def _store_documents(self) -> None:
        """The documents' bytes: local files are written directly (no fsync per file, these
        are throw-away test data); other backends go through the storage API."""
        from concurrent.futures import ThreadPoolExecutor
        from pathlib import Path

        from lms.storage import LocalStorage, storage

        sealed = storage()
        backend = sealed.backend
        if isinstance(backend, LocalStorage):
            root = backend.root
            ring = sealed.keys  # taken here: the writer threads have no app context

            def write(item: tuple[str, bytes]) -> None:
                path = Path(root) / item[0][:2] / item[0]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(ring.seal_file(item[1]))  # encrypted, as uploads are

        else:
            raise ScaleError("seed-scale writes documents to local storage only.")
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(write, self.documents))

    # --- practice, referrals and outcomes -------------------------------------------------
    def practice(self) -> None:
        from lms.practice.data import APPROACHES, CONDITIONS, LANGUAGES

        conditions, approaches, languages = list(CONDITIONS), list(APPROACHES), list(LANGUAGES)
        self.profiles_by_state: dict[str, list[Therapist]] = {}
        for t in self.therapists:
            if t.stage != "certified" or self.rng.random() > 0.8:
                continue
            at = (t.certified_since or t.joined) + timedelta(days=2)
            self.w.add(
                "practice_profiles",
                {
                    "id": self.w.next_id("practice_profiles"),
                    "user_id": t.id,
                    "practice_name": f"{t.name.split()[-1]} Counseling",
                    "city": STATES[t.state][1],
                    "state": t.state,
                    "zip_code": None,
                    "in_person": self.rng.random() < 0.7,
                    "telehealth": True,
                    "conditions": self.rng.sample(conditions, 3),
                    "approaches": self.rng.sample(approaches, 2),
                    "other_approaches": None,
                    "languages": ["en"]
                    + (self.rng.sample(languages[1:], 1) if self.rng.random() < 0.2 else []),
                    "fees": "$150-$220 per session; superbills for out-of-network insurance.",
                    "accepting_new_clients": self.rng.random() < 0.75,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            self.made["practice_profiles"] += 1
            for state in {t.state, *t.license_states}:
                self.profiles_by_state.setdefault(state, []).append(t)

    def referrals(self) -> None:
        target = self.n["referrals"]
        senders = [t for t in self.therapists if t.stage in ("certified", "lapsed")]
        weights = [1 + (self.now - (t.certified_since or t.joined)).days / 200 for t in senders]
        self.eligible_referrals: list[tuple[int, int, datetime]] = []  # (id, therapist, since)
        concerns = ["generalized_anxiety", "social_anxiety", "panic", "depression", "ptsd", "other"]
        for _ in range(target):
            rid = self.w.next_id("referrals")
            self_referral = self.rng.random() < 0.1 or not senders
            therapist = None if self_referral else self.rng.choices(senders, weights=weights)[0]
            since = (
                (therapist.certified_since or therapist.joined + timedelta(days=60))
                if therapist
                else self.start
            )
            created = self.between(max(since, self.start), self.now)
            state = therapist.state if therapist else self.pick_state()
            path = self._referral_path(created)
            status = path[-1]
            matched = None
            if self_referral and status == "eligible" and self.rng.random() < 0.6:
                partners = self.profiles_by_state.get(state) or []
                matched = self.rng.choice(partners) if partners else None
            owner = therapist or matched
            name = self.name()
            self.w.add(
                "referrals",
                {
                    "id": rid,
                    "therapist_id": owner.id if owner else None,
                    "source": "self" if self_referral else "therapist",
                    "patient_name": name,
                    "search_terms": search_terms(name),
                    "date_of_birth": None
                    if self_referral
                    else date(
                        self.rng.randint(1950, 2004),
                        self.rng.randint(1, 12),
                        self.rng.randint(1, 28),
                    ),
                    "email": f"patient.{rid}@mail.{SCALE_DOMAIN}",
                    "phone": f"555-01{rid % 100:02d}",
                    "state": state,
                    "primary_concern": None if self_referral else self.rng.choice(concerns),
                    "prior_treatments": "Two SSRIs; weekly psychotherapy for a year.",
                    "current_medications": "Sertraline 100 mg",
                    "gad7": self.rng.randint(5, 21),
                    "phq9": self.rng.randint(5, 27),
                    "consent_confirmed_at": created,
                    "status": status,
                    "status_reason": "Not a candidate at this time."
                    if status == "not_eligible"
                    else None,
                    "age_band": self.rng.choice(["25_34", "35_44", "45_54"])
                    if self_referral
                    else None,
                    "conditions": ["depression", "ptsd"] if self_referral else None,
                    "modality": "either" if self_referral else None,
                    "language": "en" if self_referral else None,
                    "location": STATES[state][1] if self_referral else None,
                    "created_at": created,
                    "updated_at": created,
                },
            )
            self.made["referrals"] += 1
            when = created
            for before, after in zip(path, path[1:], strict=False):
                when = min(self.now, when + timedelta(hours=self.rng.randint(4, 120)))
                self._referral_event(rid, "status", before, after, when)
            if self.rng.random() < 0.25:
                self._referral_event(
                    rid, "note", None, None, min(self.now, when + timedelta(hours=1))
                )
            if owner is not None:
                owner.referrals.append(rid)
                if status == "eligible":
                    self.eligible_referrals.append((rid, owner.id, when))
            if matched is not None:
                self._match_offer(rid, matched.id, when, "accepted")
            elif self_referral and status == "eligible" and self.now - when < timedelta(days=5):
                partners = self.profiles_by_state.get(state) or []
                if partners:
                    self._match_offer(rid, self.rng.choice(partners).id, when, "offered")

    def _referral_path(self, created: datetime) -> list[str]:
        age = self.now - created
        if age < timedelta(days=3):
            return ["new"] if self.rng.random() < 0.6 else ["new", "contacted"]
        if age < timedelta(days=14):
            return self.rng.choice([["new", "contacted"], ["new", "contacted", "intake_scheduled"]])
        end = self.rng.choices(["eligible", "not_eligible", "withdrawn"], weights=[62, 25, 13])[0]
        return ["new", "contacted", "intake_scheduled", end]

    def _referral_event(
        self, rid: int, kind: str, before: str | None, after: str | None, at: datetime
    ) -> None:
        self.w.add(
            "referral_events",
            {
                "id": self.w.next_id("referral_events"),
                "referral_id": rid,
                "actor_id": self.rng.choice(self.clinicians),
                "kind": kind,
                "from_status": before,
                "to_status": after,
                "body": "Left a voicemail; will try again tomorrow." if kind == "note" else None,
                "created_at": at,
            },
        )
        self.made["referral_events"] += 1

    def _match_offer(self, rid: int, partner: int, at: datetime, status: str) -> None:
        self.w.add(
            "match_offers",
            {
                "id": self.w.next_id("match_offers"),
                "referral_id": rid,
                "partner_id": partner,
                "offered_by_id": self.rng.choice(self.clinicians),
                "status": status,
                "offered_at": at,
                "expires_at": at + timedelta(days=3)
                if status == "offered"
                else at + timedelta(days=3),
                "responded_at": at + timedelta(hours=20) if status == "accepted" else None,
                "closed_at": at + timedelta(hours=20) if status == "accepted" else None,
                "decline_reason": None,
            },
        )
        self.made["match_offers"] += 1

    def outcomes(self) -> None:
        """GAD-7 and PHQ-9 pairs every two weeks for eligible patients, improving over time."""
        target = self.n["outcome_measurements"]
        plan = Counter[int]()
        capacity = {
            i: max(0, ((self.now - since).days - 7) // 14 + 1) * 2
            for i, (_rid, _t, since) in enumerate(self.eligible_referrals)
        }
        open_ = [i for i in capacity if capacity[i]]
        left = target
        while left > 0 and open_:
            for i in self.rng.choices(open_, k=min(left, 5000)):
                if left > 0 and plan[i] < capacity[i]:
                    plan[i] += 1
                    left -= 1
            open_ = [i for i in open_ if plan[i] < capacity[i]]
        for i, count in plan.items():
            rid, therapist, since = self.eligible_referrals[i]
            severity = self.rng.uniform(1.2, 2.6)
            sessions = math.ceil(count / 2)
            for n in range(count):
                session = n // 2
                day = (since + timedelta(days=7 + 14 * session)).date()
                progress = session / max(1, sessions)
                level = severity * (1 - 0.55 * progress)
                kind = "gad7" if n % 2 == 0 else "phq9"
                items = 7 if kind == "gad7" else 9
                answers = [max(0, min(3, round(self.rng.gauss(level, 0.7)))) for _ in range(items)]
                if kind == "phq9":
                    answers[8] = 1 if self.rng.random() < 0.03 else 0
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=17)
                self.w.add(
                    "outcome_measurements",
                    {
                        "id": self.w.next_id("outcome_measurements"),
                        "referral_id": rid,
                        "instrument": kind,
                        "administered_on": day,
                        "answers": answers,
                        "total": sum(answers),
                        "recorded_by_id": therapist,
                        "created_at": at,
                        "updated_at": at,
                    },
                )
                self.made["outcome_measurements"] += 1

    # --- the support queue ----------------------------------------------------------------
    def support(self) -> None:
        target, events_target = self.n["support_requests"], self.n["support_events"]
        self.subject_terms = {category: search_terms(text) for category, text in SUBJECTS.items()}
        filers = [t for t in self.therapists if t.stage in ("certified", "lapsed")]
        if not filers:
            return
        weights = [1 + (self.now - (t.certified_since or t.joined)).days / 100 for t in filers]
        targets = {"urgent": 15, "high": 120, "routine": 24 * 60}
        categories = {
            "acute_dosing": 15,
            "side_effects": 30,
            "medication": 25,
            "eligibility": 20,
            "other": 10,
        }
        for c in self.clinicians:
            self.w.add(
                "clinician_on_call",
                {
                    "user_id": c,
                    "on_call": self.rng.random() < 0.3,
                    "changed_at": self.now - timedelta(hours=3),
                },
            )
        requests = []
        for _ in range(target):
            t = self.rng.choices(filers, weights=weights)[0]
            since = max(self.start, t.certified_since or t.joined + timedelta(days=60))
            filed = self.between(since, self.now)
            category = self.rng.choices(list(categories), weights=list(categories.values()))[0]
            urgency = (
                "urgent"
                if category == "acute_dosing" and self.rng.random() < 0.6
                else self.rng.choices(["urgent", "high", "routine"], weights=[5, 30, 65])[0]
            )
            requests.append((t, filed, category, urgency))
        requests.sort(key=lambda r: r[1])
        # Messages beyond the required ones (replies back and forth, internal notes).
        skeletons = [self._support_skeleton(filed) for _t, filed, _c, _u in requests]
        base = sum(len(s[1]) for s in skeletons)
        extra = Counter[int]()
        talkative = [i for i, s in enumerate(skeletons) if "reply" in s[1]]
        for _ in range(max(0, events_target - base)):
            if talkative:
                extra[self.rng.choice(talkative)] += 1
        for index, ((t, filed, category, urgency), (status, kinds)) in enumerate(
            zip(requests, skeletons, strict=True)
        ):
            self._support_request(
                t, filed, category, urgency, targets[urgency], status, kinds, extra[index]
            )

    def _support_skeleton(self, filed: datetime) -> tuple[str, list[str]]:
        """The request's status now and the events it must have to get there."""
        age = self.now - filed
        if age < timedelta(minutes=30):
            status = "open"
        elif age < timedelta(days=1):
            status = self.rng.choices(
                ["open", "claimed", "awaiting_therapist", "resolved"], [10, 35, 20, 35]
            )[0]
        elif age < timedelta(days=3):
            status = self.rng.choices(
                ["claimed", "awaiting_therapist", "resolved", "closed"], [10, 10, 70, 10]
            )[0]
        else:
            status = self.rng.choices(["resolved", "closed"], [85, 15])[0]
        if status == "open":
            return status, ["filed"]
        if status == "closed" and self.rng.random() < 0.2:
            return status, ["filed", "closed"]  # closed by the therapist before anyone claimed
        kinds = ["filed", "claimed"]
        if status != "claimed" or self.rng.random() < 0.6:
            kinds.append("reply")
        if status == "awaiting_therapist":
            kinds.append("awaiting")
        elif status in ("resolved", "closed"):
            kinds.append("resolved" if status == "resolved" else "closed")
        return status, kinds

    def _support_request(
        self,
        t: Therapist,
        filed: datetime,
        category: str,
        urgency: str,
        minutes: int,
        status: str,
        kinds: list[str],
        extra: int,
    ) -> None:
        rid = self.w.next_id("support_requests")
        due = filed + timedelta(minutes=minutes)
        clinician = self.rng.choice(self.clinicians)
        late = self.rng.random() < 0.08
        claim_after = minutes * (
            self.rng.uniform(1.05, 2.0) if late else self.rng.uniform(0.05, 0.7)
        )
        claimed_at = min(self.now, filed + timedelta(minutes=claim_after))
        if "reply" in kinds:
            # Replies and notes go between the first reply and the end.
            at = kinds.index("reply") + 1
            for _ in range(extra):
                kinds.insert(
                    at, self.rng.choices(["reply", "therapist_reply", "note"], [45, 35, 20])[0]
                )
        times = [filed]
        for kind in kinds[1:]:
            step = (
                timedelta(minutes=self.rng.uniform(2, 45))
                if kind != "claimed"
                else claimed_at - times[-1]
            )
            times.append(min(self.now, times[-1] + max(step, timedelta(seconds=30))))
        owner = clinician if "claimed" in kinds else None
        first_reply = times[kinds.index("reply")] if "reply" in kinds else None
        breached = (
            first_reply is None
            and due < self.now
            or (first_reply is not None and first_reply > due)
        )
        end = times[-1]
        self.w.add(
            "support_requests",
            {
                "id": rid,
                "therapist_id": t.id,
                "referral_id": self.rng.choice(t.referrals)
                if t.referrals and self.rng.random() < 0.4
                else None,
                "category": category,
                "urgency": urgency,
                "subject": SUBJECTS[category],
                "search_terms": self.subject_terms[category],
                "description": "Generated request for scale tests. " + SUBJECTS[category] + ".",
                "callback_phone": f"555-01{rid % 100:02d}",
                "status": status,
                "target_minutes": minutes,
                "filed_at": filed,
                "due_at": due,
                "claimed_by_id": owner,
                "claimed_at": times[1] if owner else None,
                "first_response_at": first_reply,
                "first_response_by_id": clinician if first_reply else None,
                "breached_at": due if breached else None,
                "resolved_at": end if status == "resolved" else None,
                "closed_at": end if status == "closed" else None,
                "updated_at": end,
                "version": len(kinds),
                "submission_token": None,
            },
        )
        self.made["support_requests"] += 1
        previous = "open"
        transitions = {
            "claimed": "claimed",
            "awaiting": "awaiting_therapist",
            "resolved": "resolved",
            "closed": "closed",
        }
        for kind, at in zip(kinds, times, strict=True):
            to = transitions.get(kind)
            actor = t.id if kind in ("filed", "therapist_reply", "closed") else clinician
            self.w.add(
                "support_events",
                {
                    "id": self.w.next_id("support_events"),
                    "request_id": rid,
                    "actor_id": actor,
                    "kind": kind,
                    "internal": kind == "note",
                    "body": MESSAGES.get(kind),
                    "from_status": previous if to else None,
                    "to_status": "open" if kind == "filed" else to,
                    "assignee_id": clinician if kind == "claimed" else None,
                    "created_at": at,
                },
            )
            self.made["support_events"] += 1
            previous = to or previous
        recent = self.now - end < timedelta(hours=12)
        nid = self.w.next_id("support_notifications")
        self.w.add(
            "support_notifications",
            {
                "id": nid,
                "request_id": rid,
                "step": "filed",
                "sequence": 0,
                "due_at": filed,
                "sent_at": filed,
                "recipient_count": 2,
                "fallback": False,
            },
        )
        for user, kind in ((clinician, "new_request"), (t.id, "reply")):
            if kind == "reply" and first_reply is None:
                continue
            self.w.add(
                "support_alerts",
                {
                    "id": self.w.next_id("support_alerts"),
                    "user_id": user,
                    "request_id": rid,
                    "notification_id": nid if kind == "new_request" else None,
                    "kind": kind,
                    "emailed": True,
                    "created_at": filed if kind == "new_request" else first_reply,
                    "read_at": None if recent else end,
                },
            )

    # --- the audit log --------------------------------------------------------------------
    def audit(self) -> None:
        """Log-ins, page views of clinical records, quiz and support activity, over three years
        (ids follow time, as in a real log)."""
        target = self.n["audit_events"]
        therapists = [t.id for t in self.therapists]
        staff = self.clinicians + self.admins
        requests = self.w._ids.get("support_requests", 1)
        referrals = self.w._ids.get("referrals", 1)
        actions = [
            # (action, weight, who, object type, highest object id)
            ("auth.login", 30, "any", "user", None),
            ("auth.logout", 12, "any", "user", None),
            ("auth.mfa_verified", 6, "staff", "user", None),
            ("support.viewed", 12, "staff", "support_request", requests),
            ("support.queue_viewed", 8, "staff", None, None),
            ("support.replied", 3, "staff", "support_request", requests),
            ("support.filed", 3, "therapist", "support_request", requests),
            ("referral.viewed", 8, "staff", "referral", referrals),
            ("referral.created", 2, "therapist", "referral", referrals),
            ("quiz.attempt_started", 6, "therapist", "quizattempt", None),
            ("quiz.attempt_scored", 6, "therapist", "quizattempt", None),
            ("account.profile_updated", 2, "therapist", "user", None),
            ("export.therapists", 1, "admin", None, None),
            ("license.verified", 1, "admin", "license", None),
        ]
        weights = [a[1] for a in actions]
        stamps = sorted(self.rng.random() for _ in range(target))
        span = (self.now - self.start).total_seconds()
        for fraction in stamps:
            action, _w, who, object_type, highest = self.rng.choices(actions, weights)[0]
            if who == "staff":
                actor = self.rng.choice(staff)
            elif who == "admin":
                actor = self.rng.choice(self.admins)
            elif who == "therapist":
                actor = self.rng.choice(therapists)
            else:
                actor = (
                    self.rng.choice(therapists)
                    if self.rng.random() < 0.85
                    else self.rng.choice(staff)
                )
            object_id = None
            if object_type == "user":
                object_id = actor
            elif object_type:
                object_id = self.rng.randint(1, highest or 1000)
            self.w.add(
                "audit_events",
                {
                    "id": self.w.next_id("audit_events"),
                    "created_at": self.start + timedelta(seconds=int(fraction * span)),
                    "actor_id": actor,
                    "actor_email": self.user_email[actor],
                    "action": action,
                    "object_type": object_type,
                    "object_id": str(object_id) if object_id is not None else None,
                    "ip_address": f"203.0.113.{actor % 250 + 1}",
                    "details": {"scale": True},
                },
            )
            self.made["audit_events"] += 1


SUBJECTS = {
    "acute_dosing": "Patient anxious and nauseous during the session",
    "side_effects": "Headache and fatigue the evening after the session",
    "medication": "Can the patient continue lamotrigine before the next series",
    "eligibility": "Is a patient with controlled hypertension eligible",
    "other": "Question about scheduling the integration session",
}
MESSAGES = {
    "reply": "Thanks for the details. Keep the patient seated; I am calling you now.",
    "therapist_reply": "Understood, the patient is settling. Thank you.",
    "note": "Checked the intake notes: blood pressure was normal at screening.",
    "awaiting": None,
}


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --- the command ------------------------------------------------------------------------------


def scale_data_exists() -> bool:
    return bool(
        db.session.scalar(select(User.id).where(User.email.like(f"%@{SCALE_DOMAIN}")).limit(1))
    )


def empty_database(connection: Connection) -> None:
    """Delete every row of every table (not the migration state). The append-only triggers
    (audit log, support history) do not fire on PostgreSQL's TRUNCATE; on SQLite they are
    lifted for this and put back before returning."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if connection.dialect.name == "postgresql":
        names = ", ".join(tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    # SQLite: the append-only triggers (audit log, support history) are set aside while the
    # rows go, then put back exactly as they were.
    triggers = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    for name, _sql in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    # Courses and their versions point at each other: check the keys once all rows are gone.
    connection.execute(text("PRAGMA defer_foreign_keys = ON"))
    for name in tables:
        connection.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - names from metadata
    for _name, sql in triggers:
        connection.execute(text(sql))


STEPS: list[tuple[str, str]] = [
    ("people", "users"),
    ("courses", "courses"),
    ("training", "training"),
    ("licensure and certification", "licensure"),
    ("practice profiles", "practice"),
    ("referrals", "referrals"),
    ("outcome questionnaires", "outcomes"),
    ("support queue", "support"),
    ("audit log", "audit"),
]


def seed(
    scale: float = 1.0,
    seed_value: int = 2026,
    *,
    reset: bool = False,
    echo: Callable[[str], None] = click.echo,
) -> dict[str, int]:
    """Generate the scale data set; returns how many rows of each kind were made.

    Runs in the current app context and commits. Raises :class:`ScaleError` in production,
    or when scale data is already there (unless ``reset``).
    """
    if current_app.config["LMS_ENV"] == "production":
        raise ScaleError("seed-scale generates test data: it never runs in production.")
    counts = plan_counts(scale)
    if scale_data_exists() and not reset:
        raise ScaleError(
            "Scale data is already in this database (users @scale.example). "
            "Run with --reset to empty the database and generate it again."
        )
    started = time.monotonic()
    if reset:
        _delete_scale_documents()
        empty_database(db.session.connection())
        db.session.commit()
        echo("  emptied the database")
    writer = Writer(db.session.connection())
    generator = Generator(writer, counts, seed_value, echo)
    for label, method in STEPS:
        generator.timed(label, getattr(generator, method))
    writer.finish()
    db.session.commit()
    if writer.pg:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    made = dict(sorted((generator.made + Counter()).items()))
    made["seconds"] = round(time.monotonic() - started)
    return made


def _delete_scale_documents() -> None:
    from lms.licensure.models import Document
    from lms.storage import storage

    keys = db.session.scalars(
        select(Document.storage_key)
        .join(User, User.id == Document.user_id)
        .where(User.email.like(f"%@{SCALE_DOMAIN}"))
    )
    backend = storage()
    for key in keys:
        backend.delete(key)


def register(app: Flask) -> None:
    """Add ``flask seed-scale`` (the lead wires this into ``register_cli``)."""

    @app.cli.command("seed-scale")
    @click.option(
        "--scale", type=float, default=1.0, show_default=True, help="Multiply every count."
    )
    @click.option(
        "--seed", "seed_value", type=int, default=2026, show_default=True, help="Random seed."
    )
    @click.option("--reset", is_flag=True, help="Empty the whole database first.")
    @click.option("--yes", is_flag=True, help="With --reset: do not ask for confirmation.")
    def seed_scale(scale: float, seed_value: int, reset: bool, yes: bool) -> None:
        """Generate realistic data at scale (thousands of therapists, years of history)."""
        if app.config["LMS_ENV"] == "production":
            raise ScaleError("seed-scale generates test data: it never runs in production.")
        if reset and not yes:
            click.confirm(
                "--reset deletes EVERY row of this database, not only the scale data. Continue?",
                abort=True,
            )
        click.echo(
            f"seed-scale: scale {scale}, seed {seed_value}, {db.engine.url.render_as_string()}"
        )
        made = seed(scale, seed_value, reset=reset)
        click.echo("Made:")
        for key, value in made.items():
            click.echo(f"  {key:<24} {value:>10,}")
        click.echo(
            f"Scale users' password: {SCALE_PASSWORD}; staff two-step secret {SCALE_TOTP_SECRET}."
        )


def iter_scale_users(role: Role) -> Iterator[User]:
    """Scale users of ``role`` (the benchmark picks its users here)."""
    yield from db.session.scalars(
        select(User)
        .where(User.email.like(f"%@{SCALE_DOMAIN}"), User.role == role)
        .order_by(User.id)
    )


__all__ = ["SCALE_DOMAIN", "SCALE_PASSWORD", "ScaleError", "plan_counts", "register", "seed"]
