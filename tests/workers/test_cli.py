"""`flask worker`: runs RQ against the real Redis, inside the app context."""
from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from tests.fixtures.services import free_port
from workers import queues


def record_app_name(path: str) -> str:
    """A job that proves it ran inside the app context."""
    from flask import current_app

    Path(path).write_text(current_app.name)
    return "done"


@pytest.fixture
def clean_redis(redis_url):
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


def test_burst_worker_drains_declared_queues_in_app_context(app, clean_redis, redis_url, tmp_path):
    app.config["REDIS_URL"] = redis_url
    target = tmp_path / "ran.txt"
    job = Queue(queues.DEFAULT, connection=clean_redis).enqueue(record_app_name, str(target))
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert target.read_text() == app.name
    job.refresh()
    assert job.get_status() == "finished"


def test_get_queue_refuses_undeclared_names(app):
    with app.app_context(), pytest.raises(ValueError, match="declared queues: routing, notifications, files, paperwork, default"):
        queues.get_queue("emails")


def test_worker_reports_unreachable_redis(app):
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    app.extensions.pop("redis", None)
    try:
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    finally:
        app.config["REDIS_URL"] = previous
    assert result.exit_code != 0
    assert "cannot reach Redis" in result.output


def test_derive_files_queues_the_files_stored_before_previews_existed(app, client, storage):
    from sqlalchemy import delete, select

    from service.extensions import db
    from service.models import DerivedFile, OutboxMessage
    from tests.fixtures import files
    from tests.fixtures.cases import run_worker, submit
    from tests.fixtures.forms import upload

    done = submit(client, files=[upload(files.png(), "done.png")])
    run_worker(app)
    old = submit(client, files=[upload(files.png(), "old.png")], email="old@example.org")
    # As a file stored before migration 0013: no derived rows, no job.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.case_id == old.id))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "derive-files"])
    assert result.exit_code == 0, result.output
    assert "1 file(s) queued" in result.output
    [queued] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.job == "derive_file",
                                                              OutboxMessage.case_id == old.id))
    assert queued.payload == {"attachment_id": old.attachments[0].id}
    assert not db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.job == "derive_file", OutboxMessage.case_id == done.id, OutboxMessage.status == "pending")).all()
    run_worker(app)
    assert db.session.scalars(select(DerivedFile).where(DerivedFile.attachment_id == old.attachments[0].id)).all()
