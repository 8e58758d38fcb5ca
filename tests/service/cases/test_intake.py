"""Atomic intake against real stores: files all-or-nothing, text kept when the store is
down, and no object left referenced or orphaned."""
from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from service.cases import intake
from service.cases.references import format_reference, next_reference
from service.extensions import db
from service.models import Attachment, Case, Treatment
from storage import StorageUnavailable, from_url
from tests.fixtures import files
from tests.fixtures.cases import rows, submit
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.services import free_port


class FailingAfter:
    """Fault injection around a real store: the n-th put fails as a dead store would."""

    def __init__(self, inner, succeed: int) -> None:
        self.inner, self.left = inner, succeed

    def put(self, *args, **kwargs):
        if self.left == 0:
            raise StorageUnavailable("injected: store went away")
        self.left -= 1
        return self.inner.put(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _post(client, parts):
    return client.post(
        "/requests/new",
        data=valid_request(files=[upload(c, n) for c, n in parts]),
        content_type="multipart/form-data",
    )


def _keys(s3_bucket, endpoint):
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]


def test_files_land_in_s3_byte_identical_encrypted_and_typed(client, s3_storage, s3_bucket, s3_endpoint):
    import hashlib

    content = files.pdf("Echo report")
    response = _post(client, [(content, "echo.pdf")])
    assert response.status_code == 303
    attachment = db.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    obj = s3.get_object(Bucket=s3_bucket, Key=f"medtour/{attachment.storage_key}")
    assert hashlib.sha256(obj["Body"].read()).hexdigest() == attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert obj["ServerSideEncryption"] == "AES256"
    assert obj["ContentType"] == "application/pdf"
    assert obj["ContentDisposition"].startswith("attachment")


