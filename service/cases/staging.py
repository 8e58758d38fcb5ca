"""Resumable uploads staged before the request form is submitted (the tus protocol's rules).

Plain functions; the Flask view (service/blueprints/tus.py) is a thin shell around them.

- An upload belongs to the browser session that created it (``owner``, a random id
  kept in the Flask session); anyone else is told it does not exist.
- Its bytes go through the ``Storage`` interface only, so both stores work: each
  PATCH body becomes one object ``uploads/<id>/part-<n>-<random>`` (listed, in order,
  in the row), and on completion the parts are concatenated, streamed through a
  temporary file, into ``uploads/<id>/file``; the parts are then deleted.
- The limits come from the app config (``service/limits.py``); the type is detected
  from the first bytes with the intake's own ``detect_type`` as soon as they are in,
  before more is accepted.
- At submission the completed uploads are copied to the case's attachment keys by the
  intake (``open_for_attach``) and removed with ``forget``/``remove_objects``.
- Uploads older than ``UPLOAD_TTL`` are deleted with their objects by ``cleanup``.
"""
from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, BinaryIO, Final

from flask import current_app, session
from sqlalchemy import func, select, update
from werkzeug.exceptions import ClientDisconnected

from service import i18n, uploads
from service.extensions import db
from service.i18n import gettext
from service.models import StagedUpload
from service.uploads import IncomingFile
from storage import Storage, StorageUnavailable

log = logging.getLogger(__name__)

UPLOAD_TTL: Final = timedelta(hours=24)
"""How long a staged upload is kept if no submitted request takes it (the one definition)."""

READ_BLOCK: Final = 64 * 1024
"""A PATCH body is read in blocks of this size, so a dropped connection keeps what arrived."""

SPOOL_BYTES: Final = 1024 * 1024
"""Bytes of a PATCH body held in memory before its temporary file moves to disk."""

COPY_BLOCK: Final = 1024 * 1024
OWNER_KEY: Final = "upload_owner"
# What secrets.token_urlsafe makes; anything else (a NUL, a space) is no upload of ours.
_UPLOAD_ID: Final = re.compile(r"[A-Za-z0-9_-]+")
PART_CONTENT_TYPE: Final = "application/octet-stream"


@dataclass
class StagingError(Exception):
    """A refusal, carried to the client as problem+json with this status."""

    status: int
    title: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


def _now() -> datetime:
    return datetime.now(UTC)


def file_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/file"


def _part_key(upload_id: str, number: int) -> str:
    # The random suffix keeps two racing PATCHes from ever writing the same object.
    return f"uploads/{upload_id}/part-{number}-{secrets.token_hex(4)}"


def _keys(upload: StagedUpload) -> list[str]:
    return [part["key"] for part in upload.parts or []] + [file_key(upload.id)]


# -- ownership ---------------------------------------------------------------


def session_owner(*, create: bool = False) -> str | None:
    """The owner id of this browser session; made (and kept in the session) on demand."""
    owner = session.get(OWNER_KEY)
    if not isinstance(owner, str) or not owner:
        if not create:
            return None
        owner = secrets.token_urlsafe(24)
        session[OWNER_KEY] = owner
    return owner


def find(owner: str | None, upload_id: str, *, now: datetime | None = None) -> StagedUpload | None:
    """The owner's upload with this id; None when unknown, expired or someone else's."""
    if not owner or not upload_id or len(upload_id) > 64 or not _UPLOAD_ID.fullmatch(upload_id):
        return None
    upload = db.session.get(StagedUpload, upload_id)
    if upload is None or upload.owner != owner or upload.expires_at <= (now or _now()):
        return None
    return upload


def staged_count(owner: str, *, now: datetime | None = None) -> int:
    return db.session.scalar(
        select(func.count(StagedUpload.id)).where(
            StagedUpload.owner == owner, StagedUpload.expires_at > (now or _now())
        )
    ) or 0


def completed(owner: str | None, *, now: datetime | None = None) -> list[StagedUpload]:
    """The owner's finished, unexpired uploads, oldest first: what a reopened form lists,
    so a reload never asks for a file the patient already sent."""
    if not owner:
        return []
    return list(db.session.scalars(
        select(StagedUpload)
        .where(StagedUpload.owner == owner, StagedUpload.completed_at.is_not(None),
               StagedUpload.expires_at > (now or _now()))
        .order_by(StagedUpload.created_at, StagedUpload.id)
    ))


