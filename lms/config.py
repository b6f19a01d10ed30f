"""Settings.

Defaults live here as code; secrets and deployment settings come from the
environment (12-factor). Nothing is read from the environment at import time:
:func:`load_config` is called by the app factory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - development only

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration is not safe or not complete enough to start."""


class Config:
    """Embedded defaults: one command, no servers, safe for a laptop."""

    LMS_ENV = "development"
    SECRET_KEY = DEFAULT_SECRET_KEY
    INSTANCE_PATH = str(PROJECT_ROOT / "instance")
    DATABASE_URL: str | None = None  # default: SQLite file under the instance folder
    COURSES_PATH = str(PROJECT_ROOT / "courses")
    # The partner agreement's versions (v1.md, v2.md...); the highest version is current.
    AGREEMENTS_PATH = str(PROJECT_ROOT / "agreements" / "partner-agreement")
    # Payments (Stripe) are off unless STRIPE_SECRET_KEY is set; see docs/CONFIGURATION.md.
    STRIPE_SECRET_KEY: str | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    # Where the API and Stripe.js live (a Stripe-compatible test server in tests).
    STRIPE_API_BASE = "https://api.stripe.com"
    STRIPE_JS_URL = "https://js.stripe.com/v3/"
    # The return page says the confirmation is late after this many seconds.
    PAYMENT_LATE_AFTER_SECONDS = 20
    SQLALCHEMY_ECHO = False
    # PostgreSQL's JIT compiler for the app's connections. Off (the default): the app sends
    # "-c jit=off" when it connects, because compiling a query (0.3-1 s) costs far more than
    # the app's short queries run (docs/PERFORMANCE.md). On: the server's own setting.
    DATABASE_JIT = False
    # Server-side prepared statements on PostgreSQL (lms/db.py): a statement a connection has
    # run five times is prepared, and PostgreSQL stops planning it on every run. Off behind a
    # connection pooler in transaction mode that does not keep prepared statements.
    DATABASE_PREPARED_STATEMENTS = True
    REDIS_URL: str | None = None
    # Encryption at rest of health information (lms/crypto.py, docs/SECURITY.md): Fernet keys,
    # comma-separated, newest first. Unset outside production: a key is generated into
    # instance/encryption.keys. Production refuses to start without it.
    ENCRYPTION_KEYS: str | None = None

    # Sessions and cookies
    SESSION_COOKIE_NAME = "lms_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    # The cookie is written when the session changes (log-in, a flash message), not on every
    # response: the server-side session (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS below) decides
    # when it ends, and the cookie lives as long as the longest session (set from
    # SESSION_MAX_HOURS). Re-signing it on every page cost each response a serialisation, an
    # HMAC and a Set-Cookie header (docs/PERFORMANCE.md, "The seventh round").
    SESSION_REFRESH_EACH_REQUEST = False
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # Medical-support queue (docs/support-queue.md): first-response targets in minutes
    # (calendar time) and how often an overdue request is escalated again.
    SUPPORT_TARGET_URGENT_MINUTES = 15
    SUPPORT_TARGET_HIGH_MINUTES = 120
    SUPPORT_TARGET_ROUTINE_MINUTES = 24 * 60
    SUPPORT_ESCALATION_REPEAT_MINUTES = 10
    # E-mail addresses told when a request passes its target (e.g. the medical director);
    # empty: every admin. From the environment: comma-separated.
    SUPPORT_ESCALATION_CONTACTS: tuple[str, ...] = ()
    # Filing support requests, per therapist: high enough never to stand between a partner and
    # a clinician in a bad night, low enough to stop a runaway script flooding the queue. Over
    # it, the form comes back with the text kept and the 911 advice (lms/support/views.py).
    SUPPORT_FILING_RATE_LIMIT = "20 per hour"
    # The admin dashboard's onboarding funnel is recounted at most this often per server.
    ADMIN_FUNNEL_CACHE_SECONDS = 60
    # Matching (lms/practice): hours a partner has to answer an offer; the public intake
    # form's rate limit and the least time a person takes to fill it in (bot check).
    PRACTICE_OFFER_HOURS = 72
    INTAKE_RATE_LIMIT = "5 per hour"
    INTAKE_MIN_SECONDS = 3
    # Server-side sessions (lms/accounts/sessions.py): idle timeout and absolute lifetime.
    SESSION_IDLE_MINUTES = 30
    SESSION_IDLE_WARNING_SECONDS = 120
    SESSION_MAX_HOURS = 12
    PREFERRED_URL_SCHEME = "http"
    SERVER_NAME: str | None = None
    # Number of trusted reverse proxies in front of the app (X-Forwarded-For/-Proto).
    PROXY_FIX_HOPS = 0
    # Used to build absolute links in e-mails sent from background jobs.
    BASE_URL = "http://127.0.0.1:5000"

    # Forms
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    # Requests larger than this get the friendly 413 page. Unset: room for
    # UPLOAD_MAX_FILES documents of UPLOAD_MAX_BYTES each plus the form fields.
    MAX_CONTENT_LENGTH: int | None = None

    # Uploaded documents (licensure): local files under <instance>/uploads, or S3.
    STORAGE_BACKEND = "local"  # "local" or "s3"
    UPLOAD_FOLDER: str | None = None  # default: <instance>/uploads
    UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # per file
    UPLOAD_MAX_FILES = 3  # per form
    S3_BUCKET: str | None = None
    S3_ENDPOINT_URL: str | None = None  # unset: AWS; set for MinIO, R2, Spaces...
    S3_REGION: str | None = None
    S3_PREFIX = "uploads/"
    # Licensure: a verification is due again this many months after it was made.
    LICENSE_REVERIFY_MONTHS = 36

    # Accounts
    EMAIL_VERIFICATION_MAX_AGE = 48 * 3600
    PASSWORD_RESET_MAX_AGE = 3600
    INVITATION_MAX_AGE_DAYS = 7
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 1024

    # Rate limits (Flask-Limiter); Redis storage when REDIS_URL is set
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI: str | None = None
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
    PASSWORD_RESET_RATE_LIMIT = "5 per minute;20 per hour"  # noqa: S105
    REGISTER_RATE_LIMIT = "10 per hour"
    MFA_RATE_LIMIT = "10 per minute;40 per hour"
    UPLOAD_RATE_LIMIT = "30 per hour"  # license/insurance forms with documents, per user

    # E-mail: SMTP when MAIL_SERVER is set, otherwise .eml files under instance/mail
    MAIL_BACKEND: str | None = None  # "smtp", "file" or "memory" (tests); derived when unset
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_TIMEOUT = 30
    MAIL_DEFAULT_SENDER = "Partner LMS <no-reply@partner-lms.local>"
    MAIL_FOLDER: str | None = None  # default: <instance>/mail

    # Background jobs (Huey): SQLite file by default, Redis when REDIS_URL is set
    HUEY_IMMEDIATE = False
    HUEY_SQLITE_PATH: str | None = None  # default: <instance>/jobs.db
    HUEY_WORKERS = 2

    # Security headers
    HSTS_SECONDS = 0
    CSP_EXTRA_SCRIPT_SRC: tuple[str, ...] = ()
    CSP_EXTRA_FRAME_SRC: tuple[str, ...] = ()
    CSP_EXTRA_CONNECT_SRC: tuple[str, ...] = ()

    # Pagination
    PER_PAGE = 25

    ALLOW_SQLITE_IN_PRODUCTION = False
    TESTING = False
    DEBUG = False


