"""`flask --app wsgi worker [--burst]`: an RQ worker inside the app context, with
RQ's scheduler (for retry backoff) and the periodic table (`workers.schedule`: the
outbox sweep and the chores)."""
from __future__ import annotations

import logging
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Worker

from service.extensions import db
from workers import outbox
from workers.queues import ALL, redis_connection
from workers.schedule import TICK_SECONDS, Schedule

log = logging.getLogger(__name__)


class AppWorker(Worker):
    """Forks a work horse per job, as RQ does; the horse must not share the parent's
    pooled database connections, so it drops them (without closing the parent's)."""

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        db.session.remove()
        super().main_work_horse(job, queue)


def run_periodic(app: Flask, schedule: Schedule) -> None:
    """One look at the periodic table, in its own app context and session."""
    with app.app_context():
        try:
            schedule.run_due()
        finally:
            db.session.remove()


def run_periodic_forever(app: Flask, schedule: Schedule, stop: threading.Event, tick: float = TICK_SECONDS) -> None:
    while not stop.wait(tick):
        try:
            run_periodic(app, schedule)
        except Exception:
            log.exception("periodic work failed; will try again")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option("--queue", "queues", multiple=True, type=click.Choice(ALL), help="Listen to these queues only.")
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run a worker with the scheduler and the periodic table on the declared queues."""
    connection = redis_connection()
    try:
        connection.ping()
    except RedisConnectionError as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from exc
    app = current_app._get_current_object()
    schedule = Schedule()
    run_periodic(app, schedule)
    stop = threading.Event()
    if not burst:
        threading.Thread(
            target=run_periodic_forever, args=(app, schedule, stop), name="periodic", daemon=True
        ).start()
    worker = AppWorker(list(queues or ALL), connection=connection)
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()


@click.group("jobs")
def jobs_cli() -> None:
    """Background jobs that failed for good, and retrying them."""


@jobs_cli.command("failed")
@with_appcontext
def failed_command() -> None:
    """List failed jobs with their case and last error."""
    from sqlalchemy import select

    from service.models import Case, OutboxMessage

    rows = db.session.execute(
        select(OutboxMessage, Case.reference)
        .outerjoin(Case, Case.id == OutboxMessage.case_id)
        .where(OutboxMessage.status == outbox.FAILED)
        .order_by(OutboxMessage.id)
    ).all()
    if not rows:
        click.echo("No failed jobs.")
        return
    for message, reference in rows:
        error = (message.last_error or "").splitlines()[-1:] or [""]
        click.echo(f"{message.id}\t{message.job}\t{reference or '-'}\tattempts={message.attempts}\t{error[0]}")


@jobs_cli.command("retry")
@click.argument("outbox_ids", nargs=-1, type=int, required=True)
@with_appcontext
def retry_command(outbox_ids: tuple[int, ...]) -> None:
    """Run failed jobs again (ids from `jobs failed`); the case timeline records it."""
    for message_id in outbox_ids:
        try:
            outbox.retry(message_id)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"outbox {message_id}: queued again")


@jobs_cli.command("derive-files")
@with_appcontext
def derive_files_command() -> None:
    """Make the previews and clinic copies of files stored before they existed (after
    upgrading to migration 0013); until then such files are withheld from clinics."""
    from service import outbox as domain_outbox
    from service.cases import derivatives

    count = derivatives.schedule_missing(db.session)
    domain_outbox.commit()
    click.echo(f"{count} file(s) queued for previews and clinic copies")
