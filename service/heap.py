"""The process's start-up objects (modules, classes, the app, its templates and
catalogue) live as long as the process. Left in the collector's oldest generation,
each full collection walks all of them again: about 250,000 objects and 150 ms in a
web worker, a pause landing on whichever request crosses the threshold
(bench/scale.py showed it as a slow page). Freezing them after start-up leaves full
collections only what requests and jobs made. Only the process entry points call
`settle` (gunicorn's app in `wsgi`, the worker command): a frozen object is never
collected, so a test or a bench building many apps must not."""
from __future__ import annotations

import gc


def settle() -> int:
    """Collect once, then move every object alive now out of the collector's reach;
    returns how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
