"""Extensions, created once here and bound to the app in the factory."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from lms.db import Database
from lms.jobs import huey

db = Database()
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def user_or_address() -> str:
    """Rate-limit key: the logged-in user (wherever they connect from), else the address."""
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


limiter = Limiter(key_func=get_remote_address, default_limits=[])

__all__ = ["csrf", "db", "huey", "limiter", "login_manager", "migrate", "user_or_address"]
