"""`idempotency.once`, the one choreography behind the form's submission token and the
API's Idempotency-Key, driven directly: plain callables for the work and its answers."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.cases import idempotency
from service.cases.idempotency import Attempt, Outcome
from service.extensions import db
from service.models import Case, IdempotencyKey
from tests.fixtures.cases import make_case

SCOPE = idempotency.API


def keys() -> int:
    return db.session.scalar(select(func.count(IdempotencyKey.id)))


def cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def run_once(key: str | None, work, fingerprint: str = "f", **options):
    return idempotency.once(
        SCOPE, key, fingerprint, run=work, replay=lambda record: ("replay", idempotency.recorded(record)),
        refuse=lambda outcome: ("refused", outcome), **options,
    )


def completing(payload: dict):
    def work(attempt: Attempt):
        attempt.complete(make_case(), 201, payload)
        db.session.commit()
        return ("ran", payload)
    return work


def test_the_first_request_runs_and_a_repeat_replays_its_response(app_ctx):
    assert run_once("k1", completing({"n": 1})) == ("ran", {"n": 1})
    assert run_once("k1", completing({"n": 2})) == ("replay", {"n": 1})
    assert keys() == 1


def test_without_a_key_the_work_runs_every_time_and_nothing_is_recorded(app_ctx):
    assert run_once(None, completing({"n": 1})) == ("ran", {"n": 1})
    assert run_once(None, completing({"n": 2})) == ("ran", {"n": 2})
    assert keys() == 0


def test_work_that_records_no_case_releases_its_key(app_ctx):
    assert run_once("k2", lambda attempt: "invalid") == "invalid"
    assert keys() == 0
    assert run_once("k2", completing({"n": 3})) == ("ran", {"n": 3})


def test_work_that_raises_releases_its_key_and_drops_what_it_left(app_ctx):
    def failing(attempt: Attempt):
        make_case()
        raise RuntimeError("store down")

    before = cases()
    with pytest.raises(RuntimeError):
        run_once("k3", failing)
    assert keys() == 0 and cases() == before
    assert run_once("k3", completing({"n": 4})) == ("ran", {"n": 4})


def test_a_different_request_under_the_key_and_one_still_running_are_refused(app_ctx):
    run_once("k4", completing({"n": 5}))
    assert run_once("k4", completing({"n": 6}), fingerprint="other") == ("refused", Outcome.MISMATCH)
    idempotency.begin(SCOPE, "k5", "f")
    assert run_once("k5", completing({"n": 7})) == ("refused", Outcome.IN_PROGRESS)
    assert run_once("k5", completing({"n": 7}), wait=0.3) == ("refused", Outcome.IN_PROGRESS)


def test_a_token_of_another_owner_is_refused_as_foreign(app_ctx):
    def form(owner: str, payload: dict):
        return idempotency.once(idempotency.FORM, "t1", owner=owner, run=completing(payload),
                                replay=lambda record: "replay", refuse=lambda outcome: outcome)

    assert form("a", {"n": 8}) == ("ran", {"n": 8})
    assert form("b", {"n": 9}) is Outcome.FOREIGN
    assert form("a", {"n": 10}) == "replay"
