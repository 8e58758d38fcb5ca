"""Durable hand-off from the database to RQ (the transactional outbox), the workers' side.

The domain records rows (`service.outbox.record`) and ends its transaction with
`service.outbox.commit()`, which claims them in that transaction and, once it committed,
calls `enqueue_claimed` (registered by `init_app`) with them. Every row's job has
`outbox-<id>` as its job id; the worker's periodic `sweep` relays (`relay`) whatever is
still pending (Redis was down), re-enqueues rows whose job was lost, and records jobs
that died for good. `execute` runs one row: the job's effects and the row's "done" mark
commit together, so a row that runs twice does its work once.
"""
from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from flask import Flask, current_app
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.worker import Worker
from sqlalchemy import bindparam, select

from service import outbox
from service.cases import events
from service.extensions import db
from service.models import Case, OutboxMessage
from service.outbox import DONE, ENQUEUED, FAILED, PENDING, Job
from workers import queues
from workers.jobs import JOBS

log = logging.getLogger(__name__)

# An enqueued row whose RQ job has vanished for this long is enqueued again.
LOST_AFTER: Final = timedelta(minutes=2)
JOB_TIMEOUT: Final = 300
# Payload keys holding a sealed secret (a status token to email); wiped once the job is done.
SEALED_PREFIX: Final = "sealed_"


def init_app(app: Flask) -> None:
    """Make `service.outbox.commit()` relay what it committed at once."""
    app.extensions[outbox.RELAY_HOOK] = enqueue_claimed


def job_id(message_id: int) -> str:
    return f"outbox-{message_id}"


def _now() -> datetime:
    return datetime.now(UTC)


class _Row(Protocol):
    """What enqueuing a row needs of it: an `OutboxMessage`, or the claim's RETURNING row."""

    id: int
    job: str
    case_id: int | None


def _enqueue(connection: Redis, message: _Row, pipeline: Pipeline | None = None) -> None:
    spec = JOBS[Job(message.job)]
    intervals = current_app.config["JOB_RETRY_INTERVALS"]
    queue = queues.Queue(spec.queue, connection=connection)
    queue.enqueue_call(
        execute,
        args=(message.id,),
        job_id=job_id(message.id),
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        timeout=JOB_TIMEOUT,
        description=f"{message.job} (outbox {message.id}, case {message.case_id})",
        pipeline=pipeline,
    )


# The sweep's claim: the oldest pending rows, up to a limit (the commit point claims the
# rows it wrote with `service.outbox.CLAIM`). Built once; only the values bound per call.
_CLAIM_OLDEST: Final = outbox.claim_where(
    OutboxMessage.id.in_(select(OutboxMessage.id).where(OutboxMessage.status == PENDING)
                         .order_by(OutboxMessage.id).limit(bindparam("limit")).scalar_subquery())
)


def _push(connection: Redis, rows: Sequence[_Row]) -> None:
    """The rows' jobs to Redis in one transaction (a case's jobs: one round trip)."""
    with connection.pipeline() as pipeline:
        for row in rows:
            _enqueue(connection, row, pipeline)
        pipeline.execute()


def enqueue_claimed(rows: Sequence[outbox.Claimed]) -> int:
    """The commit point's relay: the rows it claimed in the transaction it committed go
    to RQ. Raises when Redis fails; the commit point then sets them pending again."""
    _push(queues.redis_connection(), rows)
    return len(rows)


def relay(ids: Iterable[int] | None = None, *, limit: int = 500) -> int:
    """The sweep's and a retry's relay: claim pending rows (the given ones, or the oldest
    up to `limit`) in one conditional UPDATE that returns what their jobs need, so two
    relays never enqueue the same row and nothing is read back, commit, and enqueue
    them; returns how many. When Redis is unreachable the rows stay pending for the
    next sweep; nothing is raised."""
    try:
        connection = queues.redis_connection()
        connection.ping()
    except RedisError as exc:
        log.warning("Redis unreachable, outbox rows stay pending: %s", exc)
        return 0
    if ids is not None:
        wanted = list(ids)
        if not wanted:
            return 0
        statement, values = outbox.CLAIM, {"ids": wanted, "now": _now()}
    else:
        statement, values = _CLAIM_OLDEST, {"limit": limit, "now": _now()}
    claimed = sorted(db.session.execute(statement, values).all(), key=lambda row: row.id)
    db.session.commit()
    if not claimed:
        return 0
    try:
        _push(connection, claimed)
    except RedisError as exc:
        log.warning("Redis failed while enqueuing %d outbox row(s); they stay pending: %s", len(claimed), exc)
        outbox.release([row.id for row in claimed])
        return 0
    return len(claimed)


