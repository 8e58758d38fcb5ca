"""The entry points freeze their start-up heap (`service.heap.settle`), in processes of
their own: freezing this test process would keep its garbage for the whole suite."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'heap.db'}",
        "STORAGE_URL": f"file://{tmp_path / 'store'}",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "INFO",
    }


def test_the_wsgi_app_freezes_the_heap_it_starts_with(tmp_path, redis_url):
    script = "import gc, wsgi; before = gc.get_freeze_count(); wsgi.app; print(before, gc.get_freeze_count())"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(tmp_path, redis_url),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert before == 0
    assert after > 50_000  # the modules, the app and its templates, not a handful


def test_a_standing_worker_freezes_its_heap_after_warming_up(tmp_path, redis_url):
    env = _env(tmp_path, redis_url)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--kind", "light"],
                              cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = worker.stderr.readline()
            if not line:
                break
            seen.append(line)
            if "start-up heap frozen" in line:
                break
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    frozen = [line for line in seen if "start-up heap frozen" in line]
    assert frozen, "".join(seen[-20:])
    assert int(frozen[0].split("frozen:")[1].split()[0]) > 50_000
