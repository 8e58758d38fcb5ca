"""What only the S3 store promises: encryption, headers, prefix, multipart and its clean-up, failures."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import tempfile
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from storage import S3Store, StorageUnavailable, from_url
from storage.s3 import DEFAULT_PART_SIZE, READ_CHUNK
from tests.fixtures.services import free_port
from tests.storage.streams import MiB, SeekableStream, failing_after

PART_SIZE = 5 * MiB
NAME = "МРТ колена.pdf"
DISPOSITION = (
    "attachment; filename=\"download.pdf\"; "
    "filename*=UTF-8''%D0%9C%D0%A0%D0%A2%20%D0%BA%D0%BE%D0%BB%D0%B5%D0%BD%D0%B0.pdf"
)


def make_store(bucket: str, endpoint: str, **options: Any) -> S3Store:
    store = from_url(f"s3://{bucket}", secret_key="unused", endpoint_url=endpoint, part_size=PART_SIZE, **options)
    assert isinstance(store, S3Store)
    return store


def new_key() -> str:
    return f"cases/7/attachments/{uuid.uuid4()}"


def put(store: S3Store, key: str, data: bytes, stream: Any = None) -> None:
    store.put(key, stream or io.BytesIO(data), content_type="application/pdf", filename=NAME)


@pytest.mark.parametrize("size", [1000, 11 * MiB], ids=["single", "multipart"])
def test_objects_are_encrypted_typed_and_marked_for_download(s3_endpoint, s3_bucket, s3_client, size) -> None:
    key = new_key()
    put(make_store(s3_bucket, s3_endpoint), key, os.urandom(size))
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/pdf"
    assert head["ContentDisposition"] == DISPOSITION


@pytest.mark.parametrize("size", [1000, 11 * MiB], ids=["single", "multipart"])
def test_a_kms_key_id_switches_encryption_to_that_kms_key(s3_endpoint, s3_bucket, s3_client, size) -> None:
    kms = boto3.client("kms", endpoint_url=s3_endpoint, region_name="us-east-1")
    key_id = kms.create_key(Description="medtour test")["KeyMetadata"]["KeyId"]
    key = new_key()
    put(make_store(s3_bucket, s3_endpoint, kms_key_id=key_id), key, os.urandom(size))
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]


def test_the_url_prefix_is_prepended_to_every_key(s3_endpoint, s3_bucket, s3_client) -> None:
    store = from_url(f"s3://{s3_bucket}/some/prefix/", secret_key="unused", endpoint_url=s3_endpoint)
    key = new_key()
    store.put(key, io.BytesIO(b"scan"), content_type="application/pdf", filename=NAME)
    listed = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert listed == [f"some/prefix/{key}"]
    assert store.exists(key)
    store.delete(key)
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("size", "parts"),
    [(PART_SIZE, 0), (PART_SIZE + 1, 2), (11 * MiB, 3)],
    ids=["exactly-one-part", "one-byte-over", "three-parts"],
)
def test_multipart_is_used_only_above_the_part_size(s3_endpoint, s3_bucket, s3_client, size, parts) -> None:
    key = new_key()
    put(make_store(s3_bucket, s3_endpoint), key, os.urandom(size))
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ContentLength"] == size
    etag = head["ETag"].strip('"')
    assert etag.endswith(f"-{parts}") if parts else "-" not in etag


def test_a_stream_failing_mid_multipart_aborts_the_upload(s3_endpoint, s3_bucket, s3_client) -> None:
    key = new_key()
    stream = failing_after(os.urandom(11 * MiB), PART_SIZE + MiB)
    with pytest.raises(StorageUnavailable):
        put(make_store(s3_bucket, s3_endpoint), key, b"", stream)
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_an_unreachable_endpoint_is_unavailable_quickly() -> None:
    store = from_url("s3://medtour-down", secret_key="unused", endpoint_url=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.put(new_key(), io.BytesIO(b"scan"), content_type="application/pdf", filename=NAME)
    with pytest.raises(StorageUnavailable):
        store.exists(new_key())
    assert time.monotonic() - started < 15


def test_a_missing_bucket_is_unavailable_not_a_missing_file(s3_endpoint) -> None:
    store = make_store(f"medtour-missing-{uuid.uuid4().hex[:12]}", s3_endpoint)
    with pytest.raises(StorageUnavailable):
        store.open(new_key())
    with pytest.raises(StorageUnavailable):
        store.put(new_key(), io.BytesIO(b"scan"), content_type="application/pdf", filename=NAME)


def test_the_presigned_url_lives_exactly_as_long_as_asked(s3_endpoint, s3_bucket) -> None:
    store = make_store(s3_bucket, s3_endpoint)
    url = store.url(new_key(), filename=NAME, content_type="application/pdf", expires_in=42)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["42"]


def test_the_endpoint_comes_from_the_standard_variable_when_not_given(
    s3_endpoint, s3_bucket, s3_client, monkeypatch
) -> None:
    by_name = s3_endpoint.replace("127.0.0.1", "localhost")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", by_name)
    store = from_url(f"s3://{s3_bucket}", secret_key="unused")
    key = new_key()
    store.put(key, io.BytesIO(b"scan"), content_type="application/pdf", filename=NAME)
    assert s3_client.head_object(Bucket=s3_bucket, Key=key)["ContentLength"] == 4
    # Path-style addressing: MinIO-like endpoints have no <bucket>.<host> virtual hosts.
    assert store.url(key, filename=NAME, content_type="application/pdf").startswith(f"{by_name}/{s3_bucket}/")


def test_the_client_is_built_on_first_use_once_across_threads() -> None:
    store = from_url("s3://medtour-lazy", secret_key="unused", endpoint_url="http://127.0.0.1:9")
    assert store._client is None
    clients: list[Any] = []
    barrier = threading.Barrier(8)

    def first_use() -> None:
        barrier.wait()
        clients.append(store.client)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 8 and len({id(c) for c in clients}) == 1


@pytest.mark.parametrize("part_size", [5 * MiB - 1, 0])
def test_parts_below_the_s3_minimum_are_refused(part_size: int) -> None:
    with pytest.raises(ValueError):
        from_url("s3://medtour", secret_key="unused", part_size=part_size)


# --- seekable streams: sent straight from the stream, single put up to the part size ---


def count_calls(store: S3Store) -> dict[str, int]:
    """How many times each S3 operation was called, counted by botocore itself."""
    calls: dict[str, int] = {}

    def count(event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[1]
        calls[operation] = calls.get(operation, 0) + 1

    store.client.meta.events.register("before-call.s3", count)
    return calls


def spooled(data: bytes) -> Any:
    """A temporary file holding ``data``, rewound: what Werkzeug hands over for an upload."""
    spool = tempfile.TemporaryFile()
    spool.write(data)
    spool.seek(0)
    return spool


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (10 * MiB, {"PutObject": 1}),
        (
            DEFAULT_PART_SIZE + 1,
            {"CreateMultipartUpload": 1, "UploadPart": 2, "CompleteMultipartUpload": 1},
        ),
    ],
    ids=["10-MiB-intake-limit", "one-byte-over-the-default-part"],
)
def test_an_upload_up_to_the_default_part_size_is_one_put_object(
    s3_endpoint, s3_bucket, s3_client, size, expected
) -> None:
    store = from_url(f"s3://{s3_bucket}", secret_key="unused", endpoint_url=s3_endpoint)
    assert isinstance(store, S3Store) and store.part_size == DEFAULT_PART_SIZE >= 10 * MiB
    calls = count_calls(store)
    data = os.urandom(size)
    key = new_key()
    with spooled(data) as spool:
        stored = store.put(key, spool, content_type="application/pdf", filename=NAME)
    assert calls == expected
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    body = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == stored.sha256


def test_a_single_put_carries_the_sha256_it_reports_for_s3_to_verify(s3_endpoint, s3_bucket) -> None:
    store = make_store(s3_bucket, s3_endpoint)
    sent: list[dict[str, str]] = []
    store.client.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: sent.append({k.lower(): v for k, v in request.headers.items()}),
    )
    data = os.urandom(3 * MiB)
    stored = put_and_check(store, new_key(), SeekableStream(data), data)
    [headers] = sent
    digest = hashlib.sha256(data)
    assert headers["x-amz-checksum-sha256"] == base64.b64encode(digest.digest())
    assert stored.sha256 == digest.hexdigest()
    assert not [name for name in headers if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-sha256"]


def put_and_check(store: S3Store, key: str, stream: Any, expected: bytes) -> Any:
    stored = store.put(key, stream, content_type="application/pdf", filename=NAME)
    assert (stored.size, stored.sha256) == (len(expected), hashlib.sha256(expected).hexdigest())
    with store.open(key) as body:
        assert body.read() == expected
    return stored


@pytest.mark.parametrize("size", [3 * MiB, 11 * MiB], ids=["single", "multipart"])
def test_a_seekable_stream_is_sent_from_where_it_stands_in_bounded_reads(
    s3_endpoint, s3_bucket, s3_client, size
) -> None:
    store = make_store(s3_bucket, s3_endpoint)
    data = os.urandom(size)
    stream = SeekableStream(b"already consumed" + data)
    stream.seek(len(b"already consumed"))
    key = new_key()
    put_and_check(store, key, stream, data)
    assert stream.requests and all(n is not None and 0 < n <= READ_CHUNK for n in stream.requests)
    etag = s3_client.head_object(Bucket=s3_bucket, Key=key)["ETag"].strip('"')
    assert etag.endswith("-3") if size > PART_SIZE else "-" not in etag


@pytest.mark.parametrize("size", [3 * MiB, 11 * MiB], ids=["single", "multipart"])
@pytest.mark.parametrize("from_pass", [1, 2], ids=["while-hashing", "while-sending"])
def test_a_seekable_stream_failing_midway_leaves_nothing(
    s3_endpoint, s3_bucket, s3_client, size, from_pass
) -> None:
    key = new_key()
    stream = SeekableStream(os.urandom(size), fail_at=size - MiB, from_pass=from_pass)
    with pytest.raises(StorageUnavailable) as failure:
        make_store(s3_bucket, s3_endpoint).put(key, stream, content_type="application/pdf", filename=NAME)
    assert isinstance(failure.value.__cause__, OSError)
    assert stream.passes >= from_pass
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("size", "operation"), [(3 * MiB, "PutObject"), (11 * MiB, "UploadPart")], ids=["single", "multipart"]
)
def test_a_stream_that_shrinks_after_it_was_hashed_fails_instead_of_hanging(
    s3_endpoint, s3_bucket, s3_client, size, operation
) -> None:
    store = make_store(s3_bucket, s3_endpoint)
    stream = io.BytesIO(os.urandom(size))

    def shrink(**_: Any) -> None:
        stream.truncate(size - MiB)

    store.client.meta.events.register(f"before-call.s3.{operation}", shrink)
    key = new_key()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.put(key, stream, content_type="application/pdf", filename=NAME)
    assert time.monotonic() - started < 10
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_warm_builds_the_client_and_after_fork_drops_only_its_pooled_connections(s3_endpoint, s3_bucket) -> None:
    """A worker warms its store before forking; each horse then opens its own connections
    instead of sharing the parent's sockets, with the client it inherited."""
    store = make_store(s3_bucket, s3_endpoint)
    store.warm()
    client = store._client
    assert client is not None
    key = new_key()
    put(store, key, b"%PDF-1.4 warm")
    pools = client._endpoint.http_session._manager.pools
    assert len(pools) == 1
    store.after_fork()
    assert len(pools) == 0
    assert store.client is client
    assert store.exists(key)


def test_a_body_cut_off_midway_is_unavailable_not_a_transport_error(s3_endpoint) -> None:
    """`read` translates what happens while the body arrives too: an endpoint that
    promises 1000 bytes and hangs up after 10 is a store failure the job retries.
    (``s3_endpoint`` for its dummy credentials: the request must be signed and sent.)"""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one_short_body() -> None:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n"
                               + b"x" * 10)

    server = threading.Thread(target=serve_one_short_body, daemon=True)
    server.start()
    try:
        store = from_url("s3://medtour-cut", secret_key="unused", endpoint_url=f"http://127.0.0.1:{port}")
        with pytest.raises(StorageUnavailable):
            store.read(new_key())
    finally:
        server.join(10)
        listener.close()
