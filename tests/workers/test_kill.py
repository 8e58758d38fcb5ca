"""A worker killed with SIGKILL in the middle of a job does not lose it: the outbox
sweep sees the job's worker is dead, enqueues the row again, and it completes once.
Runs against a real SQLite file (the worker is another process) and the real Redis."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask_migrate import upgrade
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import func, select

from service import create_app
from service.cases.status import CaseStatus
from service.catalog.loader import load_file
from service.extensions import db
from service.models import Case, OutboxMessage, Referral
from tests.conftest import CATALOG, ROOT, make_config
from tests.fixtures.forms import valid_request
from workers import outbox, queues

HARNESS = Path(__file__).with_name("kill_harness.py")


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    return False


def test_sigkilled_worker_does_not_lose_the_job(tmp_path, redis_url):
    Redis.from_url(redis_url).flushdb()
    database = f"sqlite:///{tmp_path / 'kill.db'}"
    config = make_config(database, tmp_path, REDIS_URL=redis_url, JOB_RETRY_INTERVALS=[0, 0])
    app = create_app(config)
    with app.app_context():
        upgrade()
        load_file(CATALOG)
    response = app.test_client().post("/requests/new", data=valid_request(), content_type="multipart/form-data")
    assert response.status_code == 303

    marker = tmp_path / "started"
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "STORAGE_URL": config["STORAGE_URL"],
        "REDIS_URL": redis_url,
        "SECRET_KEY": config["SECRET_KEY"],
        "KILL_MARKER": str(marker),
    }
    worker = subprocess.Popen([sys.executable, str(HARNESS)], env=env, cwd=ROOT, start_new_session=True)
    try:
        assert _wait_for(marker, 30), "the worker never started the job"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.job == "route_case")).one()
        assert message.status == outbox.ENQUEUED
        report = outbox.sweep()
        assert report.recovered == 1
        SimpleWorker(list(queues.ALL), connection=queues.redis_connection()).work(burst=True)
        db.session.expire_all()
        message = db.session.get(OutboxMessage, message.id)
        case = db.session.scalars(select(Case)).one()
        assert message.status == outbox.DONE
        assert case.status == CaseStatus.ROUTED
        referrals = db.session.scalar(select(func.count(Referral.id)))
        assert 1 <= referrals <= app.config["ROUTING_TOP_N"]
        db.engine.dispose()
