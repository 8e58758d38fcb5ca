"""Objects in an S3 bucket, or an S3-compatible one such as MinIO (or moto in tests)."""
from __future__ import annotations

import base64
import hashlib
import io
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
DEFAULT_PART_SIZE = 16 * 1024 * 1024
"""Above the 10 MiB per-file intake limit, so every upload is one ``put_object``: on S3 a
multipart upload costs three requests more, and on MinIO or moto it is much slower."""
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

    def warm(self) -> None:
        """Loading botocore's S3 model and building the client costs about 0.2 s of CPU; a
        presigned URL (no request sent) also resolves the endpoint and loads the signer."""
        self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.object_key("warm-up")}, ExpiresIn=60
        )

    def after_fork(self) -> None:
        """The parent's pooled sockets are not the child's to use: the child opens its own
        (closing them here closes only the child's copies of the descriptors)."""
        if self._client is not None:
            self._client._endpoint.http_session.close()

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
        """One ``put_object`` up to ``part_size`` bytes, else a multipart upload of such parts.

        A seekable stream (an upload Werkzeug spooled to a temporary file, a ``BytesIO``)
        is read once to size and hash it, then sent to S3 straight from the stream, in
        windows of at most ``part_size`` bytes; nothing is buffered, so memory stays flat
        whatever the object's size. A single put carries the SHA-256 as
        ``x-amz-checksum-sha256``, so S3 refuses the object if what arrived is not what
        was hashed (the hash the caller records is the one S3 verified).

        Any other stream is read exactly once into a single part-sized buffer (plus one
        byte of look-ahead to tell "exactly one part" from "more"), hashed as it goes.

        Written by hand rather than with ``upload_fileobj`` because s3transfer reads ahead
        into several buffers and would need a second pass to hash. A failed multipart
        upload is aborted, so neither an object nor billed parts are left behind.
        """
        s3_key = self.object_key(key)
        args = self._write_args(content_type, filename)
        with _translated(key, not_found=False):
            start = _seekable_start(stream)
            if start is not None:
                size, digest = _measure(stream, start)
                self._put_from_stream(s3_key, args, stream, start, size, digest)
                return StoredObject(key=key, size=size, sha256=digest.hexdigest())
            digest = hashlib.sha256()
            buffer = _fill(stream, bytearray(), self.part_size, digest)
            lookahead = _fill(stream, bytearray(), 1, digest) if len(buffer) == self.part_size else b""
            if not lookahead:
                self.client.put_object(Bucket=self.bucket, Key=s3_key, Body=buffer, **args)
                return StoredObject(key=key, size=len(buffer), sha256=digest.hexdigest())
            size = self._put_multipart(s3_key, args, stream, buffer, bytes(lookahead), digest)
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def _put_from_stream(
        self, s3_key: str, args: dict[str, str], stream: BinaryIO, start: int, size: int, digest: Any
    ) -> None:
        """Send the ``size`` bytes at ``start`` of a seekable stream, already hashed into ``digest``."""
        if size <= self.part_size:
            self.client.put_object(
                Bucket=self.bucket,
                Key=s3_key,
                Body=_Window(stream, start, size),
                ContentLength=size,
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
                **args,
            )
            return
        if -(-size // self.part_size) > MAX_PARTS:
            raise ValueError(f"object exceeds {MAX_PARTS} parts of {self.part_size} bytes")
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=s3_key, **args)["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            for offset in range(0, size, self.part_size):
                length = min(self.part_size, size - offset)
                number = len(parts) + 1
                response = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=s3_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=_Window(stream, start + offset, length),
                    ContentLength=length,
                )
                parts.append({"ETag": response["ETag"], "PartNumber": number})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort(s3_key, upload_id)
            raise

    def _put_multipart(
        self,
        s3_key: str,
        args: dict[str, str],
        stream: BinaryIO,
        buffer: bytearray,
        lookahead: bytes,
        digest: Any,
    ) -> int:
        """Upload ``buffer`` as part 1, then refill the same buffer for each following part
        (the path for streams that cannot seek)."""
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

    def read(self, key: str) -> bytes:
        """One ``get_object``, its body read whole under the same translation (a connection
        cut mid-body is ``StorageUnavailable``, as the request's own failures)."""
        s3_key = self.object_key(key)
        with _translated(key):
            body = self.client.get_object(Bucket=self.bucket, Key=s3_key)["Body"]
            with body:
                return cast(bytes, body.read())

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


def _seekable_start(stream: BinaryIO) -> int | None:
    """Where a seekable stream stands now, or None if it cannot seek (a socket, a pipe)."""
    try:
        if not stream.seekable():
            return None
        return stream.tell()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the latter
        return None


def _measure(stream: BinaryIO, start: int) -> tuple[int, Any]:
    """Size and SHA-256 of ``stream`` from ``start`` to its end, read in bounded chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(start)
    return size, digest


class _Window(io.RawIOBase):
    """``length`` bytes of a seekable stream from ``start``, seen as a stream of their own.

    botocore reads a body more than once (to sign it over plain HTTP, to checksum it,
    to send it, and again on a retry, after seeking to 0), so the window seeks the
    underlying stream itself and never lets a read run past its end. A stream that
    turned out shorter than it was measured raises ``OSError`` rather than letting
    the request hang waiting for bytes its ``Content-Length`` promised.
    """

    def __init__(self, stream: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self._stream = stream
        self._start = start
        self._length = length
        self._position = 0
        stream.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        position = base + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._stream.seek(self._start + position)
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        left = self._length - self._position
        if size is None or size < 0 or size > left:
            size = left
        if size <= 0:
            return b""
        data = self._stream.read(size)
        if not data:
            raise OSError(f"stream ended {left} bytes early: it changed after it was measured")
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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
