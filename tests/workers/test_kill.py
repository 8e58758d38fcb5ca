"""A worker killed with SIGKILL in the middle of a job does not lose it: the outbox
sweep sees the job's worker is dead, enqueues the row again, and it completes once,
whether the kill came during routing or during paperwork (after the document's object
was written: the rerun overwrites it, one document per slot).
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

from wsgi import create_app
from service.cases import paperwork_store
from service.cases.status import CaseStatus
from service.catalog.loader import load_file
from service.extensions import db
from service.models import Case, Document, OutboxMessage, Referral
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


def _killed_mid_job(tmp_path: Path, redis_url: str, during: str):
    """An app with one submitted case, after its worker was SIGKILLed inside a job."""
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
        "KILL_DURING": during,
    }
    worker = subprocess.Popen([sys.executable, str(HARNESS)], env=env, cwd=ROOT, start_new_session=True)
    try:
        assert _wait_for(marker, 45), f"the worker never reached {during}"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        # RQ runs the job in a work horse in a session of its own (setsid): kill it as well.
        _kill_quietly(marker)
    return app


def _kill_quietly(marker: Path) -> None:
    """SIGKILL the work horse whose pid the harness wrote into the marker, and wait until
    it is gone (it held the job's open transaction)."""
    try:
        pid = int(marker.read_text())
        os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_sigkilled_worker_does_not_lose_the_job(tmp_path, redis_url):
    app = _killed_mid_job(tmp_path, redis_url, "routing")
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


def test_a_worker_killed_during_paperwork_reruns_the_job_and_leaves_one_document_per_slot(tmp_path, redis_url):
    app = _killed_mid_job(tmp_path, redis_url, "paperwork")
    with app.app_context():
        case = db.session.scalars(select(Case)).one()
        store = Path(app.config["STORAGE_URL"].removeprefix("file://")) / "cases" / str(case.id) / "documents"
        assert [p.name for p in store.iterdir()] == ["confirmation.pdf"]  # written, never committed
        assert db.session.scalar(select(func.count(Document.id))) == 0
        report = outbox.sweep()
        assert report.recovered == 1
        SimpleWorker(list(queues.ALL), connection=queues.redis_connection()).work(burst=True)
        db.session.expire_all()
        messages = list(db.session.scalars(select(OutboxMessage)))
        assert {m.status for m in messages} == {outbox.DONE}
        confirmation = next(m for m in messages if m.job == "render_confirmation")
        assert confirmation.attempts == 2
        referral_ids = db.session.scalars(select(Referral.id)).all()
        slots = db.session.scalars(select(Document.slot)).all()
        assert sorted(slots) == sorted([paperwork_store.CONFIRMATION, *map(paperwork_store.dossier_slot, referral_ids)])
        assert sorted(p.name for p in store.iterdir()) == sorted(
            paperwork_store.document_key(case.id, slot).rsplit("/", 1)[1] for slot in slots
        )
        db.engine.dispose()
