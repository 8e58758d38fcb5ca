"""A ZIP of a CT or MRI disc's content: checked at intake, expanded by a worker within
hard limits, grouped by study and series, de-identified member by member.

Discs carry a DICOMDIR, the DICOM files in folders often named after the patient, and a
viewer (programs, an autorun.inf). Only members whose bytes say DICOM (the ``DICM``
preamble at offset 128, never the name) are kept; everything else is listed as ignored.

A ZIP's declared sizes can lie and a 10 MB ZIP can expand to gigabytes, so every limit
of `service.limits` (``DISC_*``) is checked on the central directory first and enforced
again on the bytes actually expanded, which go to bounded spooled temporary files, one
member at a time: memory stays bounded whatever the archive claims.
"""
from __future__ import annotations

import io
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import BinaryIO, Final

from service import limits
from service.files import dicom
from service.files.results import CleanCopy, CopyFailed, Disc, NotPreviewable, Preview, SeriesSummary, StudySummary

# The DICM magic number sits at 128; 132 bytes prove a DICOM file. More is read to tell a
# DICOMDIR (its file meta) and programs and archives (tar's magic is at 257) apart.
DICOM_HEAD: Final = 132
_HEAD: Final = 512
# What grouping a disc expands of each member: its header, ending where the pixel data
# starts (PixelData's tag, little or big endian); a member whose header is longer, or
# deflated, is expanded whole.
_SURVEY_BYTES: Final = 64 * 1024
_SURVEY_STEP: Final = 4096
_PIXEL_DATA_TAGS: Final = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")
_CHUNK: Final = 64 * 1024
# A member up to this size is expanded in memory; larger ones spill to a temporary file.
_SPOOL_BYTES: Final = 2 * 1024 * 1024
_COPY_SPOOL_BYTES: Final = 16 * 1024 * 1024

_ARCHIVE_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b",
                         b"BZh", b"\xfd7zXZ\x00", b"MSCF", b"\x28\xb5\x2f\xfd")
_PROGRAM_MAGIC: Final = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                         b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
_DRIVE: Final = re.compile(r"^[A-Za-z]:")
# A DICOMDIR's file meta (always explicit VR little endian) names Media Storage Directory
# Storage in (0002,0002) in its first few hundred bytes: a ZIP of a DICOMDIR alone is not a
# disc's content.
_DIRECTORY_META: Final = b"\x02\x00\x02\x00UI\x14\x001.2.840.10008.1.3.10"

# Why a member was left out, as staff read it beside the disc.
SYMLINK: Final = "symbolic link"
ENCRYPTED: Final = "encrypted"
OUTSIDE: Final = "path outside the disc"
NESTED: Final = "archive inside the archive"
PROGRAM: Final = "program (a viewer's)"
AUTORUN: Final = "autorun file"
NOT_DICOM: Final = "not DICOM"
DICOMDIR: Final = "DICOMDIR (the disc's index)"
UNREADABLE: Final = "DICOM file that cannot be read"
DAMAGED: Final = "damaged in the ZIP"


class DiscProblem(StrEnum):
    """Why a ZIP is not taken as a disc; `service.uploads` words each for the patient."""

    NOT_ZIP = "not_zip"
    TOO_MANY_ENTRIES = "too_many_entries"
    TOO_LARGE = "too_large"
    RATIO = "ratio"
    ENCRYPTED = "encrypted"
    NO_DICOM = "no_dicom"


