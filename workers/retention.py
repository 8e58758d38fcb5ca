"""Erasing closed cases once RETENTION_DAYS have passed: from the worker's periodic
sweep (at most once an hour) and from `flask --app wsgi cases retention` for cron.
Both only ask for erasure (an `erase_case` outbox row per case); the job erases."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Final

import click
from flask import current_app
from flask.cli import with_appcontext

from workers.periodic import Throttle

log = logging.getLogger(__name__)

RETENTION_EVERY_SECONDS: Final = 3600
_throttle = Throttle(RETENTION_EVERY_SECONDS)


def maybe_apply(*, clock=time.monotonic) -> bool:
    """Apply retention if it has not run in this process within the last hour. Commits;
    the sweep relays the new outbox rows afterwards."""
    if not _throttle.due(clock):
        return False
    days = current_app.config["RETENTION_DAYS"]
    if days <= 0:
        return True
    from service.cases import erasure
    from service.extensions import db

    erasure.apply_retention(datetime.now(timezone.utc), days)
    db.session.commit()
    return True


@click.group("cases")
def cases_cli() -> None:
    """Maintenance of cases."""


@cases_cli.command("retention")
@click.option("--dry-run", is_flag=True, help="List the cases that would be erased; change nothing.")
@with_appcontext
def retention_command(dry_run: bool) -> None:
    """Ask for the erasure of cases closed for longer than RETENTION_DAYS."""
    from service.cases import erasure
    from service.extensions import db
    from workers import outbox

    days = current_app.config["RETENTION_DAYS"]
    if days <= 0:
        click.echo("Retention is off (RETENTION_DAYS=0); nothing erased.")
        return
    with outbox.collecting() as work:
        due = erasure.apply_retention(datetime.now(timezone.utc), days, dry_run=dry_run)
        db.session.commit()
    for case in due:
        click.echo(f"{'would erase' if dry_run else 'erasure requested for'} {case.reference}")
    if dry_run:
        click.echo(f"Dry run: {len(due)} case(s) closed for more than {days} day(s) would be erased; nothing changed.")
        return
    outbox.relay(ids=[m.id for m in work])
    click.echo(f"{len(due)} case(s) closed for more than {days} day(s) queued for erasure.")