class ProductionConfig(Config):
    LMS_ENV = "production"
    SECRET_KEY = ""  # must come from the environment
    SESSION_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS_SECONDS = 63072000


class TestConfig(Config):
    """Passed to the factory by the test suite."""

    LMS_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    HUEY_IMMEDIATE = True
    MAIL_BACKEND = "memory"
    WTF_CSRF_ENABLED = False
    LOGIN_RATE_LIMIT = "1000 per minute"
    PASSWORD_RESET_RATE_LIMIT = "1000 per minute"  # noqa: S105
    REGISTER_RATE_LIMIT = "1000 per minute"
    MFA_RATE_LIMIT = "1000 per minute"
    UPLOAD_RATE_LIMIT = "1000 per minute"
    SUPPORT_FILING_RATE_LIMIT = "1000 per minute"
    ADMIN_FUNNEL_CACHE_SECONDS = 0  # tests change data between pages
    RATELIMIT_STORAGE_URI = "memory://"


# Environment variables read at start-up, and how to parse each.
_ENV_KEYS: dict[str, Any] = {
    "SECRET_KEY": str,
    "ENCRYPTION_KEYS": str,
    "DATABASE_URL": str,
    "DATABASE_JIT": "bool",
    "DATABASE_PREPARED_STATEMENTS": "bool",
    "REDIS_URL": str,
    "BASE_URL": str,
    "INSTANCE_PATH": str,
    "MAIL_BACKEND": str,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_USE_TLS": "bool",
    "MAIL_USE_SSL": "bool",
    "MAIL_DEFAULT_SENDER": str,
    "MAIL_FOLDER": str,
    "HUEY_IMMEDIATE": "bool",
    "HUEY_WORKERS": int,
    "RATELIMIT_ENABLED": "bool",
    "RATELIMIT_STORAGE_URI": str,
    "SESSION_COOKIE_SECURE": "bool",
    "SESSION_IDLE_MINUTES": int,
    "SESSION_IDLE_WARNING_SECONDS": int,
    "SESSION_MAX_HOURS": float,
    "MFA_RATE_LIMIT": str,
    "UPLOAD_RATE_LIMIT": str,
    "SUPPORT_TARGET_URGENT_MINUTES": int,
    "SUPPORT_TARGET_HIGH_MINUTES": int,
    "SUPPORT_TARGET_ROUTINE_MINUTES": int,
    "SUPPORT_ESCALATION_REPEAT_MINUTES": int,
    "SUPPORT_ESCALATION_CONTACTS": str,
    "SUPPORT_FILING_RATE_LIMIT": str,
    "ADMIN_FUNNEL_CACHE_SECONDS": int,
    "RESOURCES_PATH": str,
    "PRACTICE_OFFER_HOURS": int,
    "INTAKE_RATE_LIMIT": str,
    "INTAKE_MIN_SECONDS": int,
    "LOGIN_RATE_LIMIT": str,
    "PASSWORD_RESET_RATE_LIMIT": str,
    "REGISTER_RATE_LIMIT": str,
    "HSTS_SECONDS": int,
    "MAX_CONTENT_LENGTH": int,
    "STORAGE_BACKEND": str,
    "UPLOAD_FOLDER": str,
    "UPLOAD_MAX_BYTES": int,
    "UPLOAD_MAX_FILES": int,
    "S3_BUCKET": str,
    "S3_ENDPOINT_URL": str,
    "S3_REGION": str,
    "S3_PREFIX": str,
    "LICENSE_REVERIFY_MONTHS": int,
    "ALLOW_SQLITE_IN_PRODUCTION": "bool",
    "PROXY_FIX_HOPS": int,
    "COURSES_PATH": str,
    "AGREEMENTS_PATH": str,
    "STRIPE_SECRET_KEY": str,
    "STRIPE_PUBLISHABLE_KEY": str,
    "STRIPE_WEBHOOK_SECRET": str,
    "STRIPE_API_BASE": str,
    "STRIPE_JS_URL": str,
}


