"""One submission sent twice makes one case: the API's ``Idempotency-Key`` header and
the request form's hidden submission token (a double click, the back button and resend).

Plain functions; the views (service/blueprints/api.py, requests.py) are thin shells
over ``once``, which drives the steps below in one place.

- ``begin`` records a key before the work starts (committed at once, so a concurrent
  second request sees it); the unique (scope, key hash) makes the database the judge
  when two arrive together. It answers what the request should do: go ahead (NEW),
  send the recorded response again (REPLAY), refuse a different request under the same
  key (MISMATCH), refuse while the first is still running (IN_PROGRESS), or ignore a
  form token recorded by another browser session (FOREIGN).
- ``complete`` stores the case and the response in the case's own transaction (called
  from ``intake.submit_request``'s ``on_recorded``), so a case never exists without its
  key's response, nor the response without the case.
- ``release`` forgets a key whose request made no case (invalid, or it failed).
- Keys live ``KEY_TTL``; an expired one is ignored (replaced when its key comes again)
  and deleted by a worker's hourly chore (``delete_expired``).
  Only the key's SHA-256 is stored; the response (it carries the status link's token)
  is sealed with secrets_box.
"""
from __future__ import annotations

import enum
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.exc import IntegrityError

from service.cases.secrets_box import open_secret, seal
from service.extensions import db
from service.models import Case, IdempotencyKey

KEY_TTL: Final = timedelta(hours=24)
"""How long a key is remembered (the one definition)."""

IN_FLIGHT_TIMEOUT: Final = timedelta(minutes=10)
"""A key whose first request has run this long without finishing is taken as abandoned
(its process died) and may be used again."""

FORM_WAIT_SECONDS: Final = 10.0
"""How long a double-clicked form's second POST waits for the first to finish."""

API: Final = "api"
FORM: Final = "form"
HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"

_KEY = re.compile(r"[\x20-\x7e]{1,255}")

T = TypeVar("T")


class Outcome(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_PROGRESS = "in_progress"
    FOREIGN = "foreign"


@dataclass
class Claim:
    outcome: Outcome
    record: IdempotencyKey


def _now() -> datetime:
    return datetime.now(UTC)


def valid_key(value: str | None) -> bool:
    """1 to 255 printable ASCII characters (space to tilde)."""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def new_submission_token() -> str:
    return secrets.token_urlsafe(32)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def fingerprint(fields: Iterable[tuple[str, str]], files: Iterable[tuple[str, str, str]]) -> str:
    """SHA-256 of the form fields (name, value) and the files (field, filename, sha256), order-free."""
    payload = {"fields": sorted([list(f) for f in fields]), "files": sorted([list(f) for f in files])}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def request_fingerprint(form: Any, files: Any) -> str:
    """The fingerprint of a Werkzeug request's ``form`` and ``files`` (MultiDicts). Each
    file is hashed in blocks and rewound, so the form reads it afterwards as before."""
    hashed: list[tuple[str, str, str]] = []
    # A part without a name (``Content-Disposition: form-data`` alone) is keyed None by
    # Werkzeug; no field reads it, so it is no part of the request's meaning.
    for name, storage in files.items(multi=True):
        if name is None:
            continue
        digest = hashlib.sha256()
        stream = storage.stream
        while block := stream.read(1024 * 1024):
            digest.update(block)
        stream.seek(0)
        hashed.append((name, storage.filename or "", digest.hexdigest()))
    return fingerprint(((name, value) for name, value in form.items(multi=True) if name is not None), hashed)


def _find(scope: str, key_hash: str) -> IdempotencyKey | None:
    return db.session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key_hash == key_hash)
    ).one_or_none()


def _judge(record: IdempotencyKey, owner: str | None, fingerprint_: str) -> Outcome:
    if record.owner != owner:
        return Outcome.FOREIGN
    if record.fingerprint != fingerprint_:
        return Outcome.MISMATCH
    if record.response_status is None:
        return Outcome.IN_PROGRESS
    return Outcome.REPLAY


def begin(
    scope: str, key: str, fingerprint_: str = "", *, owner: str | None = None, now: datetime | None = None
) -> Claim:
    """Record ``key`` for a request about to run, or say why it must not run (see the module)."""
    now = now or _now()
    key_hash = _key_hash(key)
    record = _find(scope, key_hash)
    if record is not None and (
        record.expires_at <= now
        or (record.response_status is None and record.created_at + IN_FLIGHT_TIMEOUT <= now)
    ):
        # This key's own expired or abandoned record; the others go with `delete_expired`.
        db.session.delete(record)
        db.session.flush()
        record = None
    if record is None:
        record = IdempotencyKey(
            scope=scope, key_hash=key_hash, owner=owner, fingerprint=fingerprint_,
            created_at=now, expires_at=now + KEY_TTL,
        )
        db.session.add(record)
        try:
            db.session.commit()
            return Claim(Outcome.NEW, record)
        except IntegrityError:
            # Another request recorded the same key at the same moment. Rolling the
            # whole transaction back (no savepoint: two statements fewer per request)
            # only undoes this request's clean-up of expired keys, which the next does.
            db.session.rollback()
            record = _find(scope, key_hash)
            if record is None:  # pragma: no cover - it finished and expired in between
                raise
    db.session.commit()
    return Claim(_judge(record, owner, fingerprint_), record)


