"""Work the outbox sweep (every 15 s) runs less often: at most once per interval in
this process."""
from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """`due()` is true at most once every `seconds` (per process, by the monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last: float | None = None

    def due(self, clock: Callable[[], float] = time.monotonic) -> bool:
        now = clock()
        if self.last is not None and now - self.last < self.seconds:
            return False
        self.last = now
        return True
