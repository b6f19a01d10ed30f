"""What one statement costs through each layer: the ORM, SQLAlchemy Core, the driver.

    .venv/bin/python -m bench.layers            # on the benchmark database
    .venv/bin/python -m bench.layers --runs 5000

Runs the statement every logged-in request starts with (the session, its user and the
unread-alert count: ``lms.accounts.sessions``) ``--runs`` times through ``Session.execute``
(ORM rows and objects), through ``Connection.execute`` (Core rows) and through psycopg
directly, each followed by its rollback, and prints the mean time of each. The difference
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
