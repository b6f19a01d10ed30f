"""`flask --app app resources check`: validate the resource library before deploying."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from lms.resources.content import check, library_root


def register(app: Flask) -> None:
    group = AppGroup("resources", help="The partner resource library.")

    @group.command("check")
    @click.option("--path", type=click.Path(path_type=Path), default=None, help="Library folder.")
    def check_command(path: Path | None) -> None:
        """Validate library.toml and its documents; print every problem."""
        root = path or library_root()
        problems = check(root)
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} problem(s) found")
        click.echo(f"The resource library in {root} is valid.")

    app.cli.add_command(group)
