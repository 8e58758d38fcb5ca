"""On SQLite, transactions that may write take the write lock when they begin, so a
second writer waits (busy timeout) instead of failing at its first write; reads keep
reading beside the writer; a lock held past the timeout is a 503 with Retry-After.

Each test runs an app of its own on one SQLite file, and plays "the other process" with
a plain sqlite3 connection that holds the write lock (BEGIN IMMEDIATE)."""
from __future__ import annotations

import base64
import contextlib
import io
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, url_for
from flask_migrate import upgrade
from sqlalchemy import select, text
from werkzeug.test import encode_multipart

from wsgi import create_app
from service.catalog.loader import load_file
from service.errors import DATABASE_RETRY_AFTER
from service.extensions import db
from service.models import CaseEvent
from service.sqlite_locks import may_write
from tests.conftest import CATALOG, make_config
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.staff import make_user, sign_in
from tests.fixtures.cases import make_case

SHORT_TIMEOUT = 0.2
LONG_TIMEOUT = 10.0
HOLD_SECONDS = 1.0


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("transactions") / "locks.db"
    app = create_app(make_config(f"sqlite:///{path}", path.parent))
    with app.app_context():
        upgrade()
        load_file(CATALOG)
        db.engine.dispose()
    return path


@pytest.fixture
def make_app(database: Path, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """An app on the module's database with the given busy timeout (seconds)."""
    made: list[Flask] = []

    def make(busy_timeout: float) -> Flask:
        app = create_app(make_config(f"sqlite:///{database}", tmp_path, SQLITE_BUSY_TIMEOUT=busy_timeout))
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@contextlib.contextmanager
def write_lock(path: Path, release_after: float | None = None) -> Iterator[sqlite3.Connection]:
    """Another writer holding SQLite's write lock for the body, or for `release_after` seconds."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(release_after, holder.rollback) if release_after is not None else None
    try:
        if timer is not None:
            timer.start()
        yield holder
    finally:
        if timer is not None:
            timer.join()
        holder.rollback()
        holder.close()


def lock_is_free(path: Path) -> bool:
    """Whether another connection could take the write lock right now (no waiting)."""
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        probe.close()


def test_a_transaction_outside_requests_holds_the_write_lock_from_its_first_read(make_app, database):
    """Worker jobs, the outbox sweep and CLI commands read, then write: they must not
    start on a read snapshot another writer can make stale."""
    app = make_app(LONG_TIMEOUT)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        try:
            assert not lock_is_free(database)
        finally:
            db.session.rollback()
    assert lock_is_free(database)


def test_a_form_post_waits_for_the_other_writer_instead_of_failing(make_app, database):
    client = make_app(LONG_TIMEOUT).test_client()
    started = time.monotonic()
    with write_lock(database, release_after=HOLD_SECONDS):
        response = client.post("/requests/new", data=valid_request(), content_type="multipart/form-data")
    assert response.status_code == 303, response.text
    assert time.monotonic() - started >= HOLD_SECONDS * 0.9


def test_reads_go_on_beside_a_writer(make_app, database):
    """GETs begin deferred: with the lock held past their (short) busy timeout, the
    pages still render."""
    client = make_app(SHORT_TIMEOUT).test_client()
    with write_lock(database):
        assert client.get("/requests/new").status_code == 200
        assert client.get("/healthz").status_code == 200


def test_a_lock_held_past_the_busy_timeout_is_503_with_retry_after(make_app, database):
    client = make_app(SHORT_TIMEOUT).test_client()
    with write_lock(database):
        form = client.post("/requests/new", data=valid_request(), content_type="multipart/form-data")
        api = client.post("/api/v1/requests", data=valid_request(), content_type="multipart/form-data")
    assert form.status_code == 503
    assert form.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert api.status_code == 503
    assert api.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert api.mimetype == "application/problem+json"
    # The connection that gave up is usable again once the lock is free.
    again = client.post("/requests/new", data=valid_request(), content_type="multipart/form-data")
    assert again.status_code == 303, again.text


def test_a_staff_case_page_which_records_the_view_waits_for_the_writer(make_app, database):
    """A GET that writes (the access record) is marked and takes the lock up front:
    unmarked, it would read deferred and fail at once on its INSERT."""
    app = make_app(LONG_TIMEOUT)
    with app.app_context():
        user = make_user()
        case = make_case()
        db.session.commit()
        case_id, reference = case.id, case.reference
        client = app.test_client()
        sign_in(client, user)
    with write_lock(database, release_after=HOLD_SECONDS):
        response = client.get(f"/staff/cases/{reference}")
    assert response.status_code == 200, response.text
    with app.app_context():
        kinds = db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
    assert "case_viewed" in kinds


class Trickle(io.BytesIO):
    """A request body from a slow client: the first half, then nothing until `resume`."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size, self.half = len(data), len(data) // 2
        self.paused, self.resume = threading.Event(), threading.Event()

    def _allowed(self, size: int) -> int:
        if self.tell() >= self.half and not self.resume.is_set():
            self.paused.set()
            self.resume.wait(timeout=30)
        if self.resume.is_set():
            return size
        return min(size, self.half - self.tell())

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.size - self.tell() if size is None or size < 0 else size
        return super().read(self._allowed(wanted))

    def readinto(self, buffer) -> int:
        return super().readinto(memoryview(buffer)[:self._allowed(len(buffer))])


def _while_the_client_pauses(send: Callable[[Trickle], object], body: Trickle, database: Path):
    """Whether another writer could take the lock while `send` waits for the rest of
    the body, and what `send` answered."""
    answers: list[object] = []
    sender = threading.Thread(target=lambda: answers.append(send(body)))
    sender.start()
    try:
        assert body.paused.wait(timeout=30), "the app never read the body"
        free = lock_is_free(database)
    finally:
        body.resume.set()
        sender.join(timeout=60)
    return free, answers[0]


def test_an_api_post_holds_no_lock_while_its_body_arrives(make_app, database):
    """The API is exempt from CSRF (which parses page forms first): its form is still
    received before its first query, so a slow client cannot stall every writer."""
    client = make_app(LONG_TIMEOUT).test_client()
    boundary, payload = encode_multipart({**valid_request(), "files": upload(files.pdf(), "scan.pdf")})
    free, response = _while_the_client_pauses(lambda body: client.post(
        "/api/v1/requests", input_stream=body, content_length=len(payload),
        content_type=f"multipart/form-data; boundary={boundary}",
    ), Trickle(payload), database)
    assert free
    assert response.status_code == 201, response.text


def test_a_tus_patch_holds_no_lock_while_its_chunk_arrives(make_app, database):
    client = make_app(LONG_TIMEOUT).test_client()
    data = files.pdf("Resumable scan")
    tus = {"Tus-Resumable": "1.0.0"}
    created = client.post("/uploads", headers={
        **tus, "Upload-Length": str(len(data)),
        "Upload-Metadata": "filename " + base64.b64encode(b"scan.pdf").decode(),
    })
    assert created.status_code == 201, created.text
    free, response = _while_the_client_pauses(lambda body: client.patch(
        created.headers["Location"], input_stream=body, content_length=len(data),
        content_type="application/offset+octet-stream", headers={**tus, "Upload-Offset": "0"},
    ), Trickle(data), database)
    assert free
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(data))


