"""Objects in an S3 bucket, or an S3-compatible one such as MinIO (or moto in tests)."""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from storage.base import (
    Storage,
    StoredObject,
    StorageUnavailable,
    content_disposition,
    validate_content_type,
    validate_expires_in,
    validate_filename,
    validate_key,
)

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
SSE_ALGORITHMS = ("AES256", "aws:kms")
DEFAULT_REGION = "us-east-1"

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store(Storage):
    """Every object is encrypted at rest and typed for download; keys live under an optional prefix.

    The client is built on first use, not at construction, so creating the app (or
    importing this module) never touches the network or AWS configuration.
    A bucket lifecycle rule aborting incomplete multipart uploads is still advisable:
    a process killed mid-upload cannot abort its own.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        sse: str = "AES256",
        kms_key_id: str | None = None,
        endpoint_url: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if not _BUCKET_NAME.match(bucket or ""):
            raise ValueError(f"not an S3 bucket name: {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        if kms_key_id:
            sse = "aws:kms"
        if sse not in SSE_ALGORITHMS:
            raise ValueError(f"server-side encryption must be one of {SSE_ALGORITHMS}, got {sse!r}")
        if isinstance(part_size, bool) or not isinstance(part_size, int):
            raise ValueError("part_size must be a whole number of bytes")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB (S3 limits), got {part_size}")
        self.bucket = bucket
        self.prefix = prefix
        self.sse = sse
        self.kms_key_id = kms_key_id or None
        self.endpoint_url = endpoint_url or None
        self.part_size = part_size
        self._client: Any = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"S3Store('s3://{where}')"

    @property
    def client(self) -> Any:
        """The boto3 client, built once even when the first requests arrive on several threads."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> Any:
        session = boto3.session.Session()
        options: dict[str, Any] = {
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"max_attempts": 3, "mode": "standard"},
            # SigV4 is what presigned URLs for KMS-encrypted objects require.
            "signature_version": "s3v4",
        }
        if self.endpoint_url:
            # MinIO and moto serve no bucket-named virtual hosts. botocore already picks
            # path style for any custom endpoint, including AWS_ENDPOINT_URL_S3; this
            # only makes the choice explicit for the endpoint we were given.
            options["s3"] = {"addressing_style": "path"}
        return session.client(
            "s3",
            region_name=session.region_name or DEFAULT_REGION,
            endpoint_url=self.endpoint_url,
            config=Config(**options),
        )

    def object_key(self, key: str) -> str:
        """The S3 key behind ``key``: the URL's prefix joined to it."""
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _write_args(self, content_type: str, filename: str) -> dict[str, str]:
        args = {
            "ContentType": validate_content_type(content_type),
            "ContentDisposition": content_disposition(filename),
            "ServerSideEncryption": self.sse,
        }
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def put(self, key: str, stream: BinaryIO, *, content_type: str, filename: str) -> StoredObject:
        """One ``put_object`` when the stream fits in a part, else a multipart upload.

        Written by hand rather than with ``upload_fileobj`` so the stream is read exactly
        once, hashed as it goes, into a single part-sized buffer (plus one byte of
        look-ahead to tell "exactly one part" from "more"); s3transfer reads ahead into
        several buffers and would need a second pass to hash. A failed multipart upload
        is aborted, so neither an object nor billed parts are left behind.
        """
        s3_key = self.object_key(key)
        args = self._write_args(content_type, filename)
        digest = hashlib.sha256()
        with _translated(key, not_found=False):
            buffer = _fill(stream, bytearray(), self.part_size, digest)
            lookahead = _fill(stream, bytearray(), 1, digest) if len(buffer) == self.part_size else b""
            if not lookahead:
                self.client.put_object(Bucket=self.bucket, Key=s3_key, Body=buffer, **args)
                return StoredObject(key=key, size=len(buffer), sha256=digest.hexdigest())
            size = self._put_multipart(s3_key, args, stream, buffer, bytes(lookahead), digest)
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def _put_multipart(
        self,
        s3_key: str,
        args: dict[str, str],
        stream: BinaryIO,
        buffer: bytearray,
        lookahead: bytes,
        digest: Any,
    ) -> int:
        """Upload ``buffer`` as part 1, then refill the same buffer for each following part."""
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=s3_key, **args)["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            size = 0
            while buffer:
                number = len(parts) + 1
                if number > MAX_PARTS:
                    raise ValueError(f"object exceeds {MAX_PARTS} parts of {self.part_size} bytes")
                response = self.client.upload_part(
                    Bucket=self.bucket, Key=s3_key, UploadId=upload_id, PartNumber=number, Body=buffer
                )
                parts.append({"ETag": response["ETag"], "PartNumber": number})
                size += len(buffer)
                buffer[:] = lookahead
                lookahead = b""
                _fill(stream, buffer, self.part_size, digest)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort(s3_key, upload_id)
            raise
        return size

    def _abort(self, s3_key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)
        except (BotoCoreError, ClientError):
            log.exception(
                "could not abort multipart upload %s of %s; it is left to the bucket lifecycle rule",
                upload_id,
                s3_key,
            )

    def open(self, key: str) -> BinaryIO:
        """The streaming body of the object; read errors after this point come from botocore."""
        s3_key = self.object_key(key)
        with _translated(key):
            response = self.client.get_object(Bucket=self.bucket, Key=s3_key)
        return cast(BinaryIO, response["Body"])

    def delete(self, key: str) -> None:
        s3_key = self.object_key(key)
        with _translated(key, not_found=False):
            self.client.delete_object(Bucket=self.bucket, Key=s3_key)

    def exists(self, key: str) -> bool:
        s3_key = self.object_key(key)
        try:
            with _translated(key):
                self.client.head_object(Bucket=self.bucket, Key=s3_key)
        except FileNotFoundError:
            return False
        return True

    def url(self, key: str, *, filename: str, content_type: str, expires_in: int = 300) -> str:
        """A presigned GET whose response headers S3 overrides to force a typed download."""
        s3_key = self.object_key(key)
        params = {
            "Bucket": self.bucket,
            "Key": s3_key,
            "ResponseContentDisposition": content_disposition(validate_filename(filename)),
            "ResponseContentType": validate_content_type(content_type),
        }
        with _translated(key):
            return cast(
                str,
                self.client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=validate_expires_in(expires_in)
                ),
            )


def _fill(stream: BinaryIO, buffer: bytearray, limit: int, digest: Any) -> bytearray:
    """Append to ``buffer`` until it holds ``limit`` bytes or the stream ends, hashing what is read."""
    while len(buffer) < limit:
        chunk = stream.read(min(limit - len(buffer), READ_CHUNK))
        if not chunk:
            break
        digest.update(chunk)
        buffer += chunk
    return buffer


@contextmanager
def _translated(key: str, *, not_found: bool = True) -> Iterator[None]:
    """Turn provider errors into the two the interface promises; bugs (bad parameters) pass through.

    ``not_found=False`` is for writes, where a 404 (say, a vanished upload) means the
    store failed us, not that the caller asked for something absent.
    """
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if not_found and code in _NOT_FOUND_CODES:
            raise FileNotFoundError(f"no object at {key}") from exc
        raise StorageUnavailable(f"S3 refused the request for {key}: {code or exc}") from exc
    except ParamValidationError:
        raise
    except (BotoCoreError, OSError) as exc:
        raise StorageUnavailable(f"S3 unreachable for {key}: {exc}") from exc
