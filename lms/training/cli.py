"""`flask --app app courses check | sync | export-gift SLUG OUTDIR`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from lms.extensions import db
from lms.training.content import check_root
from lms.training.gift import Question, to_gift
from lms.training.models import Course
from lms.training.sync import courses_root, sync_all


def register(app: Flask) -> None:
    group = AppGroup("courses", help="Course content: check, sync into the database, export GIFT.")

    @group.command("check")
    @click.option("--path", type=click.Path(path_type=Path), default=None, help="Courses folder.")
    def check(path: Path | None) -> None:
        """Validate every course; print each problem with file and line."""
        problems = check_root(path or courses_root())
        for problem in problems:
            click.echo(str(problem), err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} problem(s) found")
        click.echo("All courses are valid.")

    @group.command("sync")
    @click.option("--path", type=click.Path(path_type=Path), default=None, help="Courses folder.")
    def sync(path: Path | None) -> None:
        """Load the courses into the database (safe to run again)."""
        results, problems = sync_all(path)
        if problems:
            db.session.rollback()
            for problem in problems:
                click.echo(problem, err=True)
            raise click.ClickException("nothing was synced: fix the problems above first")
        db.session.commit()
        for result in results:
            click.echo(str(result))

    @group.command("export-gift")
    @click.argument("slug")
    @click.argument("outdir", type=click.Path(path_type=Path))
    def export_gift(slug: str, outdir: Path) -> None:
        """Write the current version's question banks as GIFT files into OUTDIR."""
        course = db.session.scalar(select(Course).where(Course.slug == slug))
        if course is None or course.current_version is None:
            raise click.ClickException(f"no synced course '{slug}'")
        outdir.mkdir(parents=True, exist_ok=True)
        written = 0
        for module in course.current_version.modules:
            if not module.questions:
                continue
            questions = [Question.from_dict(q) for q in module.questions]
            (outdir / f"{module.slug}.gift").write_text(to_gift(questions), encoding="utf-8")
            written += 1
        click.echo(f"Wrote {written} GIFT file(s) to {outdir}")

    app.cli.add_command(group)
