"""The real Redis for job tests, emptied around each one."""
from __future__ import annotations

import pytest
from redis import Redis


@pytest.fixture
def redis_queue(app, redis_url):
    """The real Redis, emptied around each test; retries run at once."""
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    saved = app.config["REDIS_URL"], app.config["JOB_RETRY_INTERVALS"]
    app.config.update(REDIS_URL=redis_url, JOB_RETRY_INTERVALS=[0, 0])
    app.extensions.pop("redis", None)
    yield connection
    app.config["REDIS_URL"], app.config["JOB_RETRY_INTERVALS"] = saved
    app.extensions.pop("redis", None)
    connection.flushdb()
