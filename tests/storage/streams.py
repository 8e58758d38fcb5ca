"""Upload streams that behave like real ones: short reads, read-size bookkeeping, failure mid-way."""
from __future__ import annotations

import io

MiB = 1024 * 1024


class TrickleStream(io.RawIOBase):
    """Returns at most ``step`` bytes per read, as sockets and pipes do, and records each request."""

    def __init__(self, data: bytes, step: int = 256 * 1024, fail_after: int | None = None) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step
        self._fail_after = fail_after
        self.requests: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.requests.append(size)
        if self._fail_after is not None and self._pos >= self._fail_after:
            raise OSError("client went away mid-upload")
        limit = self._step if size is None or size < 0 else min(size, self._step)
        chunk = bytes(self._data[self._pos : self._pos + limit])
        self._pos += len(chunk)
        return chunk


def failing_after(data: bytes, offset: int) -> TrickleStream:
    """A stream that delivers ``data[:offset]`` and then raises ``OSError``."""
    return TrickleStream(data, fail_after=offset)


class SeekableStream(io.BytesIO):
    """A seekable upload, like the temporary file Werkzeug spools to. Records each read
    request and counts passes (a pass starts when the stream is sought back to where the
    first read began); with ``fail_at`` set, raises ``OSError`` once a read of pass
    ``from_pass`` or later would reach that offset."""

    def __init__(self, data: bytes, *, fail_at: int | None = None, from_pass: int = 1) -> None:
        super().__init__(data)
        self.requests: list[int | None] = []
        self.passes = 0
        self._fail_at = fail_at
        self._from_pass = from_pass
        self._start: int | None = None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = super().seek(offset, whence)
        if position == self._start:
            self.passes += 1
        return position

    def read(self, size: int | None = -1) -> bytes:
        if self._start is None:
            self._start = self.tell()
            self.passes = 1
        self.requests.append(size)
        end = len(self.getbuffer()) if size is None or size < 0 else self.tell() + size
        if self._fail_at is not None and self.passes >= self._from_pass and end > self._fail_at:
            raise OSError("disk went away mid-upload")
        return super().read(size)
