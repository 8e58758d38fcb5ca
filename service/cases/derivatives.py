"""Previews and de-identified copies of the patients' files, made by a worker once per
file and stored beside the untouched original (`DerivedFile` rows).

Who gets what:
- staff: always the byte-identical original, and every preview;
- a clinic, before staff release the patient's contact details to it: only the clean
  copy (`Purpose.CLINIC_COPY`). A file whose copy could not be made is withheld from the
  clinic with the reason shown to staff: never served as the original instead;
- a clinic after release: the original too, each download on the timeline.

The files themselves are read by `service.files`; this module fetches, stores and
records."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from sqlalchemy import select

from service.cases import events
from service.extensions import db
from service.files import derive as readers
from service.files.results import BURNED_IN, CleanCopy, CopyFailed, Disc, NotPreviewable, Preview
from service.files.studies import DiscRefused
from service.models import Attachment, Case, DerivedFile, Document, Referral
from service.models.derived import Purpose, State
from service.outbox import Job, record
from storage import Storage, StorageUnavailable

log = logging.getLogger(__name__)

# What the clinic is told in place of a file it cannot have yet.
PREPARING: Final = "its de-identified copy is being prepared; ready within minutes"
WITHHELD: Final = "withheld: no de-identified copy could be made; ask the coordinator"
# Staff's words for the flags a copy may carry.
FLAG_LABELS: Final[dict[str, str]] = {
    BURNED_IN: "Burned-in annotation may remain: the pixels themselves may show the patient's name; "
               "look at the images before relying on the clinic's copy being anonymous",
}
# Extensions of the types a copy may be in, for the name a clinic downloads it under.
_EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/tiff": ".tif",
    "application/pdf": ".pdf", "application/dicom": ".dcm", "application/zip": ".zip",
}
# Other spellings of the same extension: a "scan.jpeg" that stays a JPEG keeps its name.
_EXTENSION_ALIASES: Final[dict[str, str]] = {".jpeg": ".jpg", ".tiff": ".tif"}
# Originals are spooled to disk past this, so a worker holds at most this much of one in memory.
_SPOOL_BYTES: Final = 1024 * 1024


def uid_salt(secret: str, case_id: int) -> bytes:
    """The case's key for remapping DICOM UIDs: the same original UID gets the same new
    one in every file of the case (series stay together), a different one in another
    case, and nobody without the secret can map a copy's UID back."""
    return hmac.new(secret.encode(), f"dicom-uids:{case_id}".encode(), hashlib.sha256).digest()


def derived_key(case_id: int) -> str:
    return f"cases/{case_id}/derived/{uuid.uuid4()}"


def schedule(attachments: Iterable[Attachment]) -> None:
    """Record the work for files just stored (their rows flushed): one job per file."""
    for attachment in attachments:
        record(Job.DERIVE_FILE, case_id=attachment.case_id, attachment_id=attachment.id)


def schedule_missing(session: Any) -> int:
    """Record the work for every file of a case not erased that has no clinic copy yet
    (files stored before previews existed); returns how many."""
    done = select(DerivedFile.attachment_id).where(DerivedFile.purpose == Purpose.CLINIC_COPY)
    pending = list(session.scalars(
        select(Attachment).join(Case).where(Case.erased_at.is_(None), Attachment.id.not_in(done))
        .order_by(Attachment.id)
    ))
    schedule(pending)
    return len(pending)


# ---------------------------------------------------------------- making them


