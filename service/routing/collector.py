"""Routing builds a handful of objects per candidate clinic (rows, facts, and for the
staff's full list components and matches), all alive until the shortlist is made.
With thousands of candidates they outlive the young generations, and the cyclic
garbage collector's full collections then scan the whole heap again and again: at
10,000 clinics that doubled the cost per candidate (bench/routing.py). None of these
objects form cycles (reference counting frees them), so routing pauses the collector
while it builds and ranks them."""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside the block (nested blocks and threads share one pause);
    the collector is on again afterwards if it was on before."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
