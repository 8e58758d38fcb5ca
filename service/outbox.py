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
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, Final

from flask import current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from service.extensions import db
from service.models import OutboxMessage

log = logging.getLogger(__name__)

# A row's life: recorded pending, enqueued by the relay, then done or failed for good.
PENDING: Final = "pending"
ENQUEUED: Final = "enqueued"
DONE: Final = "done"
FAILED: Final = "failed"

# `app.extensions[RELAY_HOOK](ids)` relays the given rows; the workers set it.
RELAY_HOOK: Final = "outbox_relay"
Relay = Callable[[Iterable[int]], int]

# Session.info keys: rows written in the open transaction, and those its commit made durable.
_WRITTEN: Final = "outbox_written"
_COMMITTED: Final = "outbox_committed"


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


def commit() -> None:
    """The one commit point: commit the session, then relay the outbox rows written in
    the transaction it committed. A failed commit raises and relays nothing. A relay
    that fails (or is not registered) leaves the rows pending for the worker's sweep:
    the change is committed either way, so the caller carries on."""
    db.session.info.pop(_COMMITTED, None)
    db.session.commit()
    ids = db.session.info.pop(_COMMITTED, [])
    if ids:
        _relay(ids)


def _relay(ids: list[int]) -> None:
    relay: Relay | None = current_app.extensions.get(RELAY_HOOK)
    if relay is None:
        log.debug("no outbox relay registered; %d row(s) wait for the sweep", len(ids))
        return
    try:
        relay(ids)
    except Exception:
        db.session.rollback()
        log.exception("relaying outbox rows %s failed; they wait for the sweep", ids)


def _written(session: Session, instance: object) -> None:
    if isinstance(instance, OutboxMessage):
        session.info.setdefault(_WRITTEN, []).append(instance)


def _committed(session: Session) -> None:
    """A savepoint's release is not the commit: only the outermost transaction counts."""
    if session.in_nested_transaction():
        return
    written = session.info.pop(_WRITTEN, [])
    identities = (inspect(message).identity for message in written)
    session.info[_COMMITTED] = [identity[0] for identity in identities if identity]


def _ended(session: Session, transaction: SessionTransaction) -> None:
    """Rows written in a transaction that rolled back are forgotten with it."""
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)


# Rows are caught as they are added (`after_attach`): the rules flush as they go, so
# `session.new` is empty by the time of the commit.
event.listen(Session, "after_attach", _written)
event.listen(Session, "after_commit", _committed)
event.listen(Session, "after_transaction_end", _ended)
