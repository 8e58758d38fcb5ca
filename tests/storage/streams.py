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
