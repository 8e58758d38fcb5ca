"""Workers sized to their jobs: light queues run in the worker's process (and a job's
timeout still holds), heavy queues in a forked horse that may crash without taking the
worker along, warmed up once before the first fork. Against the real Redis."""
from __future__ import annotations

import os
import time

import pytest
from flask import current_app
from rq import Queue
from rq.job import JobStatus

from service import runner
from workers import cli, queues
from workers.cli import AppWorker
from workers.jobs import JOBS


def pid_in_app_context() -> int:
    """The process that ran the job (and proof that it ran inside the app context)."""
    assert current_app.name
    return os.getpid()


def overrun() -> None:
    time.sleep(30)


def crash() -> None:
    os._exit(3)


def _worker(app, names, **options) -> AppWorker:
    with app.app_context():
        return AppWorker(list(names), connection=queues.redis_connection(), **options)


def _work(app, worker: AppWorker) -> None:
    with app.app_context():
        worker.work(burst=True)


def test_every_queue_has_one_kind_and_paperwork_and_files_fork():
    assert set(queues.KINDS) == set(queues.ALL)
    light, heavy = queues.of_kind(queues.Kind.LIGHT), queues.of_kind(queues.Kind.HEAVY)
    assert sorted(light + heavy) == sorted(queues.ALL)
    assert set(heavy) == {queues.PAPERWORK, queues.FILES}
    assert all(queues.forks(spec.queue) == (spec.queue in heavy) for spec in JOBS.values())


def test_make_run_starts_a_worker_of_each_kind():
    assert sorted(runner.WORKER_KINDS) == sorted(kind.value for kind in queues.Kind)


def test_a_light_job_runs_in_the_workers_own_process(app, redis_queue):
    job = Queue(queues.ROUTING, connection=redis_queue).enqueue(pid_in_app_context)
    _work(app, _worker(app, [queues.ROUTING]))
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == os.getpid()


def test_a_light_job_past_its_timeout_fails_with_a_timeout(app, redis_queue):
    job = Queue(queues.NOTIFICATIONS, connection=redis_queue).enqueue(overrun, job_timeout=1)
    _work(app, _worker(app, [queues.NOTIFICATIONS]))
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert "JobTimeoutException" in job.latest_result().exc_string


def test_a_heavy_job_runs_in_a_forked_horse_and_its_crash_spares_the_worker(app, redis_queue, monkeypatch):
    monkeypatch.setattr(cli, "warm_up", lambda: None)
    queue = Queue(queues.PAPERWORK, connection=redis_queue)
    crashed = queue.enqueue(crash)
    after = queue.enqueue(pid_in_app_context)
    _work(app, _worker(app, [queues.PAPERWORK]))
    crashed.refresh()
    after.refresh()
    assert crashed.get_status() == JobStatus.FAILED
    assert "Work-horse terminated unexpectedly" in crashed.latest_result().exc_string
    assert after.get_status() == JobStatus.FINISHED
    assert after.return_value() not in (None, os.getpid())


def test_the_worker_warms_up_once_before_its_first_fork(app, redis_queue, monkeypatch):
    warmed: list[int] = []
    monkeypatch.setattr(cli, "warm_up", lambda: warmed.append(os.getpid()))
    queue = Queue(queues.FILES, connection=redis_queue)
    jobs = [queue.enqueue(pid_in_app_context) for _ in range(2)]
    _work(app, _worker(app, [queues.FILES]))
    assert warmed == [os.getpid()]
    for job in jobs:
        job.refresh()
        assert job.return_value() != os.getpid()


def test_fork_all_forks_light_jobs_too_without_warming(app, redis_queue, monkeypatch):
    monkeypatch.setattr(cli, "warm_up", lambda: pytest.fail("warmed up"))
    job = Queue(queues.ROUTING, connection=redis_queue).enqueue(pid_in_app_context)
    _work(app, _worker(app, [queues.ROUTING], fork_all=True))
    job.refresh()
    assert job.return_value() not in (None, os.getpid())


def test_stopping_a_light_job_kills_no_process_group(app, redis_queue, monkeypatch):
    """RQ's `Worker.kill_horse` would `killpg` the group of pid 0: the worker's own."""
    killed: list[tuple] = []
    monkeypatch.setattr(os, "killpg", lambda *args: killed.append(args))
    _worker(app, [queues.ROUTING]).kill_horse()
    assert killed == []


def test_worker_kind_light_leaves_the_heavy_queues_alone(app, redis_queue, monkeypatch):
    monkeypatch.setattr(cli, "warm_up", lambda: pytest.fail("a light worker warmed up"))
    light = Queue(queues.ROUTING, connection=redis_queue).enqueue(pid_in_app_context)
    heavy = Queue(queues.PAPERWORK, connection=redis_queue).enqueue(pid_in_app_context)
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--kind", "light"])
    assert result.exit_code == 0, result.output
    light.refresh()
    heavy.refresh()
    assert light.get_status() == JobStatus.FINISHED
    assert light.return_value() == os.getpid()
    assert heavy.get_status() == JobStatus.QUEUED


def test_worker_kind_heavy_warms_up_and_forks(app, redis_queue, monkeypatch):
    warmed: list[int] = []
    monkeypatch.setattr(cli, "warm_up", lambda: warmed.append(os.getpid()))
    light = Queue(queues.ROUTING, connection=redis_queue).enqueue(pid_in_app_context)
    heavy = Queue(queues.PAPERWORK, connection=redis_queue).enqueue(pid_in_app_context)
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--kind", "heavy"])
    assert result.exit_code == 0, result.output
    light.refresh()
    heavy.refresh()
    assert warmed == [os.getpid()]
    assert heavy.return_value() not in (None, os.getpid())
    assert light.get_status() == JobStatus.QUEUED


def test_worker_kind_refuses_queues_of_the_other_kind(app, redis_queue):
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--kind", "heavy", "--queue", queues.ROUTING])
    assert result.exit_code != 0
    assert "none of routing is heavy" in result.output
