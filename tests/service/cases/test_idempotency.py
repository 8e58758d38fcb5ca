"""Idempotency keys: one submission sent twice makes one case (the API's Idempotency-Key
header, service/cases/idempotency.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from service.cases import idempotency
from service.extensions import db
from service.models import Case, IdempotencyKey
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def _post(client, data, key: str | None = "retry-7f3a"):
    headers = {idempotency.HEADER: key} if key is not None else {}
    return client.post("/api/v1/requests", data=data, content_type="multipart/form-data", headers=headers)


def test_two_posts_with_one_key_make_one_case_and_the_same_response(client):
    before = _cases()
    first = _post(client, valid_request(files=[upload(files.pdf(), "scan.pdf")]))
    second = _post(client, valid_request(files=[upload(files.pdf(), "scan.pdf")]))
    assert first.status_code == second.status_code == 201
    assert second.data == first.data
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers[idempotency.REPLAYED_HEADER] == "true"
    assert idempotency.REPLAYED_HEADER not in first.headers
    assert _cases() == before + 1
    record = db.session.scalars(select(IdempotencyKey)).one()
    case = db.session.scalars(select(Case).where(Case.reference == first.get_json()["reference"])).one()
    assert record.case_id == case.id and record.response_status == 201
    # Only hashes and a sealed response are stored: neither the key nor the status token.
    token = first.get_json()["status_url"].rsplit("/", 1)[1]
    for column in IdempotencyKey.__table__.columns:
        value = str(getattr(record, column.key))
        assert "retry-7f3a" not in value and token not in value


def test_without_a_key_two_posts_make_two_cases(client):
    before = _cases()
    assert _post(client, valid_request(), key=None).status_code == 201
    assert _post(client, valid_request(), key=None).status_code == 201
    assert _cases() == before + 2


@pytest.mark.parametrize("changed", [
    lambda: {"description": "A different description of at least twenty characters."},
    lambda: {"files": [upload(files.jpeg(), "scan.pdf")]},  # same name, other bytes
], ids=["field", "file"])
def test_the_same_key_with_a_different_request_is_422_and_creates_nothing(client, changed):
    first = _post(client, valid_request(files=[upload(files.pdf(), "scan.pdf")]))
    assert first.status_code == 201
    before = _cases()
    data = valid_request(files=[upload(files.pdf(), "scan.pdf")])
    data.update(changed())
    response = _post(client, data)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "this Idempotency-Key was used for a different request"
    assert _cases() == before


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "tab\tkey"])
def test_a_bad_key_is_400_naming_the_header_and_creates_nothing(client, key):
    before = _cases()
    response = _post(client, valid_request(), key=key)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "Idempotency-Key" in response.get_json()["detail"]
    assert _cases() == before


def test_the_longest_and_widest_keys_are_accepted(client):
    assert _post(client, valid_request(), key="~" * 255).status_code == 201
    assert _post(client, valid_request(), key=" !~").status_code == 201


def test_expired_keys_are_deleted_by_the_chore_not_by_each_request(client, app_ctx):
    _post(client, valid_request(), key="old")
    _post(client, valid_request(description="Another request, another key, still fresh."), key="new")
    old = db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.key_hash == idempotency._key_hash("old"))).one()
    old.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    _post(client, valid_request(description="A third request: it leaves the expired key alone."), key="third")
    assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 3
    assert idempotency.delete_expired() == 1
    assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 2


def test_an_expired_key_can_be_used_again(client):
    first = _post(client, valid_request())
    record = db.session.scalars(select(IdempotencyKey)).one()
    record.expires_at = datetime.now(UTC) - idempotency.KEY_TTL
    db.session.commit()
    before = _cases()
    again = _post(client, valid_request(description="A new request, sent a day later with the old key."))
    assert again.status_code == 201
    assert idempotency.REPLAYED_HEADER not in again.headers
    assert again.get_json()["reference"] != first.get_json()["reference"]
    assert _cases() == before + 1


def test_a_retry_while_the_first_is_running_is_409(client, app_ctx):
    fingerprint = idempotency.fingerprint(valid_request().items(), [])
    claim = idempotency.begin(idempotency.API, "running", fingerprint)
    assert claim.outcome is idempotency.Outcome.NEW
    before = _cases()
    response = _post(client, valid_request(), key="running")
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert _cases() == before


def test_an_invalid_request_does_not_use_up_its_key(client):
    refused = _post(client, valid_request(consent=""))
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 0
    assert _post(client, valid_request()).status_code == 201


def test_the_fingerprint_covers_fields_and_file_bytes_not_their_order():
    base = idempotency.fingerprint([("a", "1"), ("b", "2")], [("files", "x.pdf", "h1")])
    assert base == idempotency.fingerprint([("b", "2"), ("a", "1")], [("files", "x.pdf", "h1")])
    assert base != idempotency.fingerprint([("a", "1"), ("b", "3")], [("files", "x.pdf", "h1")])
    assert base != idempotency.fingerprint([("a", "1"), ("b", "2")], [("files", "x.pdf", "h2")])


def test_erasure_removes_the_stored_response_of_the_case(client, storage):
    """The sealed response names the patient's files: it goes with their data."""
    from service.cases import erasure

    first = _post(client, valid_request(files=[upload(files.pdf(), "МРТ колена.pdf")]))
    assert first.status_code == 201
    case = db.session.scalars(select(Case).where(Case.reference == first.get_json()["reference"])).one()
    assert db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.case_id == case.id)).all() != []
    erasure.erase(case, storage)
    db.session.commit()
    assert db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.case_id == case.id)).all() == []