def test_store_unreachable_keeps_the_text_and_tells_the_patient(app, client):
    original = app.extensions["storage"]
    app.extensions["storage"] = from_url(
        "s3://medtour-down", secret_key="x", endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    try:
        response = _post(client, [(files.pdf(), "scan.pdf"), (files.jpeg(), "photo.jpg")])
    finally:
        app.extensions["storage"] = original
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.description.startswith("Above-knee amputation")
    assert case.attachments == []
    assert [e.kind for e in case.events] == ["case_submitted", "files_not_stored"]
    page = client.get(response.location)  # in Russian, the language the patient chose
    assert "Ваша заявка принята, но сохранить файлы сейчас не удалось." in page.text
    assert "Осталось файлов: 10 из 10" in page.text
    assert "Не удалось сохранить 2 файла; добавить файлы снова можно на этой странице" in page.text


def test_store_failing_midway_leaves_no_object_and_no_attachment(app, client, s3_storage, s3_bucket, s3_endpoint):
    app.extensions["storage"] = FailingAfter(s3_storage, succeed=2)
    try:
        response = _post(client, [(files.pdf(), "1.pdf"), (files.png(), "2.png"), (files.jpeg(), "3.jpg")])
    finally:
        app.extensions["storage"] = s3_storage
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.attachments == []
    assert _keys(s3_bucket, s3_endpoint) == []


def test_adding_files_when_the_store_fails_adds_nothing_and_says_so(app, client, storage):
    response = _post(client, [])
    token = response.location.rsplit("/", 1)[1]
    root = Path(app.config["STORAGE_URL"].removeprefix("file://"))
    before = {p for p in root.rglob("*") if p.is_file()}
    app.extensions["storage"] = FailingAfter(storage, succeed=1)
    try:
        page = client.post(
            f"/s/{token}/files",
            data={"files": [upload(files.pdf(), "a.pdf"), upload(files.png(), "b.png")]},
            content_type="multipart/form-data",
        )
    finally:
        app.extensions["storage"] = storage
    assert page.status_code == 503
    assert "Сейчас не удалось сохранить ваши файлы; ничего не добавлено." in page.text  # a Russian case
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.attachments == []
    assert {p for p in root.rglob("*") if p.is_file()} == before


def test_a_failed_commit_removes_the_objects_it_wrote(app_ctx, storage, monkeypatch):
    from service.uploads import inspect

    data = intake.RequestData(
        full_name="A", email="a@example.org", country="DE", language="de",
        treatment=db.session.scalars(select(Treatment).order_by(Treatment.id)).first(), description="x" * 30,
    )
    incoming = inspect("a.pdf", io.BytesIO(files.pdf()), 10 * 1024 * 1024)
    written: list[str] = []
    real_put = storage.put

    def recording_put(key, *args, **kwargs):
        written.append(key)
        return real_put(key, *args, **kwargs)

    monkeypatch.setattr(storage, "put", recording_put)

    def broken_commit():
        raise RuntimeError("database went away at commit")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        intake.submit_request(data, [incoming], storage, source="web")
    assert written and not any(storage.exists(key) for key in written)


def test_references_count_up_per_year(app_ctx):
    first = next_reference(db.session, 2031)
    second = next_reference(db.session, 2031)
    assert first == format_reference(2031, 1) == "MT-2031-000001"
    assert second == "MT-2031-000002"
    assert next_reference(db.session, 2032) == "MT-2032-000001"


def test_reference_is_unique_per_case(client):
    _post(client, [])
    _post(client, [])
    refs = db.session.scalars(select(Case.reference)).all()
    assert len(refs) == len(set(refs))
    assert db.session.scalar(select(func.count(Case.id))) == len(refs)


# --- files are written concurrently, yet all-or-nothing and in submission order ---


class Choreographed:
    """A real store whose puts are held back per file (by name) to force an interleaving.

    ``hold(name)`` is called on the put's own thread before the real put; it may wait on
    the events below or raise. Records how many puts ran at once and when each finished.
    """

    def __init__(self, inner, hold) -> None:
        self.inner, self.hold = inner, hold
        self.lock = threading.Lock()
        self.running = self.most_running = 0
        self.started: list[str] = []
        self.finished: list[str] = []
        self.done = {name: threading.Event() for name in "12345"}

    def put(self, key, stream, *, content_type, filename):
        name = filename.split(".")[0]
        with self.lock:
            self.started.append(name)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.hold(self, name)
            stored = self.inner.put(key, stream, content_type=content_type, filename=filename)
            with self.lock:
                self.finished.append(name)
            return stored
        finally:
            with self.lock:
                self.running -= 1
            self.done[name].set()

    def __getattr__(self, name):
        return getattr(self.inner, name)


FIVE = [
    (files.pdf("one"), "1.pdf"),
    (files.png(), "2.png"),
    (files.jpeg(), "3.jpg"),
    (files.pdf("four"), "4.pdf"),
    (files.pdf("five"), "5.pdf"),
]


def _latest_case():
    return db.session.scalars(select(Case).order_by(Case.id.desc())).first()


def test_files_are_written_several_at_a_time(app, client, storage, monkeypatch):
    monkeypatch.setattr(intake, "PARALLEL_PUTS", 4)
    together = threading.Barrier(4, timeout=5)

    def meet(store, name):
        if name != "5":
            try:
                together.wait()
            except threading.BrokenBarrierError:
                pass

    app.extensions["storage"] = store = Choreographed(storage, meet)
    try:
        response = _post(client, FIVE)
    finally:
        app.extensions["storage"] = storage
    assert response.status_code == 303
    assert store.most_running == 4
    assert len(_latest_case().attachments) == 5


def test_attachments_keep_the_submission_order_when_puts_finish_in_reverse(app, client, storage, monkeypatch):
    import hashlib

    monkeypatch.setattr(intake, "PARALLEL_PUTS", 4)
    four = FIVE[:4]

    def after_the_next_one(store, name):
        following = str(int(name) + 1)
        if following in {n.split(".")[0] for _, n in four}:
            store.done[following].wait(timeout=5)

    app.extensions["storage"] = store = Choreographed(storage, after_the_next_one)
    try:
        response = _post(client, four)
    finally:
        app.extensions["storage"] = storage
    assert response.status_code == 303
    assert store.finished == ["4", "3", "2", "1"]
    case = _latest_case()
    recorded = db.session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
    ).all()
    assert [a.filename for a in recorded] == [name for _, name in four]
    assert [a.sha256 for a in recorded] == [hashlib.sha256(content).hexdigest() for content, _ in four]
    for attachment in recorded:
        with storage.open(attachment.storage_key) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == attachment.sha256