def delete_expired(now: datetime | None = None) -> int:
    """Delete every expired key (a periodic chore): not on every request, which then
    paid a statement for rows that are almost never there."""
    deleted = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or _now())))
    db.session.commit()
    return deleted.rowcount or 0


def complete(record: IdempotencyKey, case: Case, status: int, payload: dict[str, Any]) -> None:
    """Remember the case and the response; committed with the case by the caller.

    One UPDATE by the key's id (which the instance keeps after `begin`'s commit expired
    it): setting the attributes would first reload the whole row."""
    values = {
        "case_id": case.id,
        "response_status": status,
        "response_sealed": seal(json.dumps(payload, ensure_ascii=False)),
    }
    state = inspect(record)
    if state.expired_attributes >= set(values) and state.identity is not None:
        db.session.execute(
            update(IdempotencyKey).where(IdempotencyKey.id == state.identity[0]).values(**values),
            execution_options={"synchronize_session": False},
        )
        db.session.expire(record)  # read again from the row, should anything read it
        return
    for name, value in values.items():
        setattr(record, name, value)


def release(record: IdempotencyKey, *, rollback: bool = False) -> None:
    """Forget a key whose request made no case, so that it can be sent again; with
    ``rollback``, after a failure, what the request left in the session is dropped first."""
    if rollback:
        db.session.rollback()
    record_id = record.id
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
    db.session.commit()


def recorded(record: IdempotencyKey) -> dict[str, Any]:
    """The payload ``complete`` stored."""
    return json.loads(open_secret(record.response_sealed or ""))


def wait_for(record: IdempotencyKey, *, timeout: float = FORM_WAIT_SECONDS, step: float = 0.2) -> IdempotencyKey | None:
    """The record once its first request finished (re-read until ``timeout``); None if it
    did not finish in time or made no case (it was released)."""
    deadline = time.monotonic() + timeout
    record_id = record.id
    while True:
        db.session.expire_all()
        current = db.session.get(IdempotencyKey, record_id)
        if current is None or current.response_status is not None or time.monotonic() >= deadline:
            db.session.rollback()
            return current if current is not None and current.response_status is not None else None
        db.session.rollback()  # a fresh snapshot on the next read
        time.sleep(step)


@dataclass
class Attempt:
    """What ``once`` hands the request's work: its key (None when the request sent
    none), and ``complete`` to call once the case is recorded."""

    record: IdempotencyKey | None
    completed: bool = False

    def complete(self, case: Case, status: int, payload: dict[str, Any]) -> None:
        if self.record is not None:
            complete(self.record, case, status, payload)
        self.completed = True


def once(
    scope: str, key: str | None, fingerprint_: str = "", *, owner: str | None = None,
    run: Callable[[Attempt], T], replay: Callable[[IdempotencyKey], T], refuse: Callable[[Outcome], T],
    wait: float | None = None,
) -> T:
    """Run the request's work at most once per ``key`` (a valid key, or None to run it
    unguarded). A repeat gets ``replay`` of the first response; a refused request
    (MISMATCH, FOREIGN, or IN_PROGRESS after waiting up to ``wait`` seconds, or at
    once without it) gets ``refuse``. Work that ends without ``Attempt.complete``
    made no case, so its key is released, as it is when the work raises."""
    if key is None:
        return run(Attempt(None))
    claim = begin(scope, key, fingerprint_, owner=owner)
    if claim.outcome is Outcome.IN_PROGRESS and wait is not None:
        done = wait_for(claim.record, timeout=wait)
        if done is not None:
            return replay(done)
    if claim.outcome is Outcome.REPLAY:
        return replay(claim.record)
    if claim.outcome is not Outcome.NEW:
        return refuse(claim.outcome)
    attempt = Attempt(claim.record)
    try:
        result = run(attempt)
    except BaseException:
        release(claim.record, rollback=True)
        raise
    if not attempt.completed:
        release(claim.record)
    return result


def cleanup(now: datetime | None = None) -> int:
    """Delete the expired keys; their number. (``begin`` also does it as it goes.)"""
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or _now())))
    db.session.commit()
    return result.rowcount or 0
