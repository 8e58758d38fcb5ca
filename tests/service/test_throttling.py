"""Per-address rate limits on the real Redis: the request form and the API share one
submission allowance, failed sign-ins have theirs, a refusal is a 429 with `Retry-After`
(a page in the patient's language, problem+json on the API), nothing refused is recorded,
Redis down falls back to counting in memory, and `RATELIMIT_ENABLED` switches them off."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from wsgi import create_app
from service.accounts import signin
from service.extensions import db
from service.models import Case
from tests.conftest import make_config
from tests.fixtures.forms import valid_request
from tests.fixtures.services import free_port

LIMIT = 3
OTHER_ADDRESS = {"REMOTE_ADDR": "192.0.2.7"}


def _limited_app(database_url: str, tmp_path_factory, **overrides) -> Flask:
    config = make_config(database_url, tmp_path_factory.mktemp("limited"),
                         SUBMISSION_RATE_LIMIT=f"{LIMIT} per hour", **overrides)
    return create_app(config)


@pytest.fixture
def redis_limited(app, database_url, tmp_path_factory, redis_url) -> Iterator[Flask]:
    """An app whose limits live in the test Redis database (never memory)."""
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    limited = _limited_app(database_url, tmp_path_factory, RATELIMIT_STORAGE_URI=redis_url)
    yield limited
    connection.flushdb()


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def _form(client, **environ):
    return client.post("/requests/new", data=valid_request(), content_type="multipart/form-data",
                       environ_base=environ)


def _api(client, **environ):
    return client.post("/api/v1/requests", data=valid_request(), content_type="multipart/form-data",
                       environ_base=environ)


def _retry_after(response) -> int:
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 3600
    return seconds


def test_the_form_and_the_api_share_one_allowance_per_address_kept_in_redis(db_session, redis_limited, redis_url):
    client = redis_limited.test_client()
    assert [_form(client).status_code, _api(client).status_code, _form(client).status_code] == [303, 201, 303]
    assert redis.Redis.from_url(redis_url).keys("LIMITS:LIMITER/medtour/*"), "the counts are in Redis, not in memory"
    recorded = _cases()

    page = _form(client)
    assert page.status_code == 429 and page.mimetype == "text/html"
    _retry_after(page)
    assert "Too many requests were sent from your address" in page.text

    api = _api(client)
    assert api.status_code == 429 and api.mimetype == "application/problem+json"
    _retry_after(api)
    assert api.json["status"] == 429 and "Retry-After" in api.json["detail"]

    assert _cases() == recorded, "a refused submission records nothing"
    assert _form(client, **OTHER_ADDRESS).status_code == 303, "another address has its own allowance"


def test_the_refusal_page_speaks_the_patients_language(db_session, redis_limited):
    client = redis_limited.test_client()
    for _ in range(LIMIT):
        _form(client)
    refused = client.post("/requests/new", data=valid_request(), content_type="multipart/form-data",
                          headers={"Accept-Language": "ru"})
    assert refused.status_code == 429
    assert "Слишком много запросов" in refused.text


def test_the_allowance_is_shared_by_every_process_through_redis(db_session, redis_limited, database_url,
                                                               tmp_path_factory, redis_url):
    """Two app instances (two gunicorn workers) count against the same Redis keys."""
    second = _limited_app(database_url, tmp_path_factory, RATELIMIT_STORAGE_URI=redis_url)
    first_client, second_client = redis_limited.test_client(), second.test_client()
    for _ in range(LIMIT):
        assert _form(first_client).status_code == 303
    assert _form(second_client).status_code == 429


def test_failed_sign_ins_are_limited_per_address_in_redis(db_session, redis_limited, redis_url, monkeypatch):
    monkeypatch.setattr(signin, "verify_password", lambda *_: False)
    client = redis_limited.test_client()
    for number in range(20):
        response = client.post("/staff/login", data={"email": f"guess{number}@medtour.example", "password": "x" * 12})
        assert response.status_code == 401
    refused = client.post("/staff/login", data={"email": "one.more@medtour.example", "password": "x" * 12})
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert "Too many failed sign-ins" in refused.text
    assert 800 < _retry_after(refused) <= 900
    clinic = client.post("/clinic/login", data={"email": "desk@clinic.example", "password": "x" * 12})
    assert clinic.status_code == 429 and clinic.mimetype == "text/html", "the clinic portal shares the allowance"
    _retry_after(clinic)
    assert any(b"staff-signin" in key for key in redis.Redis.from_url(redis_url).keys("LIMITS:LIMITER/medtour/*"))


def test_with_redis_down_the_limits_count_in_memory_instead_of_refusing_patients(
        db_session, app, database_url, tmp_path_factory):
    down = _limited_app(database_url, tmp_path_factory, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    client = down.test_client()
    assert [_form(client).status_code for _ in range(LIMIT)] == [303] * LIMIT
    refused = _form(client)
    assert refused.status_code == 429, "still limited, per process"
    _retry_after(refused)


def _forwarded_for(address: str) -> dict[str, str]:
    return {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": address}


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance(db_session, app, database_url,
                                                                              tmp_path_factory):
    client = _limited_app(database_url, tmp_path_factory, PROXY_HOPS=1).test_client()
    for _ in range(LIMIT):
        assert _form(client, **_forwarded_for("203.0.113.1")).status_code == 303
    assert _form(client, **_forwarded_for("203.0.113.1")).status_code == 429
    assert _form(client, **_forwarded_for("203.0.113.2")).status_code == 303, "not one allowance for the proxy"


def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_evade_the_limit(db_session, app, database_url,
                                                                                  tmp_path_factory):
    client = _limited_app(database_url, tmp_path_factory).test_client()
    answers = [_form(client, **_forwarded_for(f"198.51.100.{n}")).status_code for n in range(LIMIT + 1)]
    assert answers == [303] * LIMIT + [429]


HUNG_FOR = 16


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A port that accepts connections and never answers (a hung Redis), for HUNG_FOR seconds."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    closer = threading.Timer(HUNG_FOR, listener.close)
    closer.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    closer.cancel()
    listener.close()


def test_a_redis_that_does_not_answer_does_not_hold_up_a_patient(db_session, app, database_url, tmp_path_factory,
                                                                 silent_redis):
    hung = _limited_app(database_url, tmp_path_factory, RATELIMIT_STORAGE_URI=silent_redis)
    client = hung.test_client()
    took = []
    for _ in range(3):
        started = time.monotonic()
        assert _form(client).status_code == 303
        took.append(time.monotonic() - started)
    # Waiting on the hung Redis costs about 2 s once (connect, one read timeout) and then
    # nothing: the limiter counts in memory. Without the timeouts a request hangs until the
    # port closes; the bound sits well between, so a loaded CI machine does not trip it.
    assert max(took) < HUNG_FOR / 2, took


def test_ratelimit_enabled_off_lifts_the_per_address_limits(db_session, app, database_url, tmp_path_factory,
                                                            monkeypatch):
    monkeypatch.setattr(signin, "verify_password", lambda *_: False)
    unlimited = _limited_app(database_url, tmp_path_factory, RATELIMIT_PER_ADDRESS=False)
    client = unlimited.test_client()
    assert {_form(client).status_code for _ in range(LIMIT + 2)} == {303}
    answers = {client.post("/staff/login", data={"email": f"g{n}@medtour.example", "password": "x" * 12}).status_code
               for n in range(25)}
    assert answers == {401}
    # The per-account counters stay on: an unknown address still locks like an account.
    ghost = [client.post("/staff/login", data={"email": "ghost@medtour.example", "password": "x" * 12}).status_code
             for _ in range(signin.MAX_FAILED_SIGNINS)]
    assert ghost[-1] == 429


@pytest.mark.parametrize(("env", "enabled", "limit"), [
    ({}, True, "20 per hour"),
    ({"RATELIMIT_ENABLED": "0", "SUBMISSION_RATE_LIMIT": "5 per minute"}, False, "5 per minute"),
])
def test_the_limits_come_from_the_environment(tmp_path, monkeypatch, env, enabled, limit):
    from service import config

    for name in ("RATELIMIT_ENABLED", "SUBMISSION_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loaded = config.load(str(tmp_path))
    assert (loaded["RATELIMIT_PER_ADDRESS"], loaded["SUBMISSION_RATE_LIMIT"]) == (enabled, limit)


def test_an_unreadable_limit_stops_the_app_at_start(tmp_path):
    with pytest.raises(RuntimeError, match="SUBMISSION_RATE_LIMIT"):
        create_app(make_config("sqlite://", tmp_path, SUBMISSION_RATE_LIMIT="lots"))

