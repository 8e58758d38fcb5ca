"""Atomic intake against real stores: files all-or-nothing, text kept when the store is
down, and no object left referenced or orphaned."""
from __future__ import annotations

import io
from pathlib import Path

import boto3
import pytest
from sqlalchemy import func, select

from service.cases import intake
from service.cases.references import format_reference, next_reference
from service.extensions import db
from service.models import Attachment, Case
from storage import StorageUnavailable, from_url
from tests.fixtures import files
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
    page = client.get(response.location)
    assert "your files could not be stored just now" in page.text
    assert "10 of 10 files left" in page.text
    assert "could not be stored; they can be added again from this page" in page.text


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
    assert "could not be stored just now; nothing was added" in page.text
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.attachments == []
    assert {p for p in root.rglob("*") if p.is_file()} == before


def test_a_failed_commit_removes_the_objects_it_wrote(app_ctx, storage, monkeypatch):
    from service.catalog import queries
    from service.uploads import inspect

    data = intake.RequestData(
        full_name="A", email="a@example.org", country="DE", language="de",
        treatment=queries.treatments()[0], description="x" * 30,
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
