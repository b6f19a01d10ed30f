"""Partner LMS: training, licensure and partner tools for a KAP provider network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from lms.config import PROJECT_ROOT, load_config, validate


def create_app(config: Any = None) -> Flask:
    """Build the app. ``config`` is a config class or a mapping of overrides (tests)."""
    settings = load_config(config)
    validate(settings)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(settings)
    init_instance_folder(app)
    init_proxy(app)
    init_extensions(app)
    init_url_converters(app)
    register_blueprints(app)
    register_cli(app)
    init_web(app)
    return app


def init_instance_folder(app: Flask) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)


def init_proxy(app: Flask) -> None:
    """Trust X-Forwarded-* from exactly PROXY_FIX_HOPS proxies (the TLS proxy in production)."""
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def init_extensions(app: Flask) -> None:
    from lms import auth, crypto, jobs, storage
    from lms.extensions import csrf, db, limiter, migrate

    crypto.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    jobs.init_app(app)
    auth.init_app(app)
    storage.init_app(app)
    import_models()
    import_jobs()


def import_models() -> None:
    """Import every models module so the metadata (and Alembic) sees all tables."""
    from lms import audit  # noqa: F401
    from lms.accounts import models  # noqa: F401
    from lms.certification import models as certification_models  # noqa: F401
    from lms.licensure import models as licensure_models  # noqa: F401
    from lms.outcomes import models as outcome_models  # noqa: F401
    from lms.payments import models as payment_models  # noqa: F401
    from lms.practice import models as practice_models  # noqa: F401
    from lms.referrals import models as referral_models  # noqa: F401
    from lms.support import models as support_models  # noqa: F401
    from lms.training import models as training_models  # noqa: F401


def import_jobs() -> None:
    """Import every module that declares background or scheduled jobs (the worker runs them)."""
    from lms import mail  # noqa: F401
    from lms.licensure import tasks as licensure_tasks  # noqa: F401
    from lms.practice import tasks as practice_tasks  # noqa: F401
    from lms.support import tasks as support_tasks  # noqa: F401
    from lms.training import tasks  # noqa: F401


def init_url_converters(app: Flask) -> None:
    """Before the blueprints: each route takes its converters when it is added."""
    from lms import web

    web.init_url_converters(app)


def register_blueprints(app: Flask) -> None:
    from lms.accounts.views import bp as accounts_bp
    from lms.admin.views import bp as admin_bp
    from lms.analytics.views import bp as analytics_bp
    from lms.certification.views import bp as certification_bp
    from lms.licensure.views import bp as licensure_bp
    from lms.main.views import bp as main_bp
    from lms.outcomes.views import bp as outcomes_bp
    from lms.payments.views import bp as payments_bp
    from lms.practice.views import bp as practice_bp
    from lms.referrals.views import bp as referrals_bp
    from lms.resources.views import bp as resources_bp
    from lms.support.views import bp as support_bp
    from lms.training.views import bp as training_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(analytics_bp)
    app.register_blueprint(training_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(licensure_bp)
    app.register_blueprint(certification_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(outcomes_bp)
    app.register_blueprint(resources_bp)
    app.register_blueprint(support_bp)
    app.register_blueprint(practice_bp)


def register_cli(app: Flask) -> None:
    from lms import cli, key_rotation, scale
    from lms.resources import cli as resources_cli
    from lms.training import cli as training_cli

    cli.register(app)
    key_rotation.register(app)
    training_cli.register(app)
    resources_cli.register(app)
    scale.register(app)


def init_web(app: Flask) -> None:
    from lms import web

    web.init_app(app)
