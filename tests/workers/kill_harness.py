"""Runs the real forking worker for the SIGKILL test, with routing made slow on its
first run so the test can kill the worker mid-job. Configured by environment."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from service import create_app  # noqa: E402
from service.cases import referrals  # noqa: E402
from workers.cli import AppWorker  # noqa: E402
from workers.queues import ALL, redis_connection  # noqa: E402

marker = Path(os.environ["KILL_MARKER"])
real_route = referrals.route


def slow_first_route(*args, **kwargs):
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    return real_route(*args, **kwargs)


referrals.route = slow_first_route

app = create_app()
with app.app_context():
    AppWorker(list(ALL), connection=redis_connection()).work(burst=False, with_scheduler=False)