class DiscRefused(Exception):
    """A hard limit is crossed (or the ZIP cannot be read): nothing of it is used.
    ``str(exc)`` is the reason in English, for staff."""

    def __init__(self, problem: DiscProblem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem


def check(stream: BinaryIO) -> DiscProblem | None:
    """The intake's cheap look, for the web request: the central directory's declared
    counts, sizes and ratios, then the first bytes of members (``DICM`` at 128, the file
    meta's SOP class after it) until one is a DICOM file other than a DICOMDIR. Nothing
    is expanded beyond those 512 bytes a member."""
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            _check_declared(infos)
            encrypted = False
            for info in infos:
                reason = _refused_by_attributes(info)
                if reason == ENCRYPTED:
                    encrypted = True
                if reason is not None:
                    continue
                try:
                    with archive.open(info) as member:
                        head = member.read(_HEAD)
                except Exception:  # untrusted input: a damaged member is not DICOM
                    continue
                if dicom.is_dicom(head) and _DIRECTORY_META not in head:
                    return None
            return DiscProblem.ENCRYPTED if encrypted else DiscProblem.NO_DICOM
    except DiscRefused as refused:
        return refused.problem
    except Exception:  # untrusted input: zipfile raises BadZipFile, but also OSError, ValueError...
        return DiscProblem.NOT_ZIP
    finally:
        stream.seek(0)


@dataclass
class _Member:
    """A DICOM member as the first pass found it."""

    position: int
    path: str
    facts: dicom.DicomFacts


@dataclass
class _Series:
    uid: str
    members: list[_Member] = field(default_factory=list)


@dataclass
class _Study:
    uid: str
    series: dict[str, _Series] = field(default_factory=dict)


def read_disc(stream: BinaryIO) -> Disc:
    """The disc's studies (each series with one windowed preview of its middle image by
    InstanceNumber) and the members left out with why. Raises `DiscRefused` when a limit
    is crossed, on the central directory or on the bytes actually expanded."""
    with _opened(stream) as archive:
        studies, ignored = _survey(archive)
        summaries = tuple(
            _study_summary(archive, number, study) for number, study in enumerate(studies, start=1)
        )
    return Disc(studies=summaries, ignored=tuple(ignored), dicom_files=sum(s.images for s in summaries))


def clean_copy(stream: BinaryIO, *, uid_salt: bytes, reference: str) -> CleanCopy:
    """A new ZIP of the disc for clinics: each DICOM member de-identified by
    `dicom.clean_copy` (the case's ``uid_salt``: the same UIDs map to the same new ones
    across the study), renamed ``S01/I0001.dcm`` (series in disc order, images by
    InstanceNumber: folder names on discs often carry the patient's name); ignored
    members and the DICOMDIR left out. Raises `CopyFailed` if no member can be copied."""
    out = tempfile.SpooledTemporaryFile(max_size=_COPY_SPOOL_BYTES)
    try:
        with _opened(stream) as archive:
            copied, failed, ignored, removed, flags, tools = _copy_members(archive, out, uid_salt, reference)
    except DiscRefused as refused:
        out.close()
        raise CopyFailed(str(refused)) from refused
    except BaseException:
        out.close()
        raise
    if not copied:
        out.close()
        raise CopyFailed("no DICOM file of the disc could be de-identified" if failed
                         else "the ZIP holds no DICOM file")
    removed[f"ignored members: {ignored}"] = None
    if failed:
        removed[f"DICOM files that could not be de-identified: {failed}"] = None
    out.seek(0)
    return CleanCopy(stream=out, content_type="application/zip", removed=tuple(removed),  # type: ignore[arg-type]
                     tool="; ".join(tools), flags=tuple(flags))


def _copy_members(archive: zipfile.ZipFile, out: BinaryIO, uid_salt: bytes, reference: str
                  ) -> tuple[int, int, int, dict[str, None], dict[str, None], dict[str, None]]:
    """Writes the de-identified members into ``out`` (a new ZIP); returns the counts
    copied, failed and ignored, and what was removed, flagged, and by which tool, in order."""
    studies, ignored = _survey(archive)
    removed: dict[str, None] = {}
    flags: dict[str, None] = {}
    tools: dict[str, None] = {}
    copied = failed = 0
    budget = _Budget()  # every member expanded counts against the disc's total
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        series_number = 0
        for study in studies:
            for series in _ordered_series(study):
                series_number += 1
                for image_number, member in enumerate(_ordered_members(series), start=1):
                    try:
                        with _expand(archive, archive.getinfo(member.path), budget) as original:
                            copy = dicom.clean_copy(original, uid_salt=uid_salt, reference=reference)
                    except (CopyFailed, _Damaged):
                        failed += 1
                        continue
                    try:
                        name = f"S{series_number:02d}/I{image_number:04d}.dcm"
                        with target.open(name, "w", force_zip64=True) as written:
                            shutil.copyfileobj(copy.stream, written, _CHUNK)
                    finally:
                        copy.stream.close()
                    copied += 1
                    removed.update(dict.fromkeys(copy.removed))
                    flags.update(dict.fromkeys(copy.flags))
                    tools[copy.tool] = None
    return copied, failed, len(ignored), removed, flags, tools


@contextmanager
def _opened(stream: BinaryIO) -> Iterator[zipfile.ZipFile]:
    """The archive, its declared limits checked; the stream is back at 0 after."""
    try:
        try:
            archive = zipfile.ZipFile(stream)
        except Exception as exc:  # untrusted input: whatever zipfile trips over
            raise DiscRefused(DiscProblem.NOT_ZIP, "the file is not a ZIP that can be read") from exc
        with archive:
            _check_declared(archive.infolist())
            yield archive
    finally:
        stream.seek(0)


def _check_declared(infos: list[zipfile.ZipInfo]) -> None:
    """The limits on what the central directory declares: refuse before expanding."""
    if len(infos) > limits.DISC_MAX_ENTRIES:
        raise DiscRefused(DiscProblem.TOO_MANY_ENTRIES,
                          f"the ZIP has {len(infos)} entries; at most {limits.DISC_MAX_ENTRIES} are read")
    total = sum(info.file_size for info in infos if not info.is_dir())
    if total > limits.DISC_MAX_UNCOMPRESSED_BYTES:
        raise DiscRefused(DiscProblem.TOO_LARGE, _too_large(total))
    for info in infos:
        if info.file_size > limits.DISC_RATIO_FROM_BYTES and info.file_size > limits.DISC_MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise DiscRefused(DiscProblem.RATIO, _ratio(info.filename))


def _too_large(size: int) -> str:
    return (f"the ZIP expands to more than {limits.DISC_MAX_UNCOMPRESSED_BYTES // limits.MIB} MiB"
            f" ({size} bytes or more)")


def _ratio(path: str) -> str:
    return (f"{path} expands more than {limits.DISC_MAX_RATIO} times its compressed size"
            " (a ZIP bomb, not a disc)")


def _refused_by_attributes(info: zipfile.ZipInfo) -> str | None:
    """Why a member is left out by its entry alone (``""`` for a folder), or None."""
    if info.is_dir():
        return ""
    if stat.S_ISLNK(info.external_attr >> 16):
        return SYMLINK
    if info.flag_bits & 0x1:
        return ENCRYPTED
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in name.split("/"):
        return OUTSIDE
    return None


def _kind(path: str, head: bytes) -> str | None:
    """Why a member is not DICOM, judged by its bytes (and autorun.inf by its name: it
    is text), or None when it is."""
    if dicom.is_dicom(head[:DICOM_HEAD]):
        return None
    if head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar":
        return NESTED
    if head.startswith(_PROGRAM_MAGIC):
        return PROGRAM
    if path.replace("\\", "/").rsplit("/", 1)[-1].lower() == "autorun.inf":
        return AUTORUN
    return NOT_DICOM


class _Damaged(Exception):
    """The member's bytes cannot be expanded (bad CRC, unknown method, truncated)."""


@dataclass
class _Budget:
    """Bytes actually expanded so far, across the whole disc."""

    total: int = 0

    def spend(self, count: int) -> None:
        self.total += count
        if self.total > limits.DISC_MAX_UNCOMPRESSED_BYTES:
            raise DiscRefused(DiscProblem.TOO_LARGE, _too_large(self.total))


def _expand(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget,
            head: bytes = b"", member: BinaryIO | None = None) -> tempfile.SpooledTemporaryFile[bytes]:
    """The member's bytes in a spooled temporary file at position 0, the limits enforced
    on every chunk actually expanded (``head``: bytes already read from ``member``)."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    opened = member is None
    try:
        source = archive.open(info) if member is None else member
        try:
            written = 0
            chunk = head
            while True:
                if chunk:
                    written += len(chunk)
                    budget.spend(len(chunk))
                    if written > limits.DISC_RATIO_FROM_BYTES and written > limits.DISC_MAX_RATIO * max(
                        info.compress_size, 1
                    ):
                        raise DiscRefused(DiscProblem.RATIO, _ratio(info.filename))
                    spool.write(chunk)
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
        finally:
            if opened:
                source.close()
    except DiscRefused:
        spool.close()
        raise
    except Exception as exc:  # untrusted input: bad CRC, truncated data, unknown compression
        spool.close()
        raise _Damaged(str(exc)) from exc
    spool.seek(0)
    return spool


def _read_head(member: BinaryIO) -> bytes:
    try:
        return member.read(_HEAD)
    except Exception as exc:  # untrusted input: bad CRC, truncated data, lying sizes
        raise _Damaged(str(exc)) from exc


def _header_facts(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, head: bytes,
                  member: BinaryIO) -> dicom.DicomFacts:
    """The member's facts from its first `_SURVEY_BYTES` expanded (a header is a few KiB;
    the pixels after it are not needed to group a disc), or, when the header runs past
    them, from the whole member expanded within the limits."""
    prefix = head
    try:
        # A little at a time: a header is a few KiB, and inflating is most of the cost.
        while len(prefix) < _SURVEY_BYTES and not any(tag in prefix for tag in _PIXEL_DATA_TAGS):
            more = member.read(_SURVEY_STEP)
            if not more:
                break
            prefix += more
    except Exception as exc:  # untrusted input: bad CRC, truncated data, lying sizes
        raise _Damaged(str(exc)) from exc
    if any(tag in prefix for tag in _PIXEL_DATA_TAGS):  # the whole header is in the prefix
        budget.spend(len(prefix))
        try:
            return dicom.facts(io.BytesIO(prefix))
        except Exception:  # untrusted input: a broken header; expand it all and look again
            budget.total -= len(prefix)
    with _expand(archive, info, budget, prefix, member) as spool:
        return dicom.facts(spool)


def _survey(archive: zipfile.ZipFile) -> tuple[list[_Study], list[tuple[str, str]]]:
    """One pass over the members: the DICOM ones grouped by study and series (in the
    order they first appear), the others listed with why they are left out."""
    studies: dict[str, _Study] = {}
    ignored: list[tuple[str, str]] = []
    budget = _Budget()
    for position, info in enumerate(archive.infolist()):
        reason = _refused_by_attributes(info)
        if reason == "":
            continue
        if reason is not None:
            ignored.append((info.filename, reason))
            continue
        try:
            with archive.open(info) as member:
                head = _read_head(member)
                reason = _kind(info.filename, head)
                if reason is not None:
                    ignored.append((info.filename, reason))
                    continue
                facts = _header_facts(archive, info, budget, head, member)
        except DiscRefused:
            raise
        except _Damaged:  # untrusted input: the member cannot be expanded
            ignored.append((info.filename, DAMAGED))
            continue
        except Exception:  # untrusted input: a DICM preamble over a broken dataset
            ignored.append((info.filename, UNREADABLE))
            continue
        if facts.is_directory:
            ignored.append((info.filename, DICOMDIR))
            continue
        study = studies.setdefault(facts.study_uid, _Study(facts.study_uid))
        series = study.series.setdefault(facts.series_uid, _Series(facts.series_uid))
        series.members.append(_Member(position, info.filename, facts))
    ordered = sorted(studies.values(), key=_study_order)
    return ordered, ignored


def _study_order(study: _Study) -> tuple[date, int]:
    first = min(member.position for series in study.series.values() for member in series.members)
    facts = next(iter(study.series.values())).members[0].facts
    return (facts.study_date or date.max, first)


def _ordered_series(study: _Study) -> list[_Series]:
    """By SeriesNumber (none last), then in the disc's order."""
    def key(series: _Series) -> tuple[bool, int, int]:
        number = series.members[0].facts.series_number
        return (number is None, number or 0, series.members[0].position)

    return sorted(study.series.values(), key=key)


