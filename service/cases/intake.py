"""Recording a patient's request and its files.

Atomic from the patient's view: the case and all its accepted files are recorded
together, or the files are not recorded at all (objects already written are deleted
before the transaction ends), and a failed commit removes every object it wrote.
"""
from __future__ import annotations

import logging
import os
import threading
import uuid
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final

from flask import current_app
from sqlalchemy import func, inspect, select

from service.cases import derivatives, events, sla, staging
from service.cases.references import next_reference
from service.cases.secrets_box import seal
from service.cases.status import CaseStatus
from service.cases.tokens import new_token
from service.extensions import db
from service.models import (
    Attachment,
    Case,
    Clinic,
    OutboxMessage,
    Referral,
    StagedUpload,
    Treatment,
)
from service.outbox import Job, commit, record
from service.uploads import IncomingFile
from storage import Storage, StorageUnavailable, StoredObject

log = logging.getLogger(__name__)


@dataclass
class RequestData:
    """What the patient told us, already validated by the form; each field is a `Case` column."""

    full_name: str
    email: str
    country: str
    language: str
    treatment: Treatment
    description: str
    phone: str | None = None
    date_of_birth: date | None = None
    preferred_clinic: Clinic | None = None
    travel_window: str | None = None
    budget: Decimal | None = None
    budget_currency: str | None = None
    medications: str | None = None
    allergies: str | None = None
    conditions: str | None = None
    # The version of the consent wording the patient agreed to (service.trust, by the form).
    consent_version: str | None = None


@dataclass
class IntakeResult:
    case: Case
    token: str
    attachments: list[Attachment] = field(default_factory=list)
    files_failed: bool = False


class FilesNotStored(Exception):
    """The store refused the files; nothing of them was kept."""


def _provisional_reference(token_hash: str) -> str:
    """Unique and never shown: the case holds it until `next_reference` numbers it."""
    return f"pending-{token_hash[:12]}"


def attachment_key(case_id: int) -> str:
    return f"cases/{case_id}/attachments/{uuid.uuid4()}"


def attachment_count(case: Case) -> int:
    return db.session.scalar(
        select(func.count(Attachment.id)).where(Attachment.case_id == case.id)
    ) or 0


PARALLEL_PUTS: Final = 4
"""Files written at once per process (its put threads, `_put_pool`): a store round trip
overlaps the hashing and sending of the next file. Each put streams from its own spooled file, so memory does not grow
with this; the S3 client's connection pool (10) covers it."""


def _store_files(case: Case, files: list[IncomingFile], storage: Storage) -> list[Attachment]:
    """Write every file or none, up to ``PARALLEL_PUTS`` at a time.

    If any put fails, the puts not yet started are dropped, the running ones are waited
    for, every object written is deleted, and the failure of the earliest file (in
    submission order) is re-raised. Attachments are recorded in submission order.
    ``Storage.put`` is thread-safe in both stores and each file has its own stream; the
    threads touch neither the database session nor the app context.
    """
    keys = [attachment_key(case.id) for _ in files]
    stored = _put_all(storage, keys, files)
    attachments = [
        Attachment(
            case_id=case.id,
            filename=incoming.filename,
            storage_key=result.key,
            content_type=incoming.content_type,
            size=result.size,
            sha256=result.sha256,
            active_content=incoming.active_content,
        )
        for incoming, result in zip(files, stored)
    ]
    if "attachments" in inspect(case).unloaded:
        # Not read yet in this transaction: add the rows without loading the collection
        # only to append to it (one SELECT per submission, for nothing).
        db.session.add_all(attachments)
    else:
        case.attachments.extend(attachments)
    db.session.flush()
    derivatives.schedule(attachments)
    return attachments


