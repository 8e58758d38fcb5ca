"""The tus endpoints (/uploads): the contract the browser's uploads.js relies on, on both stores."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.exceptions import ClientDisconnected

from service import limits
from service.cases import staging
from service.extensions import db
from service.models import StagedUpload
from storage import FileStore, S3Store
from tests.fixtures import files

MiB = limits.MIB
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


# -- helpers -----------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def metadata(name: str, filetype: str = "application/pdf") -> str:
    return f"filename {b64(name)},filetype {b64(filetype)}"


def create(client, length: int, name: str = "scan.pdf", **headers):
    return client.post(
        "/uploads", headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(name), **headers}
    )


def created(client, length: int, name: str = "scan.pdf") -> str:
    response = create(client, length, name)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.headers["Location"]


def patch(client, location: str, offset: int, data: bytes, **headers):
    return client.patch(
        location, data=data, headers={**TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS, **headers}
    )


def head(client, location: str):
    return client.head(location, headers=TUS)


def upload_id(location: str) -> str:
    return location.rsplit("/", 1)[1]


def row(location: str) -> StagedUpload | None:
    db.session.expire_all()
    return db.session.get(StagedUpload, upload_id(location))


def pdf_of(size: int) -> bytes:
    """A file the type check accepts (PDF magic), padded with random bytes to ``size``."""
    start = files.pdf()
    return (start + os.urandom(max(0, size - len(start))))[:size]


def problem_of(response) -> dict:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    body = json.loads(response.get_data(as_text=True))
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == response.status_code
    return body


def stored_keys(store, upload: str) -> list[str]:
    """Every object the store holds under ``uploads/<id>/`` (read behind the code's back)."""
    if isinstance(store, FileStore):
        folder = Path(store.root) / "uploads" / upload
        return sorted(str(p.relative_to(store.root)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    assert isinstance(store, S3Store)
    prefix = store.object_key(f"uploads/{upload}/x")[:-1]
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


class DroppingStream:
    """A request body whose connection drops after ``deliver`` bytes: the socket raises, as a
    real one does; Werkzeug's LimitedStream turns that into ClientDisconnected."""

    def __init__(self, data: bytes, deliver: int, step: int = 100_000) -> None:
        self.data, self.deliver, self.step, self.pos = data, deliver, step, 0
        self._cursor = 0

    # The test client sizes the body (Content-Length) by seeking; the whole body is announced.
    def tell(self) -> int:
        return self._cursor

    def seek(self, offset: int, whence: int = 0) -> int:
        self._cursor = len(self.data) if whence == 2 else offset
        return self._cursor

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.deliver:
            raise OSError("connection reset by peer")
        size = self.step if size is None or size < 0 else min(size, self.step)
        chunk = self.data[self.pos : min(self.pos + size, self.deliver)]
        self.pos += len(chunk)
        return chunk


class RaisingStream(DroppingStream):
    """The same drop, surfacing as werkzeug's ClientDisconnected straight from the read."""

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.deliver:
            raise ClientDisconnected()
        return super().read(size)


@pytest.fixture(params=["file", "s3"])
def store(request, storage):
    """The app's store for the test: the local file store, or S3 on moto."""
    if request.param == "file":
        return storage
    return request.getfixturevalue("s3_storage")


# -- discovery and creation --------------------------------------------------


def test_options_announces_version_extensions_and_the_one_size_limit(client):
    response = client.options("/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Extension"] == "creation,termination,expiration"
    assert response.headers["Tus-Max-Size"] == str(limits.MAX_FILE_BYTES)


def test_create_answers_201_with_an_unguessable_location_and_expiry(client):
    before = datetime.now(UTC).replace(microsecond=0)
    response = create(client, 1234, "МРТ колена.pdf")
    assert response.status_code == 201
    assert response.headers["Tus-Resumable"] == "1.0.0"
    location = response.headers["Location"]
    assert re.fullmatch(r"/uploads/[A-Za-z0-9_-]{32}", location), location
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    assert response.headers["Upload-Expires"].endswith(" GMT")
    assert before + timedelta(hours=24) <= expires <= datetime.now(UTC) + timedelta(hours=24, seconds=1)
    upload = row(location)
    assert (upload.filename, upload.length, upload.offset, upload.parts) == ("МРТ колена.pdf", 1234, 0, [])
    assert upload_id(created(client, 10)) != upload_id(location)


def test_the_filename_is_sanitised_like_the_intakes(client):
    location = created(client, 10, "../../etc/\u202epasswd.pdf")
    assert row(location).filename == "passwd.pdf"


def test_a_file_over_the_limit_is_refused_413_before_any_byte(client):
    response = create(client, limits.MAX_FILE_BYTES + 1, "big.pdf")
    assert response.status_code == 413
    body = problem_of(response)
    assert body["detail"] == "big.pdf: the file is just over 10 MB (10,485,761 bytes); the limit is 10 MB per file."
    assert db.session.scalars(select(StagedUpload)).all() == []
    assert create(client, limits.MAX_FILE_BYTES, "exactly.pdf").status_code == 201


def test_an_empty_file_is_refused_422(client):
    response = create(client, 0, "empty.pdf")
    assert response.status_code == 422
    assert problem_of(response)["detail"] == "empty.pdf: the file is empty (0 bytes)."


def test_the_eleventh_upload_is_refused_409_with_the_limit(client):
    for number in range(limits.MAX_FILES):
        assert create(client, 100, f"f{number}.pdf").status_code == 201
    response = create(client, 100, "eleventh.pdf")
    assert response.status_code == 409
    assert problem_of(response)["detail"] == "eleventh.pdf: You picked 11 files; at most 10 files can be attached."


def test_a_removed_upload_frees_its_place(client):
    locations = [created(client, 100, f"f{n}.pdf") for n in range(limits.MAX_FILES)]
    assert client.delete(locations[0], headers=TUS).status_code == 204
    assert create(client, 100, "again.pdf").status_code == 201


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Tus-Resumable": "0.2.2"}, 412),
        ({"Tus-Resumable": ""}, 412),
        ({"Upload-Length": ""}, 400),
        ({"Upload-Length": "abc"}, 400),
        ({"Upload-Length": "-5"}, 400),
        ({"Upload-Length": "1e3"}, 400),
        ({"Upload-Length": "9" * 40}, 400),
        ({"Upload-Length": "9" * 19}, 413),
        ({"Upload-Metadata": "filename !!notbase64!!"}, 400),
        ({"Upload-Metadata": f"filename {b64('a')},filename {b64('b')}"}, 400),
        ({"Upload-Metadata": "filename " + base64.b64encode(b"\xff\xfe").decode()}, 400),
        ({"Upload-Metadata": "a b c d"}, 400),
        ({"Upload-Defer-Length": "1"}, 400),
    ],
)
def test_garbage_creation_headers_are_refused_without_a_5xx(client, headers, status):
    base = {**TUS, "Upload-Length": "100", "Upload-Metadata": metadata("scan.pdf")}
    response = client.post("/uploads", headers={**base, **headers})
    assert response.status_code == status
    problem_of(response)
    if status == 412:
        assert response.headers["Tus-Version"] == "1.0.0"
    assert db.session.scalars(select(StagedUpload)).all() == []


# -- the bytes ---------------------------------------------------------------


def test_happy_path_create_head_patch_delete(client, store):
    data = files.pdf()
    location = created(client, len(data), "report.pdf")
    response = head(client, location)
    assert response.status_code == 200
    assert (response.headers["Upload-Offset"], response.headers["Upload-Length"]) == ("0", str(len(data)))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Tus-Resumable"] == "1.0.0"

    response = patch(client, location, 0, data[:100])
    assert response.status_code == 204
    assert response.headers["Upload-Offset"] == "100"
    assert head(client, location).headers["Upload-Offset"] == "100"
    response = patch(client, location, 100, data[100:])
    assert response.status_code == 204
    assert response.headers["Upload-Offset"] == str(len(data))

    upload = row(location)
    assert upload.complete and upload.parts == []
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.content_type == "application/pdf"
    with store.open(staging.file_key(upload.id)) as stream:
        assert stream.read() == data
    assert len(stored_keys(store, upload.id)) == 1  # only the assembled file; the parts are gone

    response = client.delete(location, headers=TUS)
    assert response.status_code == 204
    assert row(location) is None
    assert stored_keys(store, upload_id(location)) == []
    assert head(client, location).status_code == 404


def test_ten_mib_interrupted_half_way_resumes_from_the_kept_offset(client, store):
    data = pdf_of(limits.MAX_FILE_BYTES)
    chunk = 1 * MiB
    location = created(client, len(data), "ct-scan.pdf")
    offset = 0
    for _ in range(4):
        assert patch(client, location, offset, data[offset : offset + chunk]).status_code == 204
        offset += chunk
    # The fifth chunk's connection drops after 3/4 of it: the server keeps those bytes.
    dropped_at = offset + 3 * chunk // 4
    body = data[offset : offset + chunk]
    response = client.patch(
        location,
        input_stream=DroppingStream(body, deliver=dropped_at - offset),
        headers={**TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS},
    )
    assert response.status_code == 204  # nobody reads it: the client is gone
    kept = int(head(client, location).headers["Upload-Offset"])
    assert kept == dropped_at
    assert kept >= len(data) // 2 - chunk

    sent_after_drop = 0
    offset = kept
    while offset < len(data):
        piece = data[offset : offset + chunk]
        response = patch(client, location, offset, piece)
        assert response.status_code == 204
        sent_after_drop += len(piece)
        offset = int(response.headers["Upload-Offset"])
    assert offset == len(data)
    assert sent_after_drop == len(data) - dropped_at
    assert sent_after_drop < len(data)

    upload = row(location)
    assert upload.complete and upload.length == len(data)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    with store.open(staging.file_key(upload.id)) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    remaining = stored_keys(store, upload.id)
    assert len(remaining) == 1 and remaining[0].endswith(staging.file_key(upload.id))  # parts deleted


def test_a_body_that_raises_client_disconnected_keeps_what_was_read(client, storage):
    data = pdf_of(300_000)
    location = created(client, len(data))
    response = client.patch(
        location,
        input_stream=RaisingStream(data, deliver=200_000),
        headers={**TUS, "Upload-Offset": "0", "Content-Type": OCTETS},
    )
    assert response.status_code == 204
    assert head(client, location).headers["Upload-Offset"] == "200000"
    assert patch(client, location, 200_000, data[200_000:]).headers["Upload-Offset"] == str(len(data))
    assert row(location).sha256 == hashlib.sha256(data).hexdigest()


def test_a_wrong_offset_is_refused_409_and_changes_nothing(client, storage):
    data = files.pdf()
    location = created(client, len(data))
    assert patch(client, location, 0, data[:50]).status_code == 204
    response = patch(client, location, 0, data[:50])
    assert response.status_code == 409
    assert "at byte 50, not 0" in problem_of(response)["detail"]
    assert patch(client, location, 60, data[60:]).status_code == 409
    assert head(client, location).headers["Upload-Offset"] == "50"
    assert len(row(location).parts) == 1


def test_bytes_past_the_length_are_refused_413_before_reading(client, storage):
    data = files.pdf()
    location = created(client, len(data))
    response = patch(client, location, 0, data + b"extra")
    assert response.status_code == 413
    assert f"only {len(data)} of {len(data)} remain" in problem_of(response)["detail"]
    assert head(client, location).headers["Upload-Offset"] == "0"
    assert stored_keys(storage, upload_id(location)) == []


def test_a_wrong_content_type_is_refused_415(client):
    location = created(client, 100)
    response = patch(client, location, 0, b"x" * 10, **{"Content-Type": "application/octet-stream"})
    assert response.status_code == 415
    problem_of(response)
    assert head(client, location).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("name, content", [("archive.bin", files.elf_executable()), ("setup.exe", files.windows_executable())])
def test_an_unaccepted_type_is_refused_after_the_first_chunk_and_deleted(client, store, name, content):
    data = (content + os.urandom(2 * MiB))[: 2 * MiB]
    location = created(client, len(data), name)
    response = patch(client, location, 0, data[: 1 * MiB])
    assert response.status_code == 415
    assert problem_of(response)["detail"] == (
        f"{name}: this type is not accepted; use PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP."
    )
    assert row(location) is None
    assert stored_keys(store, upload_id(location)) == []
    assert head(client, location).status_code == 404


def test_the_type_is_judged_once_the_first_bytes_are_in_even_across_chunks(client, storage):
    data = (files.elf_executable() + os.urandom(20_000))[:20_000]
    location = created(client, len(data), "sneaky.pdf")
    assert patch(client, location, 0, data[:10]).status_code == 204  # too few bytes to judge yet
    response = patch(client, location, 10, data[10:9000])
    assert response.status_code == 415
    assert row(location) is None


def test_a_small_accepted_file_in_tiny_chunks_is_judged_on_all_its_bytes(client, storage):
    data = files.png()
    location = created(client, len(data), "scan.png")
    for offset in range(0, len(data), 7):
        assert patch(client, location, offset, data[offset : offset + 7]).status_code == 204
    upload = row(location)
    assert upload.complete and upload.content_type == "image/png"


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Upload-Offset": "x"}, 400),
        ({"Upload-Offset": ""}, 400),
        ({"Upload-Offset": "-1"}, 400),
        ({"Tus-Resumable": "2.0.0"}, 412),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": ""}, 415),
    ],
)
def test_garbage_patch_headers_are_refused_without_a_5xx(client, headers, status):
    location = created(client, 100)
    response = client.patch(location, data=b"%PDF-", headers={**TUS, "Upload-Offset": "0", "Content-Type": OCTETS, **headers})
    assert response.status_code == status
    problem_of(response)


