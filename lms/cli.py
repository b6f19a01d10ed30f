"""Command-line tasks: `flask --app app seed-demo`, `create-admin`, `worker`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from lms.accounts import services
from lms.accounts.models import Role, User
from lms.accounts.passwords import hash_password
from lms.db import utcnow
from lms.extensions import db

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - documented demo credential
# The demo staff accounts' authenticator secret (README): add it to any TOTP app. Demo only.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105
DEMO_ACCOUNTS = [
    ("admin@example.org", "Ada Admin", Role.ADMIN, "America/New_York"),
    ("clinician@example.org", "Dr. Cal Clinician", Role.CLINICIAN, "America/Chicago"),
    ("therapist@example.org", "Tess Therapist", Role.THERAPIST, "America/Los_Angeles"),
    ("partner@example.org", "Pat Partner", Role.THERAPIST, "America/Denver"),
]


def seed_demo_accounts() -> list[tuple[User, bool]]:
    """Create the demo accounts that do not exist yet; return (user, created) pairs."""
    out = []
    for email, name, role, zone in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.email == email))
        created = user is None
        if user is None:
            user = User(
                email=email,
                full_name=name,
                password_hash=hash_password(DEMO_PASSWORD),
                role=role,
                timezone=zone,
                email_verified_at=utcnow(),
            )
            db.session.add(user)
            db.session.flush()
        if user.is_staff and not user.mfa_enabled:
            user.mfa_secret = DEMO_TOTP_SECRET
            user.mfa_enabled_at = utcnow()
        out.append((user, created))
    return out


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo accounts (safe to run again)."""
        if app.config["LMS_ENV"] == "production":
            raise click.ClickException("seed-demo is for development and demos, not production.")
        rows = seed_demo_accounts()
        db.session.commit()
        click.echo(f"Demo accounts (password: {DEMO_PASSWORD}):")
        click.echo(
            f"  Staff log-ins ask for a code: add the secret {DEMO_TOTP_SECRET} to an "
            "authenticator app, or run: flask --app app demo-code"
        )
        for user, created in rows:
            click.echo(
                f"  {user.role.value:<10} {user.email:<24} {'created' if created else 'exists'}"
            )
        from lms.training.demo import seed_training

        users = {user.email: user for user, _ in rows}
        for line in seed_training(
            users["therapist@example.org"], users["partner@example.org"], users["admin@example.org"]
        ):
            click.echo(f"  {line}")
        db.session.commit()
        from lms.licensure.demo import seed_licensure

        for line in seed_licensure(
            users["admin@example.org"], users["therapist@example.org"], users["partner@example.org"]
        ):
            click.echo(f"  {line}")
        db.session.commit()
        from lms.certification.demo import seed_certification

        for line in seed_certification(users["partner@example.org"]):
            click.echo(f"  {line}")
        db.session.commit()
        from lms.practice.demo import seed_practice

        for line in seed_practice(users["clinician@example.org"], users["partner@example.org"]):
            click.echo(f"  {line}")
        db.session.commit()
        from lms.outcomes.demo import seed_outcomes

        for line in seed_outcomes(users["partner@example.org"]):
            click.echo(f"  {line}")
        db.session.commit()
        from lms.support.demo import seed_support

        for line in seed_support(users["clinician@example.org"], users["partner@example.org"]):
            click.echo(f"  {line}")
        db.session.commit()

    @app.cli.command("demo-code")
    def demo_code() -> None:
        """Print the current two-step code of the demo staff accounts (development only)."""
        if app.config["LMS_ENV"] == "production":
            raise click.ClickException("demo-code is for development and demos, not production.")
        from lms.accounts.mfa import current_code

        click.echo(current_code(DEMO_TOTP_SECRET))

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", prompt="Full name", help="The admin's full name.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create_admin(email: str, name: str, password_stdin: bool) -> None:
        """Create a verified admin account for a real deployment."""
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password (12+ characters): ")
            if getpass.getpass("Repeat the password: ") != password:
                raise click.ClickException("The two passwords do not match.")
        try:
            user = services.create_admin(email, name, password)
        except services.AccountError as error:
            raise click.ClickException(error.message) from error
        db.session.commit()
        click.echo(f"Admin {user.email} created.")

    @app.cli.command("backup")
    @click.option(
        "--to",
        "target",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder for the archive (default: instance/backups).",
    )
    def backup_command(target: Path | None) -> None:
        """Back up the SQLite database and the uploaded documents into one checked archive."""
        from lms import backup

        try:
            archive = backup.create(app.config, target or Path(app.instance_path) / "backups")
        except backup.BackupError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"Backup written: {archive}")
        click.echo(
            "Patient details and documents in it are encrypted: keep a copy of the encryption "
            "key (ENCRYPTION_KEYS, or instance/encryption.keys) apart from the backups; "
            "without it the backup cannot be read."
        )

    @app.cli.command("restore")
    @click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore_command(archive: Path, yes: bool) -> None:
        """Replace the database and the uploads with a backup (stop the app and worker first)."""
        from lms import backup

        try:
            backup.verify(archive)
        except backup.BackupError as error:
            raise click.ClickException(str(error)) from error
        if not yes:
            click.confirm(
                "The archive checks out. Replace the current database and uploads with it?",
                abort=True,
            )
        db.engine.dispose()
        try:
            counts = backup.restore(app.config, archive)
        except backup.BackupError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"Restored the database and {counts['documents']} documents from {archive}.")

    @app.cli.command("worker")
    @click.option(
        "--workers", type=int, default=None, help="Worker threads (default HUEY_WORKERS)."
    )
    def worker(workers: int | None) -> None:
        """Run the background-job worker and scheduler (Ctrl-C stops it)."""
        from huey.consumer import Consumer

        from lms.jobs import huey

        if huey.immediate:
            raise click.ClickException("HUEY_IMMEDIATE is on: jobs run inline, no worker needed.")
        consumer = Consumer(
            huey,
            workers=workers or app.config["HUEY_WORKERS"],
            worker_type="thread",
            periodic=True,
            check_worker_health=True,
        )
        click.echo(f"Worker: {type(huey.storage).__name__}, {consumer.workers} threads")
        consumer.run()
