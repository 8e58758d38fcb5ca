"""Erasing closed cases once RETENTION_DAYS have passed: from the worker's periodic
table (`workers.schedule`, at most once an hour) and from `flask --app wsgi cases
retention` for cron. Both only ask for erasure (an `erase_case` outbox row per case);
the job erases."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext

from service import outbox
from service.cases import erasure

log = logging.getLogger(__name__)


def apply() -> int:
    """Ask for the erasure of every case due (none when RETENTION_DAYS is 0); commits
    through the commit point, which relays the erasure jobs. How many were asked for."""
    days = current_app.config["RETENTION_DAYS"]
    if days <= 0:
        return 0
    due = erasure.apply_retention(datetime.now(timezone.utc), days)
    outbox.commit()
    return len(due)


@click.group("cases")
def cases_cli() -> None:
    """Maintenance of cases."""


@cases_cli.command("retention")
@click.option("--dry-run", is_flag=True, help="List the cases that would be erased; change nothing.")
@with_appcontext
def retention_command(dry_run: bool) -> None:
    """Ask for the erasure of cases closed for longer than RETENTION_DAYS."""
    days = current_app.config["RETENTION_DAYS"]
    if days <= 0:
        click.echo("Retention is off (RETENTION_DAYS=0); nothing erased.")
        return
    due = erasure.apply_retention(datetime.now(timezone.utc), days, dry_run=dry_run)
    references = [case.reference for case in due]
    outbox.commit()
    for reference in references:
        click.echo(f"{'would erase' if dry_run else 'erasure requested for'} {reference}")
    if dry_run:
        click.echo(f"Dry run: {len(due)} case(s) closed for more than {days} day(s) would be erased; nothing changed.")
        return
    click.echo(f"{len(due)} case(s) closed for more than {days} day(s) queued for erasure.")
