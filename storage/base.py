"""The contract every object store keeps, and the checks they share.

Callers (intake, download routes, workers) depend only on this module, so the
store behind STORAGE_URL can change without touching them.
"""
from __future__ import annotations

import abc
import re
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

MAX_KEY_LENGTH = 200
"""Matches ``Attachment.storage_key``; a longer key could be stored but never recorded."""

MAX_EXPIRES_IN = 7 * 24 * 3600
"""SigV4 presigned URLs cannot outlive a week; the file store keeps the same ceiling."""

_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+([ \t]*;[\x20-\x7e]*)?")
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+-]")


@dataclass(frozen=True)
class StoredObject:
    """What the caller records about a written object, so it can verify it later."""

    key: str
    size: int
    sha256: str


class StorageUnavailable(Exception):
    """The store could not be reached or refused the operation; retry later."""


class Storage(abc.ABC):
    """An object store addressed by server-generated keys such as ``cases/12/attachments/<uuid>``."""

    @abc.abstractmethod
    def put(self, key: str, stream: BinaryIO, *, content_type: str, filename: str) -> StoredObject:
        """Stream ``stream`` to ``key`` with bounded memory, sizing and hashing it on the way
        (a seekable stream may be read twice: once to hash, once to send with that hash).

        Safe to call from several threads at once, each with its own stream. Atomic: after any failure nothing is left at ``key``. Store and I/O errors
        (including an ``OSError`` while reading ``stream``) raise ``StorageUnavailable``.
        """

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable stream that works as a context manager; ``FileNotFoundError`` if missing."""

    def read(self, key: str) -> bytes:
        """The whole object, for the small ones read whole (previews, the attachments a
        dossier shows). ``FileNotFoundError`` if missing; ``StorageUnavailable`` for store
        and I/O errors, those while the body arrives included (after :meth:`open` they
        would come from the transport). Safe to call from several threads at once."""
        with self.open(key) as stream:
            try:
                return stream.read()
            except OSError as exc:
                raise StorageUnavailable(f"cannot read {key}: {exc}") from exc

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error, so clean-up code can retry freely."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""

    @abc.abstractmethod
    def url(self, key: str, *, filename: str, content_type: str, expires_in: int = 300) -> str:
        """A link valid for ``expires_in`` seconds that makes the browser download the object.

        The response carries ``content_type`` and ``Content-Disposition: attachment``
        with ``filename`` (see :func:`content_disposition`).
        """

    def warm(self) -> None:
        """Build now what the first request would build (a client), so that processes
        forked from this one inherit it instead of each building their own."""

    def after_fork(self) -> None:
        """In a forked child: drop what must not be shared with the parent (pooled
        connections), keeping what is safe to inherit (a built client)."""


def validate_key(key: str) -> str:
    """Refuse keys that could name something outside the store (defence in depth: keys are ours)."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"storage key longer than {MAX_KEY_LENGTH} characters")
    if "\\" in key or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise ValueError(f"storage key contains a backslash or control character: {key!r}")
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative: {key!r}")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ValueError(f"storage key has an empty, '.' or '..' segment: {key!r}")
    return key


def validate_content_type(content_type: str) -> str:
    """Refuse values that are not a media type, since they end up verbatim in response headers."""
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"not a media type: {content_type!r}")
    return content_type


def validate_expires_in(expires_in: int) -> int:
    """Links must expire, and within what presigned S3 URLs allow."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise ValueError("expires_in must be a whole number of seconds")
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    return expires_in


def validate_filename(filename: str) -> str:
    """Any Unicode display name is fine; it is encoded, never trusted, when it reaches a header."""
    if not isinstance(filename, str) or not filename:
        raise ValueError("filename must be a non-empty string")
    return filename


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and an RFC 5987 ``filename*``.

    Browsers use ``filename*`` (RFC 6266), so "МРТ колена.pdf" survives; old clients
    get a transliterated name. Both parts are header-safe whatever ``filename`` holds.
    """
    validate_filename(filename)
    stem, dot, extension = filename.rpartition(".")
    if not stem:
        stem, dot, extension = filename, "", ""
    fallback = (_ascii(stem).strip(" .") or "download") + dot + _ascii(extension)
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _ascii(text: str) -> str:
    """Transliterate what NFKD can ("Café" → "Cafe") and replace the rest of the unsafe characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _FALLBACK_UNSAFE.sub("_", folded)
