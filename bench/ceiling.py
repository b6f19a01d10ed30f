"""The ceiling: the least a Flask page can do, on the same server settings as the app.

One indexed primary-key query through SQLAlchemy (a user row of the benchmark database)
and a tiny Jinja template. Whatever the real pages reach is read as a share of this
app's throughput, measured in the same run on the same machine, so the ratio means
something even on a busy machine. Run it the way the benchmark does::

    BENCH_DATABASE_URL=postgresql+psycopg://... gunicorn --workers 4 bench.ceiling:app
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, abort
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ user.full_name }}</title></head>
<body><main><h1>{{ user.full_name }}</h1><p>Account {{ user.id }}</p></main></body></html>
"""


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))


def create_app(url: str | None = None) -> Flask:
    url = url or os.environ["BENCH_DATABASE_URL"]
    # The same pool settings as the application (lms/db.py).
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    app = Flask(__name__)
    # Compiled once, as Flask does with template files (render_template_string would compile
    # it again on every request and lower the ceiling).
    template = app.jinja_env.from_string(TEMPLATE)

    @app.route("/ceiling/<int:user_id>")
    def page(user_id: int) -> Any:
        with Session(engine) as session:
            user = session.get(User, user_id)
            if user is None:
                abort(404)
            return template.render(user=user)

    return app


def __getattr__(name: str) -> Any:
    # ``gunicorn bench.ceiling:app`` builds the app when the worker imports it.
    if name == "app":
        return create_app()
    raise AttributeError(name)