@contextmanager
def _original(storage: Storage, key: str) -> Iterator[BinaryIO]:
    """The original as a seekable local file (an S3 body is a one-way stream)."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    try:
        with storage.open(key) as stream:
            shutil.copyfileobj(stream, spool, 256 * 1024)
        spool.seek(0)
        yield spool
    finally:
        spool.close()


def _put(storage: Storage, case_id: int, stream: BinaryIO, content_type: str, name: str) -> tuple[str, int, str]:
    stream.seek(0)
    stored = storage.put(derived_key(case_id), stream, content_type=content_type, filename=name)
    return stored.key, stored.size, stored.sha256


@dataclass
class _Made:
    rows: list[DerivedFile] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # objects written, deleted again if the job fails


def _row(attachment: Attachment, purpose: Purpose, part: str = "", **values: Any) -> DerivedFile:
    return DerivedFile(attachment_id=attachment.id, purpose=purpose, part=part, **values)


def _preview_row(attachment: Attachment, purpose: Purpose, part: str, preview: Preview | None,
                 problem: str | None, storage: Storage, made: _Made, **details: Any) -> DerivedFile:
    if preview is None:
        return _row(attachment, purpose, part, state=State.FAILED, reason=problem or "no preview", details=details)
    key, size, digest = _put(storage, attachment.case_id, _bytes_stream(preview.data), preview.content_type,
                             "preview.jpg")
    made.keys.append(key)
    return _row(attachment, purpose, part, state=State.READY, storage_key=key, content_type=preview.content_type,
                size=size, sha256=digest, details={"width": preview.width, "height": preview.height, **details})


def _bytes_stream(data: bytes) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    spool.write(data)
    spool.seek(0)
    return spool


def _preview(attachment: Attachment, original: BinaryIO, storage: Storage, made: _Made) -> None:
    original.seek(0)
    try:
        preview, problem = readers.preview(original, attachment.content_type), None
    except NotPreviewable as exc:
        preview, problem = None, str(exc)
    except Exception as exc:  # untrusted input: a reader's own failure is "no preview", not a lost job
        log.warning("attachment %s: preview failed: %r", attachment.id, exc)
        preview, problem = None, "the file could not be read"
    made.rows.append(_preview_row(attachment, Purpose.PREVIEW, "", preview, problem, storage, made))


def _disc(attachment: Attachment, original: BinaryIO, storage: Storage, made: _Made) -> str | None:
    """The disc's summary and series previews; the reason when the disc is refused."""
    original.seek(0)
    try:
        disc = readers.disc(original)
    except DiscRefused as exc:
        made.rows.append(_row(attachment, Purpose.DISC, state=State.FAILED, reason=str(exc)))
        return str(exc)
    if disc is None:
        return "not a disc"
    made.rows.append(_row(attachment, Purpose.DISC, state=State.READY, details=disc_details(disc)))
    for study in disc.studies:
        for series in study.series:
            made.rows.append(_preview_row(
                attachment, Purpose.SERIES_PREVIEW, series.key, series.preview, series.problem, storage, made,
                caption=series_caption(series.modality, series.description, series.number, series.images),
            ))
    return None


def disc_details(disc: Disc) -> dict[str, Any]:
    """A disc as stored (JSON): what staff, clinics and the dossier list."""
    return {
        "dicom_files": disc.dicom_files,
        "ignored": [list(item) for item in disc.ignored],
        "studies": [
            {
                "label": study.label,
                "description": study.description,
                "series": [series.key for series in study.series],
            }
            for study in disc.studies
        ],
    }


def series_caption(modality: str, description: str, number: int | None, images: int) -> str:
    """"Series 2 · CT · Chest 1.25 mm · 20 images"."""
    parts = [f"Series {number}" if number is not None else "Series", modality or "DICOM"]
    if description:
        parts.append(description)
    parts.append(f"{images} image" + ("" if images == 1 else "s"))
    return " · ".join(parts)


def _copy(attachment: Attachment, original: BinaryIO, storage: Storage, made: _Made, *, secret: str,
          refused: str | None) -> None:
    original.seek(0)
    copy: CleanCopy | None = None
    try:
        if refused is not None:
            raise CopyFailed(refused)
        copy = readers.clean_copy(original, attachment.content_type, uid_salt=uid_salt(secret, attachment.case_id),
                                  reference=attachment.case.reference)
    except CopyFailed as exc:
        reason = str(exc)
    except Exception as exc:  # untrusted input: no copy means withheld, never the original
        log.warning("attachment %s: clean copy failed: %r", attachment.id, exc)
        reason = "the file could not be read"
    if copy is None:
        made.rows.append(_row(attachment, Purpose.CLINIC_COPY, state=State.FAILED, reason=reason))
        events.record_event(attachment.case, events.Actor.SYSTEM, events.EventKind.FILE_WITHHELD,
                            file=attachment.filename, reason=reason, attachment_id=attachment.id)
        return
    with copy.stream:
        key, size, digest = _put(storage, attachment.case_id, copy.stream, copy.content_type,
                                 copy_filename(attachment.filename, copy.content_type))
    made.keys.append(key)
    made.rows.append(_row(
        attachment, Purpose.CLINIC_COPY, state=State.READY, storage_key=key, content_type=copy.content_type,
        size=size, sha256=digest, removed=list(copy.removed), flags=list(copy.flags), tool=copy.tool[:120],
    ))