def test_a_failure_in_the_third_of_five_concurrent_puts_leaves_no_object_and_no_attachment(
    app, client, s3_storage, s3_bucket, s3_endpoint, monkeypatch
):
    """Puts 1, 2 and 4 are still running when 3 fails and finish only afterwards: their
    objects must be deleted too, and 5 must not be left behind whether it ran or not."""
    monkeypatch.setattr(intake, "PARALLEL_PUTS", 4)
    failed = threading.Event()

    def third_fails(store, name):
        if name == "3":
            deadline = time.monotonic() + 5
            while len(store.started) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            failed.set()
            raise StorageUnavailable("injected: store went away")
        failed.wait(timeout=5)
        time.sleep(0.05)  # let the request notice the failure before these objects land

    app.extensions["storage"] = store = Choreographed(s3_storage, third_fails)
    try:
        response = _post(client, FIVE)
    finally:
        app.extensions["storage"] = s3_storage
    assert response.status_code == 303
    for name in "124":  # an implementation that did not wait for them would have answered by now
        store.done[name].wait(timeout=5)
    assert {"1", "2", "4"} <= set(store.finished)  # written after the failure, then deleted
    case = _latest_case()
    assert case.attachments == []
    assert [e.kind for e in case.events] == ["case_submitted", "files_not_stored"]
    assert _keys(s3_bucket, s3_endpoint) == []


def test_adding_files_concurrently_keeps_all_or_nothing_too(app, client, storage, monkeypatch):
    monkeypatch.setattr(intake, "PARALLEL_PUTS", 4)
    token = _post(client, []).location.rsplit("/", 1)[1]
    root = Path(app.config["STORAGE_URL"].removeprefix("file://"))
    before = {p for p in root.rglob("*") if p.is_file()}

    def last_fails_first(store, name):
        if name == "4":
            raise StorageUnavailable("injected: store went away")
        store.done["4"].wait(timeout=5)

    app.extensions["storage"] = store = Choreographed(storage, last_fails_first)
    try:
        page = client.post(
            f"/s/{token}/files",
            data={"files": [upload(content, name) for content, name in FIVE[:4]]},
            content_type="multipart/form-data",
        )
    finally:
        app.extensions["storage"] = storage
    assert page.status_code == 503
    for name in "123":
        store.done[name].wait(timeout=5)
    assert sorted(store.finished) == ["1", "2", "3"]
    assert _latest_case().attachments == []
    assert {p for p in root.rglob("*") if p.is_file()} == before


class ProbingCounterLock:
    """A real store whose puts first try to take the reference counter's row lock from
    another connection, as a concurrent submission would."""

    def __init__(self, inner, engine, year: int) -> None:
        self.inner, self.engine, self.year, self.waited = inner, engine, year, []

    def put(self, *args, **kwargs):
        with self.engine.connect() as other:
            other.execute(text("SET LOCAL lock_timeout = '1s'"))
            try:
                other.execute(text("SELECT last FROM reference_counters WHERE year = :y FOR UPDATE"), {"y": self.year})
                self.waited.append(False)
            except OperationalError:
                self.waited.append(True)
            other.rollback()
        return self.inner.put(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_the_reference_counter_is_not_locked_while_files_are_stored(app, client, storage):
    """Each case is numbered just before its commit: while one patient's files upload,
    another submission can still take the next number."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; the row lock exists on PostgreSQL only")
    year = datetime.now(UTC).year
    with db.engine.connect() as setup:  # the year's row exists once its first case is in
        setup.execute(text("INSERT INTO reference_counters (year, last) VALUES (:y, 0) ON CONFLICT DO NOTHING"),
                      {"y": year})
        setup.commit()
    app.extensions["storage"] = probe = ProbingCounterLock(storage, db.engine, year)
    try:
        response = _post(client, [(files.png(), "knee.png"), (files.pdf("MRI"), "mri.pdf")])
    finally:
        app.extensions["storage"] = storage
    assert response.status_code == 303
    assert probe.waited == [False, False]
    assert _latest_case().reference.startswith(f"MT-{year}-")


@pytest.mark.parametrize("auto_route", [True, False])
def test_a_new_case_is_routed_on_arrival_only_with_auto_route(app, client, monkeypatch, auto_route):
    monkeypatch.setitem(app.config, "AUTO_ROUTE", auto_route)
    case = submit(client)
    assert len(rows(case, "route_case")) == (1 if auto_route else 0)
    assert rows(case, "render_confirmation") and rows(case, "notify_patient")


def test_submissions_share_the_processs_put_threads(app, client, storage):
    """The puts run on the process's pool, not on threads started for each submission."""
    seen: list[threading.Thread] = []

    def note(store, name):
        seen.append(threading.current_thread())

    app.extensions["storage"] = Choreographed(storage, note)
    try:
        for _ in range(6):
            assert _post(client, FIVE[:1]).status_code == 303
    finally:
        app.extensions["storage"] = storage
    assert len(seen) == 6 and threading.current_thread() not in seen
    # Threads of a pool made per submission would have been joined when it answered.
    assert all(thread.is_alive() and thread.name.startswith("store-files") for thread in seen)
    assert len(set(seen)) <= intake.PARALLEL_PUTS
