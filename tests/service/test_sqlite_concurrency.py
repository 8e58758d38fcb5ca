"""The embedded default under load: gunicorn with 4 workers and an RQ worker on one
SQLite file, 20 patients sending the form at the same moment. Every submission is
answered 303 and recorded; before write transactions began IMMEDIATE, most of them
were 503 "database is locked" (a deferred transaction that has read cannot wait for
the write lock: service/sqlite_locks.py)."""
from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.fixtures import files
from tests.fixtures.forms import valid_request
from tests.fixtures.gunicorn import app_env, prepare_database, private_redis, run_gunicorn, run_worker

PATIENTS = 20
WEB_WORKERS = 4
TIMEOUT = 120
_HIDDEN = re.compile(r'name="(csrf_token|submission_token)"[^>]*value="([^"]+)"')


def _patient(base_url: str, number: int, start: threading.Barrier) -> tuple[int | str, str]:
    """One visitor: the form page (session cookie, CSRF and submission tokens), then,
    together with every other patient, the send. Its status and Location."""
    with requests.Session() as browser:
        page = browser.get(f"{base_url}/requests/new", timeout=TIMEOUT)
        hidden = dict(_HIDDEN.findall(page.text))
        if page.status_code != 200 or set(hidden) != {"csrf_token", "submission_token"}:
            return f"form page {page.status_code}", ""
        data = valid_request(email=f"patient{number}@example.org", language="en", **hidden)
        upload = {"files": (f"lab-{number}.pdf", files.pdf(f"Lab result {number}"), "application/pdf")}
        start.wait(timeout=TIMEOUT)
        answer = browser.post(
            f"{base_url}/requests/new", data=data, files=upload, allow_redirects=False, timeout=TIMEOUT
        )
        return answer.status_code, answer.headers.get("Location", "")


def test_twenty_patients_sending_at_once_on_sqlite_are_all_accepted(tmp_path: Path):
    database = tmp_path / "medtour.db"
    with private_redis(tmp_path) as redis_url:
        env = app_env(f"sqlite:///{database}", tmp_path, REDIS_URL=redis_url)
        prepare_database(env)
        with run_gunicorn(env, tmp_path, workers=WEB_WORKERS) as server, run_worker(env, tmp_path):
            start = threading.Barrier(PATIENTS)
            with ThreadPoolExecutor(max_workers=PATIENTS) as pool:
                answers = list(pool.map(lambda n: _patient(server.base_url, n, start), range(PATIENTS)))
            log = server.log()
    statuses = Counter(status for status, _ in answers)
    assert statuses == {303: PATIENTS}, f"{dict(statuses)}\n{log}"
    assert len({location for _, location in answers}) == PATIENTS
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == PATIENTS