def derive(attachment: Attachment, storage: Storage, *, secret: str) -> bool:
    """Make the file's preview(s) and clinic copy, once: a file that has them is left
    alone (False). A storage outage propagates (the job is retried) after deleting what
    this run wrote; a file the readers cannot handle gets rows saying why."""
    if any(d.purpose == Purpose.CLINIC_COPY for d in attachment.derived):
        return False
    made = _Made()
    try:
        with _original(storage, attachment.storage_key) as original:
            digest = _sha256(original)
            if digest != attachment.sha256:
                refused: str | None = "the stored file does not match its SHA-256"
                made.rows.append(_row(attachment, Purpose.PREVIEW, state=State.FAILED, reason=refused))
            else:
                refused = None
                if attachment.content_type == readers.ZIP:
                    refused = _disc(attachment, original, storage, made)
                else:
                    _preview(attachment, original, storage, made)
            _copy(attachment, original, storage, made, secret=secret, refused=refused)
    except (StorageUnavailable, FileNotFoundError):
        _forget(storage, made.keys)
        raise
    db.session.add_all(made.rows)
    attachment.derived.extend(made.rows)
    _refresh_dossiers(attachment.case)
    log.info("attachment %s of case %s: %s", attachment.id, attachment.case.reference,
             ", ".join(f"{row.purpose}{':' + row.part if row.part else ''} {row.state}" for row in made.rows))
    return True


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(256 * 1024):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _forget(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except StorageUnavailable:
            log.error("could not delete derived object %s", key)


def _refresh_dossiers(case: Case) -> None:
    """Dossiers already rendered show the new preview and link once rendered again; one
    not rendered yet will find them."""
    rendered = db.session.scalars(
        select(Referral.id).join(Document, Document.referral_id == Referral.id)
        .where(Referral.case_id == case.id, Document.case_id == case.id)
    )
    for referral_id in rendered:
        record(Job.RENDER_DOSSIER, case_id=case.id, referral_id=referral_id)


def copy_filename(filename: str, content_type: str) -> str:
    """The name a copy is downloaded under: the original's, with the copy's extension
    when its type changed (an iPhone's HEIC photo becomes a JPEG)."""
    stem, ext = os.path.splitext(filename)
    wanted = _EXTENSIONS.get(content_type)
    if wanted is None or _EXTENSION_ALIASES.get(ext.lower(), ext.lower()) == wanted:
        return filename
    return (stem or "file") + wanted


# ---------------------------------------------------------------- reading them


def _by_purpose(rows: Iterable[DerivedFile]) -> dict[tuple[str, str], DerivedFile]:
    return {(d.purpose, d.part): d for d in rows}


@dataclass(frozen=True)
class SeriesView:
    key: str
    caption: str
    preview: DerivedFile | None   # ready preview row, or None
    problem: str | None


@dataclass(frozen=True)
class StudyView:
    label: str                    # "CT · 2024-03-02 · 2 series · 40 images"
    series: tuple[SeriesView, ...]


@dataclass(frozen=True)
class FileView:
    """One file as staff and clinics see it beside its name."""

    attachment: Attachment
    preview: DerivedFile | None          # ready preview, or None
    preview_problem: str | None          # why there is none (None while pending)
    copy: DerivedFile | None             # the clinic copy's row, ready or failed; None while pending
    studies: tuple[StudyView, ...] = ()
    ignored: tuple[tuple[str, str], ...] = ()
    disc_problem: str | None = None

    @property
    def pending(self) -> bool:
        return self.copy is None

    @property
    def copy_ready(self) -> bool:
        return self.copy is not None and self.copy.ready

    @property
    def withheld(self) -> str | None:
        """Why clinics cannot have this file (staff's words), or None."""
        if self.copy is not None and not self.copy.ready:
            return self.copy.reason or "no de-identified copy could be made"
        return None

    @property
    def flags(self) -> list[str]:
        return [FLAG_LABELS.get(flag, flag) for flag in (self.copy.flags if self.copy is not None else [])]

    @property
    def clinic_note(self) -> str | None:
        """What a clinic reads in place of a download it cannot have."""
        if self.copy is None:
            return PREPARING
        return None if self.copy.ready else WITHHELD


def file_view(attachment: Attachment, derived: Iterable[DerivedFile] | None = None) -> FileView:
    """The file as shown, from its derived rows (``derived``: already loaded, else its own)."""
    rows = _by_purpose(attachment.derived if derived is None else derived)
    preview = rows.get((Purpose.PREVIEW, ""))
    disc = rows.get((Purpose.DISC, ""))
    studies: list[StudyView] = []
    if disc is not None and disc.state == State.READY:
        for study in disc.details.get("studies", []):
            series = []
            for key in study.get("series", []):
                row = rows.get((Purpose.SERIES_PREVIEW, key))
                series.append(SeriesView(
                    key=key,
                    caption=(row.details.get("caption") if row is not None else None) or f"Series {key}",
                    preview=row if row is not None and row.ready else None,
                    problem=row.reason if row is not None and not row.ready else None,
                ))
            studies.append(StudyView(study.get("label", "DICOM"), tuple(series)))
    return FileView(
        attachment=attachment,
        preview=preview if preview is not None and preview.ready else None,
        preview_problem=preview.reason if preview is not None and not preview.ready else None,
        copy=rows.get((Purpose.CLINIC_COPY, "")),
        studies=tuple(studies),
        ignored=tuple(tuple(item) for item in disc.details.get("ignored", [])) if disc is not None else (),
        disc_problem=disc.reason if disc is not None and disc.state == State.FAILED else None,
    )


def file_views(attachments: Iterable[Attachment]) -> dict[int, FileView]:
    """Every file's view by attachment id, with one query for all their derived rows."""
    attachments = list(attachments)
    grouped: dict[int, list[DerivedFile]] = {a.id: [] for a in attachments}
    if attachments:
        for row in db.session.scalars(
            select(DerivedFile).where(DerivedFile.attachment_id.in_(grouped)).order_by(DerivedFile.id)
        ):
            grouped[row.attachment_id].append(row)
    return {a.id: file_view(a, grouped[a.id]) for a in attachments}


def preview_of(attachment: Attachment, derived_id: int) -> DerivedFile | None:
    """A ready preview (of the file or of one of its series) by its row id."""
    for row in attachment.derived:
        if row.id == derived_id and row.purpose in (Purpose.PREVIEW, Purpose.SERIES_PREVIEW) and row.ready:
            return row
    return None


# ---------------------------------------------------------------- clinics


class Withheld(Exception):
    """The clinic cannot have this file (yet); ``str(exc)`` is what it is told."""


@dataclass(frozen=True)
class Download:
    key: str
    filename: str          # the name to show, as the caller redacted it (extension of the copy)
    content_type: str


def clinic_download(attachment: Attachment, referral: Referral, shown_name: str, *, original: bool,
                    actor: str) -> Download:
    """What a clinic downloads: the clean copy, or, once the patient's contact details
    are released to this clinic and it asks for it, the original (on the timeline)."""
    if original:
        if referral.contact_released_at is None:
            raise Withheld("the original is available once the coordinator releases the patient's details to you")
        events.record_event(referral.case, actor, events.EventKind.ORIGINAL_DOWNLOADED, file=attachment.filename,
                            referral_id=referral.id, clinic_name=referral.clinic.name)
        return Download(attachment.storage_key, shown_name, attachment.content_type)
    view = file_view(attachment)
    if view.copy is None:
        raise Withheld(f"This file is not ready yet: {PREPARING}.")
    if not view.copy.ready or view.copy.storage_key is None:
        raise Withheld("This file is " + WITHHELD + ".")
    return Download(view.copy.storage_key, copy_filename(shown_name, view.copy.content_type or ""),
                    view.copy.content_type or "application/octet-stream")


@dataclass(frozen=True)
class ClinicFile:
    """A file as the clinic's dossier holds it, shaped like `Attachment` (what
    `service.paperwork.dossier_content` reads): the clean copy's key, type, size and
    hash, and the preview(s) the dossier shows."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str                    # the clean copy's; "" when withheld or pending
    active_content: bool
    withheld: str | None                # what the dossier says instead of a link
    preview_key: str = ""
    preview_sha256: str = ""
    studies: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = ()
    """(study label, ((series caption, preview key, preview sha256), ...)) per study."""


def clinic_files(attachments: Iterable[Attachment]) -> list[ClinicFile]:
    attachments = list(attachments)
    views = file_views(attachments)
    files = []
    for attachment in attachments:
        view = views[attachment.id]
        copy = view.copy if view.copy_ready else None
        files.append(ClinicFile(
            id=attachment.id,
            filename=copy_filename(attachment.filename, copy.content_type) if copy is not None else attachment.filename,
            content_type=copy.content_type if copy is not None else attachment.content_type,
            size=copy.size if copy is not None else attachment.size,
            sha256=copy.sha256 if copy is not None else attachment.sha256,
            storage_key=copy.storage_key if copy is not None else "",
            active_content=attachment.active_content,
            withheld=view.clinic_note,
            preview_key=view.preview.storage_key if view.preview is not None and copy is not None else "",
            preview_sha256=view.preview.sha256 if view.preview is not None and copy is not None else "",
            studies=tuple(
                (study.label, tuple(
                    (series.caption, series.preview.storage_key, series.preview.sha256)
                    for series in study.series if series.preview is not None
                ))
                for study in view.studies
            ) if copy is not None else (),
        ))
    return files

