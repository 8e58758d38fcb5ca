"""Object storage for uploaded case files, chosen by URL so deployments switch stores by configuration.

``file:///absolute/path`` keeps objects on local disk; ``s3://bucket[/prefix]`` keeps
them in S3 or an S3-compatible store. Callers use only :class:`Storage`.
"""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from itsdangerous import BadSignature, SignatureExpired

from storage.base import (
    Storage,
    StoredObject,
    StorageUnavailable,
    content_disposition,
    validate_key,
)
from storage.local import FileStore
from storage.s3 import DEFAULT_PART_SIZE, S3Store

__all__ = [
    "BadSignature",
    "FileStore",
    "S3Store",
    "SignatureExpired",
    "Storage",
    "StorageUnavailable",
    "StoredObject",
    "content_disposition",
    "from_url",
    "validate_key",
]


def from_url(
    url: str,
    *,
    secret_key: str | bytes,
    sse: str = "AES256",
    kms_key_id: str | None = None,
    endpoint_url: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
) -> Storage:
    """The store ``url`` names. Builds no client and touches no disk or network.

    ``secret_key`` signs the file store's download links; the S3 options are ignored
    by the file store. A ``file://`` path is taken verbatim after percent-decoding,
    so both ``"file://" + str(path)`` and ``path.as_uri()`` work.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"storage URL must look like file:///path or s3://bucket[/prefix], got {url!r}")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        path = unquote(url[len("file://"):])
        if not path.startswith("/"):
            raise ValueError(f"file storage URL needs an absolute path (file:///abs/path), got {url!r}")
        return FileStore(path, secret_key=secret_key)
    if scheme == "s3":
        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise ValueError("s3 storage URL must not carry credentials; use the standard AWS variables")
        if parts.query or parts.fragment:
            raise ValueError(f"s3 storage URL takes only a bucket and an optional prefix, got {url!r}")
        return S3Store(
            parts.netloc,
            unquote(parts.path),
            sse=sse,
            kms_key_id=kms_key_id,
            endpoint_url=endpoint_url,
            part_size=part_size,
        )
    raise ValueError(f"unsupported storage URL scheme {scheme!r}: use file:///path or s3://bucket[/prefix]")
