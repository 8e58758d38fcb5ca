"""Deciding whether an uploaded file is acceptable: type from its bytes (never its
name or the browser's word), size, and a display name safe to show and store."""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

import filetype

from service import i18n, limits
from service.i18n import gettext, ngettext

HEAD_BYTES = 8192  # enough for every magic number we check, DICOM's at offset 128 included
MAX_NAME_CHARS = 200

# ISO-BMFF brands of HEIF/HEIC stills; filetype only knows "heic" itself.
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}


class Problem(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TYPE = "type"
    COUNT = "count"


@dataclass(frozen=True)
class FileProblem:
    filename: str
    problem: Problem
    message: str


@dataclass
class IncomingFile:
    """A file that passed every check and is ready to be stored."""

    filename: str
    stream: BinaryIO
    size: int
    content_type: str


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < limits.MIB:
        return f"{size / 1024:.0f} KB"
    return f"{size / limits.MIB:.1f} MB".replace(".0 MB", " MB")


def _heif_type(head: bytes) -> str | None:
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    brands = {major} | compatible
    if b"avif" in brands or b"avis" in brands:
        return None
    if brands & _HEIC_BRANDS:
        return "image/heic"
    if major in _HEIF_BRANDS:
        return "image/heif"
    return None


def detect_type(head: bytes) -> str | None:
    """The accepted MIME type these leading bytes prove, or None."""
    heif = _heif_type(head)
    if heif:
        return heif
    kind = filetype.guess(head)
    if kind is None:
        return None
    return kind.mime if kind.mime in limits.ACCEPTED_TYPES else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_filename(raw: str | None) -> str:
    """Keep the patient's Unicode name ("МРТ колена.pdf") but drop path parts,
    control and bidi-override characters, and bound its length."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(
        ch for ch in name if not _CONTROL.match(ch) and unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: MAX_NAME_CHARS - len(ext)].rstrip(" .") + ext
    return name or "file"


def _stream_size(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def empty_problem(name: str) -> FileProblem:
    return FileProblem(name, Problem.EMPTY, gettext("%(name)s: the file is empty (0 bytes).", name=name))


def size_problem(name: str, size: int, max_bytes: int) -> FileProblem | None:
    """Refuse a file of ``size`` bytes over the per-file limit (also before any byte is sent)."""
    if size <= max_bytes:
        return None
    shown = i18n.format_size(size)
    if human_size(size) == human_size(max_bytes):
        shown = ngettext(
            "just over %(size)s (%(bytes)s byte)", "just over %(size)s (%(bytes)s bytes)", size,
            size=shown, bytes=i18n.format_integer(size),
        )
    return FileProblem(
        name,
        Problem.TOO_LARGE,
        gettext("%(name)s: the file is %(size)s; the limit is %(limit)s per file.",
                name=name, size=shown, limit=i18n.format_size(max_bytes)),
    )


def type_problem(name: str) -> FileProblem:
    return FileProblem(
        name,
        Problem.TYPE,
        gettext("%(name)s: this type is not accepted; use %(types)s.", name=name, types=limits.accepted_labels()),
    )


def inspect(raw_name: str | None, stream: BinaryIO, max_bytes: int) -> IncomingFile | FileProblem:
    """Check one uploaded file. The stream must be seekable (Werkzeug spools to disk).
    The messages are in the page's language (English for the API)."""
    name = safe_filename(raw_name)
    size = _stream_size(stream)
    if size == 0:
        return empty_problem(name)
    too_large = size_problem(name, size, max_bytes)
    if too_large:
        return too_large
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    content_type = detect_type(head)
    if content_type is None:
        return type_problem(name)
    return IncomingFile(filename=name, stream=stream, size=size, content_type=content_type)


def count_problem(picked: int, already: int, max_files: int) -> FileProblem | None:
    """Refuse a batch that would take the case past the file limit."""
    left = max_files - already
    if picked <= left:
        return None
    if already:
        message = ngettext(
            "You picked %(num)d file but only %(left)d of %(max)d can still be added "
            "(%(already)d already attached).",
            "You picked %(num)d files but only %(left)d of %(max)d can still be added "
            "(%(already)d already attached).",
            picked, left=left, max=max_files, already=already,
        )
    else:
        message = ngettext(
            "You picked %(num)d file; at most %(max)d files can be attached.",
            "You picked %(num)d files; at most %(max)d files can be attached.",
            picked, max=max_files,
        )
    return FileProblem("", Problem.COUNT, message)