def _ordered_members(series: _Series) -> list[_Member]:
    """By InstanceNumber (none last), then in the disc's order."""
    return sorted(series.members, key=lambda m: (m.facts.instance_number is None, m.facts.instance_number or 0,
                                                 m.position))


def _study_summary(archive: zipfile.ZipFile, number: int, study: _Study) -> StudySummary:
    series = tuple(
        _series_summary(archive, f"{number}.{index}", each)
        for index, each in enumerate(_ordered_series(study), start=1)
    )
    modalities = list(dict.fromkeys(s.modality for s in series if s.modality))
    first = next(iter(study.series.values())).members[0].facts
    return StudySummary(modality="/".join(modalities), date=first.study_date,
                        description=first.study_description or "", series=series)


def _series_summary(archive: zipfile.ZipFile, key: str, series: _Series) -> SeriesSummary:
    members = _ordered_members(series)
    middle = members[(len(members) - 1) // 2]
    preview: Preview | None = None
    problem: str | None = None
    try:
        with _expand(archive, archive.getinfo(middle.path), _Budget()) as spool:
            preview = dicom.preview(spool)
    except NotPreviewable as exc:
        problem = str(exc)
    except _Damaged:
        problem = "not previewable (the file is damaged in the ZIP)"
    facts = members[0].facts
    return SeriesSummary(key=key, modality=facts.modality or "", description=facts.series_description or "",
                         number=facts.series_number, images=len(members), preview=preview, problem=problem)

