"""The outbox as the domain sees it: the jobs there are, recording one, and the one
commit point.

A change that needs background work records an `OutboxMessage` in its own transaction
(`record`) and ends that transaction with `commit()`: the rows written in it are handed
to the relay only once the commit succeeded, never after a rollback or a failed commit.
The relay itself (RQ, Redis) belongs to the workers, which register it on the app
(`RELAY_HOOK` in `app.extensions`) when the app is composed; without it the rows wait
for the worker's sweep. This module imports models and extensions only, so every layer
may record work without importing the workers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, NamedTuple

from flask import current_app
from sqlalchemy import Update, bindparam, event, inspect, update
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.elements import ColumnElement

from service.extensions import db
from service.models import OutboxMessage

log = logging.getLogger(__name__)

# A row's life: recorded pending, enqueued by the relay, then done or failed for good.
PENDING: Final = "pending"
ENQUEUED: Final = "enqueued"
DONE: Final = "done"
FAILED: Final = "failed"

# `app.extensions[RELAY_HOOK](rows)` hands rows already claimed for it (`Claimed`) to the
# queue, raising if it cannot; the workers set it.
RELAY_HOOK: Final = "outbox_relay"


class Claimed(NamedTuple):
    """What enqueuing a row needs of it, as the claim's RETURNING gives it."""

    id: int
    job: str
    case_id: int | None


Relay = Callable[[Sequence[Claimed]], object]

# Session.info key: the rows written in the open transaction.
_WRITTEN: Final = "outbox_written"


class Job(StrEnum):
    """Every background job. The outbox row stores the value; `workers.jobs.JOBS` maps
    each member to its function and queue."""

    ROUTE_CASE = "route_case"
    RENDER_DOSSIER = "render_dossier"
    RENDER_CONFIRMATION = "render_confirmation"
    NOTIFY_PATIENT = "notify_patient"
    NOTIFY_CLINIC = "notify_clinic"
    ASSIGN_CASE = "assign_case"
    RENDER_QUOTE_COMPARISON = "render_quote_comparison"
    RENDER_BOOKING_SUMMARY = "render_booking_summary"
    RENDER_VISA_LETTER = "render_visa_letter"
    NOTIFY_STAFF_CHOICE = "notify_staff_choice"
    SEND_SIGNIN_LINK = "send_signin_link"
    ERASE_CASE = "erase_case"
    NOTIFY_PATIENT_FILES_REFUSED = "notify_patient_files_refused"
    NOTIFY_STAFF_PATIENT_WROTE = "notify_staff_patient_wrote"
    NOTIFY_PATIENT_EVENT = "notify_patient_event"
    NOTIFY_CLINIC_OUTCOME = "notify_clinic_outcome"
    REMIND_CLINIC = "remind_clinic"
    SEND_LOST_LINKS = "send_lost_links"
    DERIVE_FILE = "derive_file"
    RENDER_INVOICE = "render_invoice"
    RENDER_ITINERARY = "render_itinerary"
    SEND_RESET_LINK = "send_reset_link"


def record(job: Job, *, case_id: int | None, **payload: Any) -> OutboxMessage:
    """Add work to the current transaction; it is relayed only once that commits."""
    message = OutboxMessage(job=Job(job).value, case_id=case_id, payload=payload, status=PENDING)
    db.session.add(message)
    return message


def claim_where(rows: ColumnElement[bool]) -> Update:
    """The claim of the pending rows that `rows` selects: mark them enqueued and return
    what their jobs need (only the values bound per call). The WHERE on the status makes
    it a claim: two relays never enqueue the same row. The commit point's claim is
    `CLAIM`; the workers' sweep builds its own from this for the oldest rows."""
    return (
        update(OutboxMessage)
        .where(rows, OutboxMessage.status == PENDING)
        .values(status=ENQUEUED, enqueued_at=bindparam("now"), attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.job, OutboxMessage.case_id)
        .execution_options(synchronize_session=False)
    )


CLAIM: Final = claim_where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))


def commit() -> None:
    """The one commit point: commit the session, then relay the outbox rows written in
    the transaction it committed. The rows are claimed in that same transaction (one
    UPDATE … RETURNING before the COMMIT, not a transaction of its own after it), so a
    failed commit claims and relays nothing. A relay that fails (or is not registered)
    leaves the rows pending for the worker's sweep: the change is committed either way,
    so the caller carries on. A process that dies between the commit and the relay
    leaves its rows enqueued without a job: the sweep enqueues them again once they
    have been so for `LOST_AFTER` (workers/outbox.py)."""
    relay: Relay | None = current_app.extensions.get(RELAY_HOOK)
    claimed = _claim_written() if relay is not None else []
    db.session.commit()
    if claimed and relay is not None:
        _hand_over(relay, claimed)


def _claim_written() -> list[Claimed]:
    written = db.session.info.get(_WRITTEN)
    if not written:
        return []
    db.session.flush()
    # A row of a savepoint that rolled back has no identity any more: it is not there.
    identities = (inspect(message).identity for message in written)
    ids = [identity[0] for identity in identities if identity]
    if not ids:
        return []
    rows = db.session.execute(CLAIM, {"ids": ids, "now": datetime.now(UTC)}).all()
    return sorted((Claimed(*row) for row in rows), key=lambda row: row.id)


def _hand_over(relay: Relay, claimed: list[Claimed]) -> None:
    try:
        relay(claimed)
    except Exception:
        db.session.rollback()
        ids = [row.id for row in claimed]
        log.exception("relaying outbox rows %s failed; they wait for the sweep", ids)
        release(ids)


def release(ids: Sequence[int]) -> None:
    """Claimed rows whose jobs did not reach the queue: pending again, for the sweep.
    If even that fails, the sweep finds them enqueued without a job after `LOST_AFTER`."""
    try:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == ENQUEUED)
            .values(status=PENDING)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("outbox rows %s stay enqueued without a job until the sweep finds them", list(ids))


def _written(session: Session, instance: object) -> None:
    if isinstance(instance, OutboxMessage):
        session.info.setdefault(_WRITTEN, []).append(instance)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    """Rows written in a transaction are forgotten when it ends, committed or rolled back."""
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)


# Rows are caught as they are added (`after_attach`): the rules flush as they go, so
# `session.new` is empty by the time of the commit.
event.listen(Session, "after_attach", _written)
event.listen(Session, "after_transaction_end", _ended)
