"""The staging rules without HTTP: cleanup of expired uploads (rows and objects, on both
stores), the assembly of parts and the claim made at submission."""
from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.cases import staging
from service.cases.staging import StagingError
from service.extensions import db
from service.models import StagedUpload
from storage import StorageUnavailable
from tests.fixtures import files
from tests.service.blueprints.test_tus import stored_keys

OWNER = "owner-a"


@pytest.fixture(params=["file", "s3"])
def store(request, storage):
    return storage if request.param == "file" else request.getfixturevalue("s3_storage")


def _send(upload: StagedUpload, data: bytes, store, *, step: int) -> StagedUpload:
    for offset in range(upload.offset, len(data), step):
        piece = data[offset : offset + step]
        upload = staging.append(upload, io.BytesIO(piece), offset=offset, content_length=len(piece), storage=store)
    return upload


def _upload(app_ctx, store, data: bytes, *, complete: bool, created: datetime | None = None) -> StagedUpload:
    upload = staging.create(OWNER, "scan.pdf", len(data), now=created)
    sent = data if complete else data[: len(data) // 2]
    return _send(upload, data[: len(sent)], store, step=max(1, len(sent) // 3 or 1))


def test_parts_are_assembled_into_one_object_with_the_files_hash(app_ctx, store):
    data = files.pdf() * 50
    upload = staging.create(OWNER, "scan.pdf", len(data))
    upload = _send(upload, data, store, step=4000)
    assert upload.complete and upload.parts == []
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert stored_keys(store, upload.id)[-1].endswith(staging.file_key(upload.id))
    assert len(stored_keys(store, upload.id)) == 1
    assert staging.finish(upload, store) is upload  # idempotent


def test_cleanup_removes_expired_uploads_and_their_objects_and_keeps_fresh_ones(app_ctx, store, caplog):
    data = files.pdf() * 20
    long_ago = datetime.now(UTC) - staging.UPLOAD_TTL - timedelta(minutes=1)
    expired_complete = _upload(app_ctx, store, data, complete=True, created=long_ago)
    expired_partial = _upload(app_ctx, store, data, complete=False, created=long_ago)
    fresh = _upload(app_ctx, store, data, complete=False)
    assert stored_keys(store, expired_complete.id) and stored_keys(store, expired_partial.id)
    expired_ids = {expired_complete.id, expired_partial.id}
    fresh_id = fresh.id

    with caplog.at_level("INFO", logger="service.cases.staging"):
        report = staging.cleanup(store)

    assert set(report.removed) == expired_ids and report.kept == []
    db.session.expire_all()
    remaining = set(db.session.scalars(select(StagedUpload.id)))
    assert not remaining & expired_ids and fresh_id in remaining
    for upload_id in expired_ids:
        assert stored_keys(store, upload_id) == []
        assert any(upload_id in message for message in caplog.messages)
    assert stored_keys(store, fresh_id)  # untouched
    assert staging.cleanup(store).removed == []


def test_cleanup_keeps_an_expired_upload_whose_objects_cannot_be_deleted_yet(app_ctx, storage, monkeypatch):
    data = files.pdf()
    long_ago = datetime.now(UTC) - staging.UPLOAD_TTL - timedelta(seconds=1)
    upload = _upload(app_ctx, storage, data, complete=True, created=long_ago)
    upload_id = upload.id

    def down(key):
        raise StorageUnavailable("store down")

    monkeypatch.setattr(storage, "delete", down)
    report = staging.cleanup(storage)
    assert report.kept == [upload_id] and report.removed == []
    monkeypatch.undo()
    assert staging.cleanup(storage).removed == [upload_id]
    assert stored_keys(storage, upload_id) == []


def test_the_ttl_is_24_hours_from_creation(app_ctx):
    upload = staging.create(OWNER, "scan.pdf", 10)
    assert upload.expires_at - upload.created_at == timedelta(hours=24)


def test_claim_takes_only_the_owners_completed_uploads(app_ctx, storage):
    data = files.pdf()
    done = staging.create(OWNER, "done.pdf", len(data))
    done = _send(done, data, storage, step=len(data))
    partial = staging.create(OWNER, "partial.pdf", len(data))
    foreign = staging.create("owner-b", "foreign.pdf", len(data))
    found, problems = staging.claim(OWNER, [done.id, done.id, partial.id, foreign.id, "nope"], storage)
    assert found == [done]
    assert problems[0].startswith("partial.pdf: the upload did not finish")
    assert len(problems) == 3 and not any("foreign.pdf" in p for p in problems)
    assert staging.claim(None, [done.id], storage)[0] == []


def test_a_store_failure_mid_patch_loses_nothing_already_received(app_ctx, storage, monkeypatch):
    data = files.pdf()
    upload = staging.create(OWNER, "scan.pdf", len(data))
    upload = _send(upload, data[:100], storage, step=100)

    def down(*args, **kwargs):
        raise StorageUnavailable("store down")

    monkeypatch.setattr(type(storage), "put", down)
    with pytest.raises(StagingError) as refused:
        staging.append(upload, io.BytesIO(data[100:]), offset=100, content_length=len(data) - 100, storage=storage)
    assert refused.value.status == 503
    monkeypatch.undo()
    db.session.refresh(upload)
    assert upload.offset == 100
    upload = _send(upload, data, storage, step=len(data))
    assert upload.complete and upload.sha256 == hashlib.sha256(data).hexdigest()