def test_unknown_ids_are_404_on_every_verb(client):
    created(client, 100)  # the session has an owner; the id is still unknown
    for method in ("head", "patch", "delete"):
        response = getattr(client, method)(
            "/uploads/" + "x" * 32, headers={**TUS, "Upload-Offset": "0", "Content-Type": OCTETS}
        )
        assert response.status_code == 404, method
    assert client.head("/uploads/" + "y" * 300, headers=TUS).status_code == 404


def test_another_sessions_upload_is_404_on_every_verb(app, client, storage):
    data = files.pdf()
    location = created(client, len(data))
    assert patch(client, location, 0, data[:20]).status_code == 204
    stranger = app.test_client()
    assert head(stranger, location).status_code == 404
    assert patch(stranger, location, 20, data[20:]).status_code == 404
    assert stranger.delete(location, headers=TUS).status_code == 404
    created(stranger, 10)  # with an owner of its own, still nothing of the first
    assert head(stranger, location).status_code == 404
    assert patch(stranger, location, 20, data[20:]).status_code == 404
    assert stranger.delete(location, headers=TUS).status_code == 404
    assert head(client, location).headers["Upload-Offset"] == "20"
    assert row(location) is not None


def test_an_expired_upload_is_404(client, db_session):
    location = created(client, 100)
    upload = row(location)
    upload.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db_session.commit()
    assert head(client, location).status_code == 404


# -- CSRF --------------------------------------------------------------------


def test_post_patch_and_delete_need_the_pages_csrf_token(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = client.get("/requests/new")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    data = files.pdf()

    refused = create(client, len(data))
    assert refused.status_code == 400
    assert problem_of(refused)["title"] == "CSRF token missing or invalid"
    assert create(client, len(data), **{"X-CSRFToken": "forged"}).status_code == 400

    location = created_with = create(client, len(data), **{"X-CSRFToken": token})
    assert created_with.status_code == 201
    location = created_with.headers["Location"]
    assert patch(client, location, 0, data).status_code == 400
    assert head(client, location).headers["Upload-Offset"] == "0"  # HEAD is safe: no token needed
    assert patch(client, location, 0, data, **{"X-CSRFToken": token}).status_code == 204
    assert client.delete(location, headers=TUS).status_code == 400
    assert client.delete(location, headers={**TUS, "X-CSRFToken": token}).status_code == 204
