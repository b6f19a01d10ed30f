"""What one statement costs through each layer: the ORM, SQLAlchemy Core, the driver.

    .venv/bin/python -m bench.layers            # on the benchmark database
    .venv/bin/python -m bench.layers --runs 5000

Runs the statement every logged-in request starts with (the session, its user and the
unread-alert count: ``lms.accounts.sessions``) ``--runs`` times through ``Session.execute``
(ORM rows and objects), through ``Connection.execute`` (Core rows) and through psycopg
directly, each followed by its rollback, and prints the mean time of each; then a page's
typical small read, ten to a transaction, built each time or once, as ORM objects, Core rows
or through the driver (fastest of five rounds). The difference
is what the layers add to every statement a page runs (docs/PERFORMANCE.md, "The fourth
round").
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select

    from bench import run
    from lms.accounts import sessions
    from lms.accounts.models import UserSession
    from lms.extensions import db

    url = args.database_url or run.DEFAULT_URL
    app = run.make_app(url, secrets.token_hex(32), (ROOT / "instance" / "bench").resolve())
    with app.app_context():
        import lms.support.notifications  # noqa: F401  (registers the badge's count)

        statement = sessions._load_statement()
        key_hash = db.session.scalar(select(UserSession.key_hash).limit(1))
        if key_hash is None:
            print("no session in this database: run python -m bench.run once first")
            return 2
        params = {"key_hash": key_hash}
        driver = db.session.connection().connection.dbapi_connection
        compiled = statement.compile(dialect=db.session.get_bind().dialect)
        sql = str(compiled)
        # The statement's own bound values (the badge's cap) and the key hash.
        driver_params = {**compiled.params, **params}

        def orm() -> None:
            db.session.execute(statement, params).first()
            db.session.rollback()

        def core() -> None:
            db.session.connection().execute(statement, params).first()
            db.session.rollback()

        def psycopg() -> None:
            cursor = driver.cursor()
            cursor.execute(sql, driver_params)
            cursor.fetchone()
            driver.rollback()

        layers: list[tuple[str, Callable[[], None]]] = [
            ("ORM (Session.execute)", orm),
            ("Core (Connection.execute)", core),
            ("psycopg", psycopg),
        ]
        for name, call in layers:
            for _ in range(min(100, args.runs)):
                call()
            started = time.perf_counter()
            for _ in range(args.runs):
                call()
            print(f"{name:28} {(time.perf_counter() - started) / args.runs * 1000:.3f} ms")
        print()
        small_reads(args.runs)
    return 0


def small_reads(runs: int) -> None:
    """A page's typical small read (one therapist's licenses), ten in one transaction, as
    the pages run them: the ORM with the statement built each time or once, Core rows, and
    the driver with the compiled SQL (the layers' cost without the pool and BEGIN)."""
    from sqlalchemy import bindparam, select

    from lms.extensions import db
    from lms.licensure.models import License

    user_id = db.session.scalar(select(License.user_id).limit(1))
    if user_id is None:
        return
    built = select(License).where(License.user_id == bindparam("uid")).order_by(License.id)
    sql = str(built.compile(dialect=db.session.get_bind().dialect))
    params = {"uid": user_id}

    def orm_each() -> None:
        query = select(License).where(License.user_id == user_id).order_by(License.id)
        list(db.session.scalars(query))
        db.session.expunge_all()

    def orm_once() -> None:
        list(db.session.scalars(built, params))
        db.session.expunge_all()

    def core() -> None:
        db.session.connection().execute(built, params).all()

    def driver() -> None:
        cursor = db.session.connection().connection.dbapi_connection.cursor()
        cursor.execute(sql, params)
        cursor.fetchall()

    print("one small read, ten to a transaction (ms per statement):")
    for name, call in (
        ("ORM, statement built each time", orm_each),
        ("ORM, statement built once", orm_once),
        ("Core rows, built once", core),
        ("psycopg, compiled SQL", driver),
    ):
        fastest = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(max(1, runs // 50)):
                for _ in range(10):
                    call()
                db.session.rollback()
            fastest = min(fastest, (time.perf_counter() - started) / (max(1, runs // 50) * 10))
        print(f"  {name:32} {fastest * 1000:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
