"""Redis stopped during 50 submissions: every patient is answered with success (their
status page) and every case waits in the outbox; once Redis returns, the worker's sweep
relays them and all 50 are routed within a minute, by the same app and its cached
Redis client (nothing restarted, nothing reconfigured)."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Case, OutboxMessage, Referral
from tests.fixtures.forms import valid_request
from workers import outbox, queues

SUBMISSIONS = 50
ROUTED_WITHIN = 60


@pytest.fixture
def app_on_private_redis(app, db_session, private_redis) -> Iterator:
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = private_redis.url
    app.extensions.pop("redis", None)
    try:
        yield app
    finally:
        app.config["REDIS_URL"] = saved
        app.extensions.pop("redis", None)


def test_fifty_submissions_during_a_redis_outage_all_succeed_and_are_routed_after(app_on_private_redis, private_redis):
    app = app_on_private_redis
    client = app.test_client()
    with app.app_context():
        cached = queues.redis_connection()
        assert cached.ping()  # the app holds a live connection when Redis goes away
    first_id = db.session.scalar(select(func.max(Case.id))) or 0

    private_redis.stop()
    status_pages = []
    for n in range(SUBMISSIONS):
        response = client.post(
            "/requests/new", data=valid_request(email=f"patient{n}@example.org"),
            content_type="multipart/form-data", environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        assert response.status_code == 303, response.text
        assert "/s/" in response.location
        status_pages.append(response.location)
    api = client.post("/api/v1/requests", data=valid_request(email="api@example.org"),
                      content_type="multipart/form-data")
    assert api.status_code == 201, api.text

    cases = list(db.session.scalars(select(Case).where(Case.id > first_id).order_by(Case.id)))
    assert len(cases) == SUBMISSIONS + 1
    assert [c.email for c in cases[:SUBMISSIONS]] == [f"patient{n}@example.org" for n in range(SUBMISSIONS)]
    routing_rows = list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.case_id > first_id, OutboxMessage.job == "route_case")
    ))
    assert sorted(m.case_id for m in routing_rows) == [c.id for c in cases]
    assert {m.status for m in routing_rows} == {outbox.PENDING}
    assert client.get(status_pages[-1]).status_code == 200

    private_redis.start()
    returned = time.monotonic()
    with app.app_context():
        assert queues.redis_connection() is cached
        report = outbox.sweep()
        # Routing is the worker's first queue (queues.ALL): drained before any PDF is made.
        SimpleWorker([queues.ROUTING], connection=queues.redis_connection()).work(burst=True)
    db.session.expire_all()
    elapsed = time.monotonic() - returned

    assert report.relayed >= len(routing_rows)
    statuses = {c.id: db.session.get(Case, c.id).status for c in cases}
    assert set(statuses.values()) <= {CaseStatus.ROUTED, CaseStatus.NEEDS_ATTENTION}
    routed = [case_id for case_id, status in statuses.items() if status == CaseStatus.ROUTED]
    referred = set(db.session.scalars(select(Referral.case_id).where(Referral.case_id > first_id)))
    assert routed and set(routed) <= referred
    for message in routing_rows:
        db.session.refresh(message)
        assert message.status == outbox.DONE
    assert elapsed < ROUTED_WITHIN, f"routing took {elapsed:.1f} s after Redis returned"
