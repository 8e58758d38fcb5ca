"""Removing staged uploads nobody submitted: from the worker's periodic sweep (at most
once a minute) and from `flask --app wsgi uploads cleanup` for cron."""
from __future__ import annotations

import logging
import time
from typing import Final

import click
from flask.cli import with_appcontext

from workers.periodic import Throttle

log = logging.getLogger(__name__)

CLEANUP_EVERY_SECONDS: Final = 60
_throttle = Throttle(CLEANUP_EVERY_SECONDS)


def maybe_cleanup(*, clock=time.monotonic) -> bool:
    """Run the cleanup if it has not run in this process within the last minute."""
    if not _throttle.due(clock):
        return False
    from service.cases import staging
    from service.store import get_storage

    staging.cleanup(get_storage())
    return True


@click.group("uploads")
def uploads_cli() -> None:
    """Resumable uploads staged before a request is submitted."""


@uploads_cli.command("cleanup")
@with_appcontext
def cleanup_command() -> None:
    """Delete expired staged uploads (older than 24 hours) and their stored objects."""
    from service.cases import staging
    from service.store import get_storage

    report = staging.cleanup(get_storage())
    click.echo(f"{len(report.removed)} expired upload(s) removed, {len(report.kept)} kept (store unavailable).")
    for upload_id in report.removed:
        click.echo(f"removed {upload_id}")
    if report.kept:
        raise SystemExit(1)
