"""Objects as files under one directory, for development and single-host installs."""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from storage.base import (
    Storage,
    StoredObject,
    StorageUnavailable,
    validate_content_type,
    validate_expires_in,
    validate_filename,
    validate_key,
)

CHUNK_SIZE = 1024 * 1024
DOWNLOAD_SALT = "medtour-download"
DOWNLOAD_PREFIX = "/files/"

__all__ = ["FileStore", "BadSignature", "SignatureExpired", "DOWNLOAD_PREFIX", "DOWNLOAD_SALT"]


class FileStore(Storage):
    """Stores ``key`` at ``root/key``; download links are signed tokens the app itself serves.

    There is no web server in front of these files, so ``url`` returns the app-relative
    ``/files/<token>``; the route behind it calls :meth:`read_token` and then :meth:`open`.
    """

    def __init__(self, root: str | os.PathLike[str], *, secret_key: str | bytes) -> None:
        root_path = Path(root)
        if not root_path.is_absolute():
            raise ValueError(f"file store root must be an absolute path, got {str(root)!r}")
        if not secret_key:
            raise ValueError("file store needs a secret key to sign download links")
        self.root = Path(os.path.normpath(root_path))
        self._signer = URLSafeTimedSerializer(secret_key, salt=DOWNLOAD_SALT)

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """The file behind ``key``; refuses anything that would resolve outside the root."""
        path = Path(os.path.normpath(self.root / validate_key(key)))
        if os.path.commonpath([self.root, path]) != str(self.root) or path == self.root:
            raise ValueError(f"storage key escapes the store: {key!r}")
        return path

    def put(self, key: str, stream: BinaryIO, *, content_type: str, filename: str) -> StoredObject:
        """Write to a temporary file beside the target, fsync it, then ``os.replace`` it in.

        Readers therefore see either no object or the whole one, and a crash leaves at
        most a ``.tmp-*`` file, never a truncated object at ``key``.
        """
        path = self.path_for(key)
        validate_content_type(content_type)
        validate_filename(filename)
        digest = hashlib.sha256()
        size = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as exc:
            raise StorageUnavailable(f"cannot write under {path.parent}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, path)
        except BaseException as exc:
            _remove_quietly(temp_name)
            if isinstance(exc, OSError):
                raise StorageUnavailable(f"cannot write {key}: {exc}") from exc
            raise
        _fsync_directory(path.parent)
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        path = self.path_for(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise FileNotFoundError(f"no object at {key}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            if path.is_dir():
                return
            raise StorageUnavailable(f"cannot delete {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def url(self, key: str, *, filename: str, content_type: str, expires_in: int = 300) -> str:
        """``/files/<token>``; the token carries its own lifetime, so the route needs no TTL setting."""
        validate_key(key)
        validate_content_type(content_type)
        validate_expires_in(expires_in)
        validate_filename(filename)
        token = self._signer.dumps({"k": key, "n": filename, "t": content_type, "e": expires_in})
        return DOWNLOAD_PREFIX + token

    def read_token(self, token: str) -> tuple[str, str, str]:
        """``(key, filename, content_type)`` from a token minted by :meth:`url`.

        Raises ``itsdangerous.SignatureExpired`` once the lifetime the link was minted
        with has passed, and ``itsdangerous.BadSignature`` (its base class) for anything
        forged, tampered with or malformed.
        """
        payload, signed_at = self._signer.loads(token, return_timestamp=True)
        try:
            key, filename, content_type, expires_in = (payload[f] for f in ("k", "n", "t", "e"))
        except (TypeError, KeyError) as exc:
            raise BadSignature("download token has no key, name, type or lifetime") from exc
        if not all(isinstance(v, str) for v in (key, filename, content_type)) or not isinstance(
            expires_in, int
        ):
            raise BadSignature("download token fields have the wrong types")
        age = int(time.time()) - int(signed_at.timestamp())
        if age > expires_in or age < 0:
            raise SignatureExpired(
                f"download link is {age} s old, valid for {expires_in} s",
                payload=payload,
                date_signed=signed_at,
            )
        return validate_key(key), filename, content_type


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_directory(path: Path) -> None:
    """Make the rename itself durable; the object is already complete, so failure here is not fatal."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