_pool: tuple[tuple[int, int], ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _put_pool() -> ThreadPoolExecutor:
    """The process's pool of put threads, started once (threads do not survive a fork,
    so a forked child starts its own): not two new threads per submission. Shared by
    a process's request threads, it also bounds the puts at once against the S3
    client's connection pool."""
    global _pool
    with _pool_lock:
        made_for = (os.getpid(), PARALLEL_PUTS)
        if _pool is None or _pool[0] != made_for:
            if _pool is not None and _pool[0][0] == os.getpid():
                _pool[1].shutdown(wait=False)
            _pool = (made_for, ThreadPoolExecutor(max_workers=PARALLEL_PUTS, thread_name_prefix="store-files"))
        return _pool[1]


def _put_all(storage: Storage, keys: list[str], files: list[IncomingFile]) -> list[StoredObject]:
    """The ``StoredObject`` of each file, put at its key concurrently; all-or-nothing as above."""
    if not files:
        return []
    futures: list[Future[StoredObject]] = []
    try:
        pool = _put_pool()
        try:
            for key, incoming in zip(keys, files):
                futures.append(
                    pool.submit(
                        storage.put,
                        key,
                        incoming.stream,
                        content_type=incoming.content_type,
                        filename=incoming.filename,
                    )
                )
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            # After a failure (or an interrupt here) the files not started are not
            # written at all; the puts still running are waited for.
            for future in futures:
                future.cancel()
            wait(futures)
        return [future.result() for future in futures]  # raises the earliest file's failure
    except BaseException:
        written = [
            key
            for key, future in zip(keys, futures)
            if future.done() and not future.cancelled() and future.exception() is None
        ]
        _delete_quietly(storage, written)
        raise


def _delete_quietly(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except StorageUnavailable:
            log.error("could not delete orphaned object %s", key)


def _commit_or_clean(storage: Storage, attachments: list[Attachment]) -> None:
    """Commit (relaying the work recorded with it) or delete the objects just written."""
    try:
        commit()
    except Exception:
        db.session.rollback()
        _delete_quietly(storage, [a.storage_key for a in attachments])
        raise


def refresh_paperwork(case: Case) -> list[OutboxMessage]:
    """Render the confirmation and every dossier again (new files change their index)."""
    work = [record(Job.RENDER_CONFIRMATION, case_id=case.id)]
    for referral_id in db.session.scalars(select(Referral.id).where(Referral.case_id == case.id)):
        work.append(record(Job.RENDER_DOSSIER, case_id=case.id, referral_id=referral_id))
    return work


def submit_request(
    data: RequestData,
    files: list[IncomingFile],
    storage: Storage,
    *,
    source: str,
    staged: list[StagedUpload] | None = None,
    on_recorded: Callable[[IntakeResult], None] | None = None,
) -> IntakeResult:
    """Record a new case; if the store is down, the text is still kept.

    ``staged`` are completed resumable uploads of this patient (already checked by the
    form): they become attachments exactly like ``files``, copied to the case's keys in
    the same all-or-nothing batch, and their staged rows go in the same transaction
    (their objects once it committed). If the store is down they stay staged.

    ``on_recorded(result)`` runs just before the commit, so what it adds to the session
    (an idempotency key's response) is committed with the case or not at all.
    """
    staged = staged or []
    token, token_hash = new_token()
    now = datetime.now(UTC)
    case = Case(
        **{f.name: getattr(data, f.name) for f in fields(data)},
        reference=_provisional_reference(token_hash),
        token_hash=token_hash,
        status=CaseStatus.SUBMITTED,
        source=source,
        consent_at=now,
        created_at=now,
    )
    sla.refresh_deadline(case)
    db.session.add(case)
    db.session.flush()
    total = len(files) + len(staged)
    events.record_event(case, events.Actor.PATIENT, events.EventKind.CASE_SUBMITTED, source=source, files=total)
    result = IntakeResult(case=case, token=token)
    if total:
        staged_files: list[IncomingFile] = []
        try:
            staged_files = staging.open_for_attach(staged, storage)
            result.attachments = _store_files(case, [*files, *staged_files], storage)
            staging.forget(staged)
        except StorageUnavailable:
            log.warning("storage unavailable: case id %s recorded without its files", case.id)
            events.record_event(case, events.Actor.SYSTEM, events.EventKind.FILES_NOT_STORED, count=total)
            result.files_failed = True
        finally:
            staging.close_all(staged_files)
    config = current_app.config
    if config["AUTO_ROUTE"]:
        # The arriving case's assignment rides on its routing job: one light job per
        # request, not two (each costs RQ's bookkeeping and a transaction of its own).
        record(Job.ROUTE_CASE, case_id=case.id, **({"assign": True} if config["AUTO_ASSIGN"] else {}))
    elif config["AUTO_ASSIGN"]:
        record(Job.ASSIGN_CASE, case_id=case.id)
    record(Job.RENDER_CONFIRMATION, case_id=case.id)
    record(Job.NOTIFY_PATIENT, case_id=case.id, sealed_token=seal(token))
    # Numbered last: the counter's row lock is then held for a few statements up to the
    # commit, not across the file uploads (every submission of the year waits on it).
    case.reference = next_reference(db.session, now.year)
    if on_recorded is not None:
        on_recorded(result)
    reference = case.reference  # the commit expires the case: not a SELECT for a log line
    _commit_or_clean(storage, result.attachments)
    if not result.files_failed:
        staging.remove_objects(staged, storage)
    log.info(
        "case %s recorded (%s, %d file(s)%s)",
        reference,
        source,
        len(result.attachments),
        ", files not stored" if result.files_failed else "",
    )
    return result


def add_files(case: Case, files: list[IncomingFile], storage: Storage) -> list[Attachment]:
    """Attach more files to an existing case; raises FilesNotStored if the store is down."""
    try:
        attachments = _store_files(case, files, storage)
    except StorageUnavailable as exc:
        db.session.rollback()
        raise FilesNotStored(str(exc)) from exc
    events.record_event(case, events.Actor.PATIENT, events.EventKind.FILES_ADDED, count=len(attachments))
    refresh_paperwork(case)
    _commit_or_clean(storage, attachments)
    log.info("case %s: %d file(s) added", case.reference, len(attachments))
    return attachments