# -- creation ----------------------------------------------------------------


def create(owner: str, raw_filename: str | None, length: int, *, now: datetime | None = None) -> StagedUpload:
    """A new upload of ``length`` bytes, or a refusal naming the file and the limit."""
    name = uploads.safe_filename(raw_filename)
    if length == 0:
        raise StagingError(422, "Empty file", uploads.empty_problem(name).message)
    too_large = uploads.size_problem(name, length, current_app.config["MAX_FILE_BYTES"])
    if too_large:
        raise StagingError(413, "File too large", too_large.message)
    max_files = current_app.config["MAX_FILES"]
    now = now or _now()
    already = staged_count(owner, now=now)
    too_many = uploads.count_problem(already + 1, 0, max_files)
    if too_many:
        raise StagingError(409, "Too many files", gettext("%(name)s: %(problem)s", name=name, problem=too_many.message))
    upload = StagedUpload(
        id=secrets.token_urlsafe(24),
        owner=owner,
        filename=name,
        length=length,
        offset=0,
        parts=[],
        created_at=now,
        expires_at=now + UPLOAD_TTL,
    )
    db.session.add(upload)
    db.session.commit()
    log.info("staged upload %s created (%d bytes)", upload.id, length)
    return upload


# -- receiving bytes ---------------------------------------------------------


def _head_target(upload: StagedUpload) -> int:
    """How many leading bytes the intake's type detection reads of a file this long."""
    return min(uploads.HEAD_BYTES, upload.length)


def _stored_head(upload: StagedUpload, storage: Storage) -> bytearray:
    """The bytes already received (fewer than ``HEAD_BYTES``, as the type is not known yet)."""
    head = bytearray()
    for part in upload.parts or []:
        with storage.open(part["key"]) as stream:
            head += stream.read()
    return head


