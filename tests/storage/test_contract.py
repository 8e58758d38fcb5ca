"""One contract, every store: the file store on a temporary directory and S3 on moto."""
from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path

import pytest
import requests

from storage import FileStore, S3Store, Storage, StorageUnavailable, StoredObject, content_disposition
from tests.storage.streams import MiB, TrickleStream, failing_after

PART_SIZE = 5 * MiB
SECRET = "contract-secret"
NAME = "МРТ колена.pdf"
NAME_ENCODED = "%D0%9C%D0%A0%D0%A2%20%D0%BA%D0%BE%D0%BB%D0%B5%D0%BD%D0%B0.pdf"


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "file":
        return FileStore(tmp_path / "store", secret_key=SECRET)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(bucket, "contract", endpoint_url=endpoint, part_size=PART_SIZE)


def new_key() -> str:
    return f"cases/12/attachments/{uuid.uuid4()}"


def put_bytes(store: Storage, key: str, data: bytes) -> StoredObject:
    return store.put(key, io.BytesIO(data), content_type="application/pdf", filename=NAME)


def download(store: Storage, url: str) -> tuple[bytes, str, str]:
    """Follow ``url`` the way a browser would reach the bytes: body, Content-Type, Content-Disposition."""
    if isinstance(store, FileStore):
        assert url.startswith("/files/")
        key, filename, content_type = store.read_token(url.removeprefix("/files/"))
        with store.open(key) as stream:
            return stream.read(), content_type, content_disposition(filename)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response.content, response.headers["Content-Type"], response.headers["Content-Disposition"]


@pytest.mark.parametrize("size", [0, 1, 100_000])
def test_put_reports_the_key_size_and_sha256_of_what_was_read(store: Storage, size: int) -> None:
    data = os.urandom(size)
    key = new_key()
    stored = put_bytes(store, key, data)
    assert stored == StoredObject(key=key, size=size, sha256=hashlib.sha256(data).hexdigest())


def test_open_returns_the_identical_bytes_as_a_context_manager(store: Storage) -> None:
    data = os.urandom(300_000)
    key = new_key()
    put_bytes(store, key, data)
    with store.open(key) as stream:
        assert stream.read() == data


def test_read_returns_the_identical_bytes_in_one_call(store: Storage) -> None:
    data = os.urandom(300_000)
    key = new_key()
    put_bytes(store, key, data)
    assert store.read(key) == data
    assert store.read(key) == data


def test_reading_a_missing_key_raises_file_not_found(store: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        store.read(new_key())
    put_bytes(store, "cases/12/attachments/a", b"scan")
    with pytest.raises(FileNotFoundError):
        store.read("cases/12")


def test_exists_follows_put_and_delete(store: Storage) -> None:
    key = new_key()
    assert not store.exists(key)
    put_bytes(store, key, b"scan")
    assert store.exists(key)
    store.delete(key)
    assert not store.exists(key)


def test_delete_is_idempotent(store: Storage) -> None:
    key = new_key()
    store.delete(key)
    put_bytes(store, key, b"scan")
    store.delete(key)
    store.delete(key)
    assert not store.exists(key)


def test_opening_a_missing_key_raises_file_not_found(store: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        store.open(new_key())


def test_a_directory_like_key_prefix_is_not_an_object(store: Storage) -> None:
    put_bytes(store, "cases/12/attachments/a", b"scan")
    assert not store.exists("cases/12")
    with pytest.raises(FileNotFoundError):
        store.open("cases/12")


def test_url_downloads_the_bytes_as_a_typed_attachment_keeping_the_unicode_name(store: Storage) -> None:
    data = os.urandom(50_000)
    key = new_key()
    put_bytes(store, key, data)
    body, content_type, disposition = download(
        store, store.url(key, filename=NAME, content_type="image/jpeg", expires_in=60)
    )
    assert body == data
    assert content_type == "image/jpeg"
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{NAME_ENCODED}" in disposition


def test_a_stream_larger_than_a_part_round_trips_with_short_reads(store: Storage) -> None:
    data = os.urandom(11 * MiB + 123)
    key = new_key()
    stored = store.put(key, TrickleStream(data), content_type="application/pdf", filename=NAME)
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    with store.open(key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == stored.sha256


def test_put_reads_in_bounded_chunks_never_the_whole_stream(store: Storage) -> None:
    data = os.urandom(11 * MiB)
    stream = TrickleStream(data, step=len(data))
    store.put(new_key(), stream, content_type="application/pdf", filename=NAME)
    assert stream.requests and all(0 < size <= PART_SIZE for size in stream.requests)


def test_a_stream_failing_midway_leaves_nothing_at_the_key(store: Storage) -> None:
    data = os.urandom(11 * MiB)
    key = new_key()
    with pytest.raises(StorageUnavailable) as failure:
        store.put(key, failing_after(data, 6 * MiB), content_type="application/pdf", filename=NAME)
    assert isinstance(failure.value.__cause__, OSError)
    assert not store.exists(key)
    with pytest.raises(FileNotFoundError):
        store.open(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "cases/../../outside",
        "cases//x",
        "cases/./x",
        "cases\\x",
        "cases/x\x00y",
        "cases/x/",
    ],
)
def test_invalid_keys_are_rejected_by_every_operation(store: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, io.BytesIO(b"x"), content_type="application/pdf", filename=NAME)
    with pytest.raises(ValueError):
        store.open(key)
    with pytest.raises(ValueError):
        store.read(key)
    with pytest.raises(ValueError):
        store.delete(key)
    with pytest.raises(ValueError):
        store.exists(key)
    with pytest.raises(ValueError):
        store.url(key, filename=NAME, content_type="application/pdf")


@pytest.mark.parametrize(
    "content_type", ["", "pdf", "text/html\r\nSet-Cookie: a=b", "text/plain\r\n; a=b", "text/plain\n"]
)
def test_content_types_that_are_not_media_types_are_rejected(store: Storage, content_type: str) -> None:
    key = new_key()
    with pytest.raises(ValueError):
        store.put(key, io.BytesIO(b"x"), content_type=content_type, filename=NAME)
    assert not store.exists(key)
    with pytest.raises(ValueError):
        store.url(key, filename=NAME, content_type=content_type)


@pytest.mark.parametrize("expires_in", [0, -5, 8 * 24 * 3600])
def test_links_must_expire_within_a_week(store: Storage, expires_in: int) -> None:
    with pytest.raises(ValueError):
        store.url(new_key(), filename=NAME, content_type="application/pdf", expires_in=expires_in)
