"""What only the S3 store promises: encryption, headers, prefix, multipart and its clean-up, failures."""
from __future__ import annotations

import io
import os
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from storage import S3Store, StorageUnavailable, from_url
from tests.fixtures.services import free_port
from tests.storage.streams import MiB, failing_after

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
