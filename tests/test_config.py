"""Configuration: safe embedded defaults, and production refuses unsafe settings."""

from __future__ import annotations

import pytest

from lms import create_app
from lms.config import DEFAULT_SECRET_KEY, ConfigError, load_config
from lms.crypto import new_key

PG = "postgresql://postgres@127.0.0.1:5432/test"
GOOD_KEY = "k" * 48


def test_embedded_defaults_use_sqlite_under_instance() -> None:
    settings = load_config(environ={})
    assert settings["DATABASE_URL"].startswith("sqlite:///")
    assert settings["DATABASE_URL"].endswith("instance/lms.sqlite3")
    assert settings["MAIL_BACKEND"] == "file"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["LMS_ENV"] == "development"


def test_environment_selects_backends() -> None:
    settings = load_config(
        environ={
            "DATABASE_URL": PG,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "MAIL_SERVER": "smtp.example.org",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "true",
        }
    )
    assert settings["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert settings["MAIL_BACKEND"] == "smtp"
    assert settings["MAIL_PORT"] == 587
    assert settings["MAIL_USE_TLS"] is True


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "SECRET_KEY is not set"),
        ("", "SECRET_KEY is not set"),
        (DEFAULT_SECRET_KEY, "built-in development key"),
        ("short", "shorter than 32"),
    ],
)
def test_production_refuses_a_missing_or_default_secret_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path, secret: str | None, reason: str
) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError) as excinfo:
        create_app()
    assert reason in str(excinfo.value)
    assert "Refusing to start in production" in str(excinfo.value)


def test_production_refuses_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PostgreSQL"):
        create_app()


def test_production_starts_with_safe_settings_and_hardens_cookies(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("ENCRYPTION_KEYS", new_key())
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.debug is False
    response = app.test_client().get("/login")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_unknown_environment_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_ENV", "staging")
    with pytest.raises(ConfigError, match="LMS_ENV"):
        create_app()


def test_proxy_fix_trusts_the_configured_proxy(tmp_path) -> None:
    from tests.conftest import make_config

    app = create_app(make_config(PROXY_FIX_HOPS=1, INSTANCE_PATH=str(tmp_path)))
    seen = {}

    @app.get("/_ip_for_test")
    def _ip() -> str:
        from flask import request

        seen["ip"], seen["scheme"] = request.remote_addr, request.scheme
        return ""

    from lms.auth import public

    public(app.view_functions["_ip"])
    app.test_client().get(
        "/_ip_for_test",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    assert seen == {"ip": "203.0.113.9", "scheme": "https"}


def test_rate_limits_are_shared_through_redis_when_configured(tmp_path) -> None:
    """Two app servers with the same REDIS_URL count log-in attempts together."""
    from limits.storage import RedisStorage

    from lms.extensions import limiter
    from tests.conftest import make_config, migrate_to_head

    settings = make_config(
        DATABASE_URL=f"sqlite:///{tmp_path / 'rl.sqlite3'}",
        INSTANCE_PATH=str(tmp_path),
        REDIS_URL="redis://127.0.0.1:6379/14",
        RATELIMIT_STORAGE_URI=None,
        LOGIN_RATE_LIMIT="2 per minute",
        RATELIMIT_KEY_PREFIX=f"test-{tmp_path.name}",
    )
    first = create_app(settings)
    migrate_to_head(first)
    assert isinstance(limiter._storage, RedisStorage)
    form = {"email": "nobody@example.org", "password": "wrong password!!"}
    assert first.test_client().post("/login", data=form).status_code == 401
    second = create_app(settings)  # another app server, same Redis
    assert second.test_client().post("/login", data=form).status_code == 401
    assert second.test_client().post("/login", data=form).status_code == 429
    limiter.reset()