def _parse(kind: Any, raw: str) -> Any:
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def load_config(
    overrides: Mapping[str, Any] | type | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the settings dict: class defaults, then the environment, then ``overrides``.

    ``overrides`` may be a config class (e.g. :class:`TestConfig`) or a mapping.
    ``LMS_ENV=production`` selects :class:`ProductionConfig` as the base.
    """
    env = os.environ if environ is None else environ
    base: type = Config
    if isinstance(overrides, type):
        base, overrides = overrides, None
    elif env.get("LMS_ENV", "").strip().lower() == "production":
        base = ProductionConfig

    settings = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    if base is not TestConfig:
        for key, kind in _ENV_KEYS.items():
            if env.get(key) not in (None, ""):
                settings[key] = _parse(kind, env[key])
        if env.get("LMS_ENV"):
            settings["LMS_ENV"] = env["LMS_ENV"].strip().lower()
    if overrides:
        settings.update(overrides)
    return _derive(settings)


def _derive(s: dict[str, Any]) -> dict[str, Any]:
    """Fill the settings that follow from others."""
    instance = Path(s["INSTANCE_PATH"])
    if not s.get("DATABASE_URL"):
        s["DATABASE_URL"] = f"sqlite:///{instance / 'lms.sqlite3'}"
    s["DATABASE_URL"] = normalise_database_url(s["DATABASE_URL"])
    if not s.get("MAIL_BACKEND"):
        s["MAIL_BACKEND"] = "smtp" if s.get("MAIL_SERVER") else "file"
    if not s.get("MAIL_FOLDER"):
        s["MAIL_FOLDER"] = str(instance / "mail")
    if not s.get("HUEY_SQLITE_PATH"):
        s["HUEY_SQLITE_PATH"] = str(instance / "jobs.db")
    if not s.get("RATELIMIT_STORAGE_URI"):
        s["RATELIMIT_STORAGE_URI"] = s["REDIS_URL"] if s.get("REDIS_URL") else "memory://"
    if not s.get("UPLOAD_FOLDER"):
        s["UPLOAD_FOLDER"] = str(instance / "uploads")
    s["STORAGE_BACKEND"] = str(s.get("STORAGE_BACKEND") or "local").strip().lower()
    if not s.get("MAX_CONTENT_LENGTH"):
        s["MAX_CONTENT_LENGTH"] = (
            int(s["UPLOAD_MAX_BYTES"]) * int(s["UPLOAD_MAX_FILES"]) + 1024 * 1024
        )
    s["DEBUG"] = s.get("DEBUG") or s["LMS_ENV"] == "development"
    # The session cookie must outlive the longest server-side session.
    s["PERMANENT_SESSION_LIFETIME"] = max(
        s["PERMANENT_SESSION_LIFETIME"], timedelta(hours=float(s["SESSION_MAX_HOURS"]))
    )
    return s


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://`` and ``postgresql://`` forms that hosts hand out."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def validate(settings: Mapping[str, Any]) -> None:
    """Refuse to start production with unsafe settings; say why."""
    if settings.get("LMS_ENV") not in {"development", "production", "testing"}:
        raise ConfigError(
            f"LMS_ENV must be 'development' or 'production', not {settings.get('LMS_ENV')!r}."
        )
    if settings.get("STORAGE_BACKEND", "local") not in {"local", "s3"}:
        raise ConfigError(
            f"STORAGE_BACKEND must be 'local' or 's3', not {settings.get('STORAGE_BACKEND')!r}."
        )
    if settings.get("STORAGE_BACKEND") == "s3" and not settings.get("S3_BUCKET"):
        raise ConfigError("STORAGE_BACKEND is 's3' but S3_BUCKET is not set.")
    if settings["LMS_ENV"] != "production":
        return
    problems = []
    key = settings.get("SECRET_KEY") or ""
    if not key:
        problems.append(
            "SECRET_KEY is not set; generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    elif key == DEFAULT_SECRET_KEY or key == TestConfig.SECRET_KEY:
        problems.append("SECRET_KEY is the built-in development key; set a random one")
    elif len(key) < 32:
        problems.append("SECRET_KEY is shorter than 32 characters")
    if not (settings.get("ENCRYPTION_KEYS") or "").strip():
        problems.append(
            "ENCRYPTION_KEYS is not set (health information is encrypted at rest); generate "
            "a key with `flask --app app encryption new-key` and keep it apart from backups"
        )
    if settings.get("DATABASE_URL", "").startswith("sqlite") and not settings.get(
        "ALLOW_SQLITE_IN_PRODUCTION"
    ):
        problems.append("DATABASE_URL points to SQLite; production runs on PostgreSQL")
    if settings.get("STRIPE_SECRET_KEY"):
        for key in ("STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
            if not settings.get(key):
                problems.append(f"STRIPE_SECRET_KEY is set but {key} is not")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")