@pytest.mark.parametrize(("method", "endpoint", "values", "writes"), [
    ("GET", "staff_case.show", {"reference": "MT-1"}, True),
    ("GET", "staff_case.audit", {"reference": "MT-1"}, True),
    ("GET", "staff_case.attachment", {"reference": "MT-1", "attachment_id": 1}, True),
    ("GET", "staff_case.document", {"reference": "MT-1", "document_id": 1}, True),
    ("HEAD", "staff_case.show", {"reference": "MT-1"}, True),
    ("GET", "clinic_portal.referral", {"referral_id": 1}, True),
    ("GET", "clinic_portal.dossier", {"referral_id": 1}, True),
    ("GET", "clinic_portal.attachment", {"referral_id": 1, "attachment_id": 1}, True),
    ("GET", "requests.new", {}, False),
    ("GET", "status.show", {"token": "t"}, False),
    ("GET", "staff_case.preview", {"reference": "MT-1", "attachment_id": 1}, False),
    ("HEAD", "tus.resource", {"upload_id": "u"}, False),
    ("POST", "requests.new", {}, True),
    ("POST", "tus.create", {}, True),
    ("PATCH", "tus.resource", {"upload_id": "u"}, True),
    ("DELETE", "tus.resource", {"upload_id": "u"}, True),
])
def test_which_requests_may_write(make_app, method, endpoint, values, writes):
    app = make_app(LONG_TIMEOUT)
    with app.app_context():
        path = url_for(endpoint, **values, _external=False)
    with app.test_request_context(path, method=method):
        assert may_write() is writes


def test_a_write_in_a_deferred_transaction_is_logged(make_app, caplog):
    app = make_app(LONG_TIMEOUT)

    def unmarked() -> str:
        db.session.execute(text("DELETE FROM idempotency_keys WHERE 0"))
        db.session.commit()
        return "written"

    app.add_url_rule("/unmarked-write", "unmarked_write", unmarked)
    with caplog.at_level(logging.WARNING, logger="service.sqlite_locks"):
        assert app.test_client().get("/unmarked-write").status_code == 200
    assert any("unmarked_write" in r.getMessage() and "@writes_on_read" in r.getMessage() for r in caplog.records)
