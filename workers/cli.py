"""`flask --app wsgi worker [--burst] [--kind light|heavy]`: an RQ worker inside the app
context, with RQ's scheduler (for retry backoff) and the periodic table
(`workers.schedule`: the outbox sweep and the chores). Each job runs as its queue's
kind says (`workers.queues.KINDS`): light ones in the worker's process, heavy ones in a
forked work horse."""
from __future__ import annotations

import gc
import logging
import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Worker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.job import Job as RQJob
from rq.queue import Queue
from rq.worker import WorkerStatus
from rq.worker.base import SHUTDOWN_SIGNAL
from sqlalchemy.exc import SQLAlchemyError

from service.cases import paperwork_store
from service.extensions import db
from service.heap import settle
from service.paperwork.documents import warm_up as warm_up_paperwork
from service.store import get_storage
from workers import outbox, queues
from workers.queues import ALL, Kind, redis_connection
from workers.schedule import TICK_SECONDS, Schedule

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Build in the parent what every horse would otherwise build again: the object
    store's client, the paperwork templates, WeasyPrint's first render (about 0.7 s a
    horse), and the compiled SQL of a dossier's reads."""
    storage = get_storage()
    storage.warm()
    warm_up_paperwork()
    config = current_app.config
    try:
        paperwork_store.warm_up_dossier(storage, base_url=config["BASE_URL"], link_ttl=config["DOSSIER_LINK_TTL"])
    except SQLAlchemyError as exc:  # an optimisation only: the jobs will say what is wrong
        log.warning("dossier warm-up skipped, the database failed: %s", exc)


class AppWorker(Worker):
    """Runs each job as its queue's kind says. A light job runs in this process, in an app
    context of its own, under RQ's death penalty (SIGALRM in this, the main, thread), so
    its timeout holds as in a horse: no fork, no new database connection, a few
    milliseconds instead of fifty. A heavy job runs in a work horse forked per job, as RQ
    does: the horse drops the parent's pooled database and storage connections (without
    closing the parent's), and the parent warms up once before the first fork.
    `fork_all` forks for every job (RQ's own way, kept to compare)."""

    def __init__(self, *args, app: Flask | None = None, fork_all: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app if app is not None else current_app._get_current_object()
        self.fork_all = fork_all
        self.warmed = False

    def forks(self, queue_name: str) -> bool:
        return self.fork_all or queues.forks(queue_name)

    def execute_job(self, job: RQJob, queue: Queue) -> None:
        if self.forks(queue.name):
            if not self.warmed and not self.fork_all:
                with self.app.app_context():
                    warm_up()
                self.warmed = True
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        with self.app.app_context():
            self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: RQJob, working_time: float = 0.0) -> int:
        """An in-process job sends no heartbeats until it ends (as RQ's SimpleWorker): the
        worker's key must outlive its timeout."""
        if self.forks(job.origin):
            return super().get_heartbeat_ttl(job, working_time)
        if job.timeout == -1:
            return DEFAULT_WORKER_TTL
        return int(job.timeout or self.queue_class.DEFAULT_TIMEOUT) + 60

    def kill_horse(self, sig: signal.Signals = SHUTDOWN_SIGNAL) -> None:
        """Without a horse there is nothing to kill (RQ's `killpg` of pid 0 would be our own group)."""
        if self.horse_pid:
            super().kill_horse(sig)

    def main_work_horse(self, job, queue):
        # The parent's objects stay as they are: the horse's garbage collector leaves them
        # unscanned and their pages shared (a collection would write to every one).
        gc.freeze()
        db.engine.dispose(close=False)
        db.session.remove()
        with self.app.app_context():
            get_storage().after_fork()
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
@click.option("--queue", "queue_names", multiple=True, type=click.Choice(ALL), help="Listen to these queues only.")
@click.option("--kind", type=click.Choice([kind.value for kind in Kind]),
              help="Listen to the queues of this kind only: light (run in this process) or heavy (forked). "
                   "Default: every queue, each job as its queue's kind says.")
@click.option("--fork-all", is_flag=True,
              help="Fork a work horse for every job, light ones too, without warming up: RQ's own way, "
                   "as before (to compare).")
@with_appcontext
def worker_command(burst: bool, queue_names: tuple[str, ...], kind: str | None, fork_all: bool) -> None:
    """Run a worker with the scheduler and the periodic table on the declared queues."""
    listened = list(queue_names or ALL)
    if kind is not None:
        listened = [name for name in listened if queues.KINDS[name] is Kind(kind)]
        if not listened:
            raise click.BadParameter(f"none of {', '.join(queue_names)} is {kind}", param_hint="--queue")
    connection = redis_connection()
    try:
        connection.ping()
    except RedisConnectionError as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from exc
    app = current_app._get_current_object()
    schedule = Schedule()
    run_periodic(app, schedule)
    worker = AppWorker(listened, connection=connection, app=app, fork_all=fork_all)
    if not fork_all and any(worker.forks(name) for name in listened):
        warm_up()
        worker.warmed = True
    stop = threading.Event()
    if not burst:
        # A worker that stays: its start-up heap out of the collector's reach (a burst
        # worker drains and exits, and runs inside test processes that must not freeze).
        log.info("start-up heap frozen: %d objects", settle())
        threading.Thread(
            target=run_periodic_forever, args=(app, schedule, stop), name="periodic", daemon=True
        ).start()
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