def append(
    upload: StagedUpload,
    stream: BinaryIO,
    *,
    offset: int,
    content_length: int | None,
    storage: Storage,
) -> StagedUpload:
    """Take the bytes of one PATCH at ``offset``; complete the upload when they reach its length.

    The body is read in blocks into a temporary file (in memory up to ``SPOOL_BYTES``).
    If the client disconnects part way, what arrived is still stored, so the offset the
    next HEAD reports is real and the client resumes from there. A body longer than
    what remains is refused before it is read (or as soon as it overflows, without a
    Content-Length). Once the first bytes are in, an unaccepted type is refused (415)
    and the upload deleted.
    """
    if offset != upload.offset:
        raise StagingError(
            409, "Offset mismatch",
            gettext("%(name)s: the upload is at byte %(offset)s, not %(sent)s; ask for the offset (HEAD) "
                    "and resume from there.", name=upload.filename, offset=upload.offset, sent=offset),
        )
    remaining = upload.length - upload.offset
    if content_length is not None and content_length > remaining:
        raise StagingError(
            413, "Too many bytes",
            gettext("%(name)s: %(sent)s bytes sent but only %(remaining)s of %(length)s remain.",
                    name=upload.filename, sent=content_length, remaining=remaining, length=upload.length),
        )
    if remaining == 0:
        finish(upload, storage)
        return upload

    sniffing = upload.content_type is None
    try:
        head = _stored_head(upload, storage) if sniffing and upload.offset else bytearray()
    except (FileNotFoundError, StorageUnavailable) as exc:
        raise _unavailable(upload, exc) from exc
    target = _head_target(upload)
    detected: str | None = None
    received = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        while received < remaining:
            try:
                block = stream.read(min(READ_BLOCK, remaining - received + 1))
            except (ClientDisconnected, OSError):
                log.info("staged upload %s: client disconnected after %d byte(s) of this PATCH", upload.id, received)
                break
            if not block:
                break
            if received + len(block) > remaining:
                raise StagingError(
                    413, "Too many bytes",
                    gettext("%(name)s: more bytes sent than the %(remaining)s of %(length)s that remain.",
                            name=upload.filename, remaining=remaining, length=upload.length),
                )
            spool.write(block)
            received += len(block)
            if sniffing and detected is None:
                head += block[: max(0, target - len(head))]
                if len(head) >= target:
                    detected = uploads.detect_type(bytes(head[: uploads.HEAD_BYTES]))
                    if detected is None:
                        _refuse_type(upload, storage)
        if received == 0:
            return upload
        spool.seek(0)
        key = _part_key(upload.id, len(upload.parts or []) + 1)
        try:
            stored = storage.put(key, spool, content_type=PART_CONTENT_TYPE, filename=upload.filename)
        except StorageUnavailable as exc:
            raise _unavailable(upload, exc) from exc
    values: dict[str, object] = {
        "offset": upload.offset + stored.size,
        "parts": [*(upload.parts or []), {"key": key, "size": stored.size}],
    }
    if detected is not None:
        values["content_type"] = detected
    # Conditional on the offset we started from: of two racing PATCHes only one counts.
    claimed = db.session.execute(
        update(StagedUpload)
        .where(StagedUpload.id == upload.id, StagedUpload.offset == upload.offset)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        _delete_quietly(storage, [key])
        db.session.refresh(upload)
        raise StagingError(
            409, "Offset mismatch",
            gettext("%(name)s: another request moved the upload to byte %(offset)s; resume from there.",
                    name=upload.filename, offset=upload.offset),
        )
    db.session.refresh(upload)
    if upload.offset == upload.length:
        finish(upload, storage)
    return upload


def _refuse_type(upload: StagedUpload, storage: Storage) -> None:
    _refuse(upload, storage, 415, "File type not accepted", uploads.type_problem(upload.filename).message)


def _refuse(upload: StagedUpload, storage: Storage, status: int, title: str, message: str) -> None:
    try:
        delete(upload, storage)
    except StagingError:
        log.error("refused staged upload %s could not be deleted now; cleanup will", upload.id)
    raise StagingError(status, title, message)


def _unavailable(upload: StagedUpload, exc: BaseException) -> StagingError:
    log.warning("staged upload %s: store unavailable: %s", upload.id, exc)
    return StagingError(
        503, "Storage unavailable",
        gettext("%(name)s: the file could not be stored just now; try again in a moment "
                "(nothing received is lost).", name=upload.filename),
    )


def finish(upload: StagedUpload, storage: Storage) -> StagedUpload:
    """Concatenate the parts into ``uploads/<id>/file``, record size, SHA-256 and type,
    then delete the parts. Idempotent; a store failure leaves the parts for a retry."""
    if upload.complete or upload.offset != upload.length:
        return upload
    key = file_key(upload.id)
    refused: uploads.FileProblem | None = None
    try:
        with tempfile.TemporaryFile() as joined:
            for part in upload.parts or []:
                with storage.open(part["key"]) as source:
                    shutil.copyfileobj(source, joined, COPY_BLOCK)
            joined.seek(0)
            # The intake's look inside (an unreadable PDF, a decompression bomb), now that it is whole.
            checked = uploads.check_content(upload.filename, joined, upload.content_type or "")
            if isinstance(checked, uploads.FileProblem):
                refused = checked
            else:
                upload.active_content = checked
                stored = storage.put(
                    key, joined, content_type=upload.content_type or PART_CONTENT_TYPE, filename=upload.filename
                )
    except (FileNotFoundError, StorageUnavailable, OSError) as exc:
        raise _unavailable(upload, exc) from exc
    if refused is not None:
        _refuse(upload, storage, 422, "File not accepted", refused.message)
    if stored.size != upload.length:  # a part lost or truncated in the store: start again
        _delete_quietly(storage, [key])
        raise StagingError(
            500, "Upload corrupted",
            gettext("%(name)s: the stored bytes do not add up; upload the file again.", name=upload.filename),
        )
    parts = [part["key"] for part in upload.parts or []]
    upload.sha256 = stored.sha256
    upload.completed_at = _now()
    upload.parts = []
    db.session.commit()
    _delete_quietly(storage, parts)
    log.info("staged upload %s complete (%d bytes, %s)", upload.id, upload.length, upload.content_type)
    return upload


# -- removal -----------------------------------------------------------------


def delete(upload: StagedUpload, storage: Storage) -> None:
    """Remove the upload and every object it has in the store (the patient removed the file)."""
    try:
        for key in _keys(upload):
            storage.delete(key)
    except StorageUnavailable as exc:
        raise _unavailable(upload, exc) from exc
    upload_id = upload.id
    db.session.delete(upload)
    db.session.commit()
    log.info("staged upload %s deleted", upload_id)


def _delete_quietly(storage: Storage, keys: Iterable[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except StorageUnavailable:
            log.error("could not delete staged object %s", key)


@dataclass
class CleanupReport:
    removed: list[str]
    kept: list[str]


def cleanup(storage: Storage, *, now: datetime | None = None) -> CleanupReport:
    """Delete every expired upload (not attached to a submitted request within ``UPLOAD_TTL``)
    and its objects. An upload whose objects cannot be deleted now is kept for the next run."""
    now = now or _now()
    report = CleanupReport(removed=[], kept=[])
    expired = list(db.session.scalars(select(StagedUpload).where(StagedUpload.expires_at <= now)))
    for upload in expired:
        try:
            for key in _keys(upload):
                storage.delete(key)
        except StorageUnavailable as exc:
            log.warning("expired staged upload %s kept for now, store unavailable: %s", upload.id, exc)
            report.kept.append(upload.id)
            continue
        db.session.delete(upload)
        report.removed.append(upload.id)
        log.info(
            "expired staged upload %s removed (%d of %d bytes, created %s)",
            upload.id, upload.offset, upload.length, upload.created_at.isoformat(),
        )
    db.session.commit()
    if report.removed or report.kept:
        log.info("staged uploads cleanup: %d removed, %d kept", len(report.removed), len(report.kept))
    return report


# -- attaching at submission -------------------------------------------------


def claim(owner: str | None, upload_ids: Iterable[str], storage: Storage) -> tuple[list[StagedUpload], list[str]]:
    """The owner's completed uploads named by the form, and a message for each id that
    cannot be attached (unknown, expired, someone else's, or not finished)."""
    found: list[StagedUpload] = []
    problems: list[str] = []
    seen: set[str] = set()
    for upload_id in upload_ids:
        if upload_id in seen:
            continue
        seen.add(upload_id)
        upload = find(owner, upload_id)
        if upload is None:
            problems.append(gettext(
                "A file you uploaded earlier is no longer available (uploads are kept for 24 hours); "
                "pick it again."
            ))
            continue
        if not upload.complete and upload.offset == upload.length:
            try:
                finish(upload, storage)
            except StagingError:
                pass
        if not upload.complete:
            problems.append(gettext(
                "%(name)s: the upload did not finish (%(received)s of %(size)s); pick the file again.",
                name=upload.filename, received=i18n.format_size(upload.offset), size=i18n.format_size(upload.length),
            ))
            continue
        found.append(upload)
    return found, problems


def open_for_attach(staged: list[StagedUpload], storage: Storage) -> list[IncomingFile]:
    """Each completed upload as an ``IncomingFile`` whose stream is seekable (a temporary
    file the store's object was streamed into), ready for the intake's puts. Raises
    ``StorageUnavailable`` if an object cannot be read; the caller closes the streams."""
    opened: list[IncomingFile] = []
    try:
        for upload in staged:
            spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close_all)
            opened.append(IncomingFile(
                upload.filename, spool, upload.length, upload.content_type or "", active_content=upload.active_content
            ))
            try:
                with storage.open(file_key(upload.id)) as source:
                    shutil.copyfileobj(source, spool, COPY_BLOCK)
            except (FileNotFoundError, OSError) as exc:
                raise StorageUnavailable(f"staged upload {upload.id} cannot be read: {exc}") from exc
            spool.seek(0)
    except BaseException:
        close_all(opened)
        raise
    return opened


def close_all(files: Iterable[IncomingFile]) -> None:
    for incoming in files:
        try:
            incoming.stream.close()
        except OSError:
            pass


def forget(staged: list[StagedUpload]) -> None:
    """Delete the rows in the current transaction (they commit with the attachments)."""
    for upload in staged:
        db.session.delete(upload)


def remove_objects(staged: list[StagedUpload], storage: Storage) -> None:
    """After the attachments committed: the staged objects are no longer needed."""
    _delete_quietly(storage, [file_key(upload.id) for upload in staged])


def describe(staged: list[StagedUpload]) -> list[dict[str, object]]:
    """What the form page shows of uploads kept across a failed submission."""
    return [
        {"id": u.id, "filename": u.filename, "size": u.length, "size_label": i18n.format_size(u.length),
         "sha256": u.sha256 or ""}
        for u in staged
    ]
