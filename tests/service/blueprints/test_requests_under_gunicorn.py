"""The request form with a real agency's catalogue, under gunicorn: every request is
answered and no worker dies. With 1,000 clinics the form page used to crash the worker
(a segmentation fault while the garbage collector ran inside the ORM's eager load of
every clinic's offers: docs/sqlalchemy-gc-segfault.md)."""
from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import _postgres_schema_url
from tests.fixtures.clinics import write_large_catalog
from tests.fixtures.forms import valid_request
from tests.fixtures.gunicorn import app_env, prepare_database, run_gunicorn

CLINICS = 1000
GETS = 300
POSTS = 50
WORKERS = 2
_HIDDEN = re.compile(r'name="(csrf_token|submission_token)"[^>]*value="([^"]+)"')


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: the large catalogue must not leak into other tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scale.db'}"
    else:
        with contextlib.contextmanager(_postgres_schema_url)() as url:
            yield url


NO_ANSWER = "no answer"


def _get(base: str) -> int | str:
    try:
        return requests.get(f"{base}/requests/new", timeout=60).status_code
    except requests.ConnectionError:  # the worker died under the request
        return NO_ANSWER


def _post(base: str, number: int) -> int | str:
    """A patient's whole visit: the form (cookie, CSRF and submission tokens), then the send."""
    with requests.Session() as browser:
        try:
            page = browser.get(f"{base}/requests/new", timeout=60)
            hidden = dict(_HIDDEN.findall(page.text))
            data = valid_request(email=f"patient{number}@example.org", language="en", **hidden)
            answer = browser.post(f"{base}/requests/new", data=data, allow_redirects=False, timeout=60)
        except requests.ConnectionError:
            return NO_ANSWER
        return answer.status_code


def test_the_form_with_a_thousand_clinics_answers_every_request_and_no_worker_dies(fresh_database, tmp_path):
    env = app_env(fresh_database, tmp_path)
    prepare_database(env, write_large_catalog(tmp_path / "catalog.json", CLINICS))
    with run_gunicorn(env, tmp_path, workers=WORKERS) as server:
        before = sorted(server.worker_pids())
        with ThreadPoolExecutor(max_workers=8) as pool:
            gets = Counter(pool.map(lambda _: _get(server.base_url), range(GETS)))
            posts = Counter(pool.map(lambda n: _post(server.base_url, n), range(POSTS)))
        after = sorted(server.worker_pids())
        log = server.log()
    assert gets == {200: GETS}, log
    assert posts == {303: POSTS}, log
    assert after == before, f"workers were restarted: {before} → {after}\n{log}"
    assert "SIGSEGV" not in log and "Segmentation fault" not in log and "WORKER TIMEOUT" not in log