def execute(message_id: int) -> str:
    """The RQ job for every outbox row: run its handler, mark it done, commit once
    (through the commit point, which relays the follow-up work the job recorded)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        return "gone"
    if message.status == DONE:
        return "already done"
    try:
        arguments = dict(message.payload)
        if message.case_id is not None:
            arguments["case_id"] = message.case_id
        JOBS[Job(message.job)].func(**arguments)
        message.payload = {k: v for k, v in message.payload.items() if not k.startswith(SEALED_PREFIX)}
        message.status = DONE
        message.done_at = _now()
        message.last_error = None
        outbox.commit()
    except Exception as exc:
        db.session.rollback()
        _record_failure(message_id, exc)
        raise
    return "done"


def _record_failure(message_id: int, exc: BaseException) -> None:
    """Keep the error on the row and show it to staff at once, not only after the last
    attempt: the first failure of a run of attempts puts a `job_retrying` event on the
    case's timeline (one, however many retries follow); the last one makes it `job_failed`."""
    job = get_current_job()
    final = job is None or not job.retries_left
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        return
    first_failure = message.last_error is None
    message.last_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
    if final:
        _fail(message, message.last_error)
    elif first_failure and message.case_id is not None:
        case = db.session.get(Case, message.case_id)
        if case is not None:
            events.record_event(
                case, events.Actor.SYSTEM, events.EventKind.JOB_RETRYING, job=message.job, outbox_id=message.id,
                error=message.last_error[:500],
            )
        log.warning("outbox %s (%s) failed, will retry: %s", message.id, message.job, message.last_error)
    db.session.commit()


def _fail(message: OutboxMessage, error: str) -> None:
    message.status = FAILED
    if message.case_id is not None:
        case = db.session.get(Case, message.case_id)
        if case is not None:
            events.record_event(
                case, events.Actor.SYSTEM, events.EventKind.JOB_FAILED, job=message.job, outbox_id=message.id, error=error[:500]
            )
    log.error("outbox %s (%s) failed for good: %s", message.id, message.job, error)


def retry(message_id: int) -> None:
    """Staff asked to try a failed job again: forget the old RQ job, relay afresh."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status != FAILED:
        raise ValueError(f"outbox {message_id} is not a failed job")
    try:
        RQJob.fetch(job_id(message_id), connection=queues.redis_connection()).delete()
    except NoSuchJobError:
        pass
    message.status = PENDING
    message.last_error = None  # a new run of attempts: its first failure is shown again
    if message.case_id is not None:
        case = db.session.get(Case, message.case_id)
        if case is not None:
            events.record_event(case, events.Actor.SYSTEM, events.EventKind.JOB_RETRIED, job=message.job, outbox_id=message.id)
    db.session.commit()
    relay(ids=[message_id])


@dataclass
class SweepReport:
    relayed: int = 0
    recovered: int = 0
    failed: int = 0


def _worker_is_dead_here(connection: Redis, worker_name: str | None) -> bool:
    """A worker of this host whose process is gone (killed with SIGKILL, say)."""
    if not worker_name:
        return False
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=connection)
    if worker is None:
        return True
    if worker.hostname != socket.gethostname() or not worker.pid:
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep() -> SweepReport:
    """Periodic repair, run by every worker: relay what Redis missed, re-enqueue rows
    whose job was lost or whose worker died mid-job, record jobs that failed for good."""
    report = SweepReport()
    try:
        connection = queues.redis_connection()
        connection.ping()
    except RedisError as exc:
        log.warning("sweep skipped, Redis unreachable: %s", exc)
        return report
    for name in queues.ALL:
        StartedJobRegistry(name, connection=connection).cleanup()
    cutoff = _now() - LOST_AFTER
    enqueued = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == ENQUEUED)))
    # Every row's job in one round trip (None where the job is gone).
    found = RQJob.fetch_many([job_id(message.id) for message in enqueued], connection=connection)
    for message, job in zip(enqueued, found):
        status = job.get_status(refresh=False) if job is not None else None
        if status == JobStatus.FAILED:
            _fail(message, message.last_error or "the job failed in the worker")
            report.failed += 1
        elif status == JobStatus.STARTED and _worker_is_dead_here(connection, job.worker_name):
            job.delete()
            message.status = PENDING
            report.recovered += 1
        elif job is None and message.enqueued_at is not None and message.enqueued_at < cutoff:
            message.status = PENDING
            report.recovered += 1
        elif status == JobStatus.FINISHED:
            db.session.refresh(message)
    db.session.commit()
    report.relayed = relay()
    if report.recovered or report.failed or report.relayed:
        log.info("sweep: %s", report)
    return report
