"""Runs the real forking worker for the SIGKILL tests, with one step made slow on its
first run so the test can kill the worker mid-job: routing, or (KILL_DURING=paperwork)
the first document, just after its object is written and before the job commits.
Configured by environment."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from service.cases import paperwork_store, referrals  # noqa: E402
from workers.cli import AppWorker  # noqa: E402
from workers.queues import ALL, redis_connection  # noqa: E402
from wsgi import create_app  # noqa: E402

marker = Path(os.environ["KILL_MARKER"])
real_route = referrals.route
real_save = paperwork_store._save


def _hang_the_first_time() -> None:
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)


def slow_first_route(*args, **kwargs):
    _hang_the_first_time()
    return real_route(*args, **kwargs)


def slow_first_document(*args, **kwargs):
    saved = real_save(*args, **kwargs)
    _hang_the_first_time()
    return saved


if os.environ.get("KILL_DURING") == "paperwork":
    paperwork_store._save = slow_first_document
else:
    referrals.route = slow_first_route

app = create_app()
with app.app_context():
    AppWorker(list(ALL), connection=redis_connection()).work(burst=False, with_scheduler=False)
