"""Removing staged uploads nobody submitted: from the worker's periodic table
(`workers.schedule`, at most once a minute) and from `flask --app wsgi uploads cleanup`
for cron."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from service.cases import staging
from service.store import get_storage


def cleanup() -> staging.CleanupReport:
    """Delete expired staged uploads and their objects (those the store refused stay)."""
    return staging.cleanup(get_storage())


@click.group("uploads")
def uploads_cli() -> None:
    """Resumable uploads staged before a request is submitted."""


@uploads_cli.command("cleanup")
@with_appcontext
def cleanup_command() -> None:
    """Delete expired staged uploads (older than 24 hours) and their stored objects."""
    report = cleanup()
    click.echo(f"{len(report.removed)} expired upload(s) removed, {len(report.kept)} kept (store unavailable).")
    for upload_id in report.removed:
        click.echo(f"removed {upload_id}")
    if report.kept:
        raise SystemExit(1)
