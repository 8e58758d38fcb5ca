"""Deciding whether an uploaded file is acceptable: type from its bytes (never its
name or the browser's word), size, and a display name safe to show and store."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Final

import filetype
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from service import i18n, limits
from service.files import images, studies
from service.files import pdf_repair
from service.i18n import gettext, ngettext
from service.i18n import human_size

log = logging.getLogger(__name__)

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
    UNREADABLE = "unreadable"
    PIXELS = "pixels"
    DISC = "disc"
    DUPLICATE = "duplicate"


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
    # A PDF carrying scripts or launch actions: kept, but flagged to staff and never shown inline.
    active_content: bool = False


def accepted_labels() -> str:
    """'PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP' (HEIF is shown with HEIC), in the
    page's language."""
    labels = [label for label in limits.ACCEPTED_TYPES.values() if label != "HEIF"]
    return gettext("%(items)s or %(last)s", items=", ".join(labels[:-1]), last=labels[-1])


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
        gettext("%(name)s: this type is not accepted; use %(types)s.", name=name, types=accepted_labels()),
    )


def unreadable_pdf_problem(name: str) -> FileProblem:
    return FileProblem(
        name,
        Problem.UNREADABLE,
        gettext("%(name)s: this PDF cannot be read (it is damaged or incomplete); "
                "save or export it again and send the new file.", name=name),
    )


def locked_pdf_problem(name: str) -> FileProblem:
    return FileProblem(
        name,
        Problem.UNREADABLE,
        gettext("%(name)s: this PDF is locked with a password, so the clinics could not open it; "
                "save a copy without the password and send that.", name=name),
    )


def pixels_problem(name: str) -> FileProblem:
    return FileProblem(
        name,
        Problem.PIXELS,
        gettext("%(name)s: the image has too many pixels; the limit is %(limit)s pixels. "
                "Send a smaller copy of it.", name=name, limit=i18n.format_integer(Image.MAX_IMAGE_PIXELS)),
    )


# What Pillow decodes without plugins (the dossier's figures too); HEIC/HEIF (through
# pillow-heif, `images.TYPES`) are held to the same pixel limit at intake.
PILLOW_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff"})
# Names that make a PDF do something when opened or clicked: scripts and program launches.
_ACTIVE_KEYS: Final = frozenset({"/JS", "/JavaScript"})
_ACTIVE_ACTIONS: Final = frozenset({"/JavaScript", "/Launch"})
# The entries that lead from the trailer to every place a viewer runs an action from: the
# catalogue's /OpenAction, /AA, /Names (a /JavaScript tree there is active already),
# /AcroForm fields and /Outlines items, the page tree, pages' and annotations' /AA and /A,
# chained /Next actions. Nothing else is followed: /Contents, /Resources (fonts, images,
# forms), appearance streams and embedded files hold most of a file's bytes and run no action.
_ACTION_PATHS: Final = frozenset({
    "/Root", "/OpenAction", "/AA", "/A", "/Next", "/Names", "/Kids",
    "/Pages", "/Annots", "/AcroForm", "/Fields", "/Outlines", "/First",
})
# Objects visited when looking for active content; a 10 MB PDF has far fewer.
_MAX_PDF_OBJECTS: Final = 200_000


def _too_many_pixels(stream: BinaryIO) -> bool:
    """Pillow's decompression-bomb limit, from the header alone: a 10 MB PNG can
    declare dimensions that would take gigabytes to decode."""
    images.register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        # The type is proven by its bytes; a damaged image is stored and listed without preview.
        return False
    finally:
        stream.seek(0)
    return width * height > Image.MAX_IMAGE_PIXELS


def disc_problem(name: str, problem: studies.DiscProblem) -> FileProblem:
    """Why a ZIP is refused, in words saying what ZIPs are for and which limit it crossed."""
    Disc = studies.DiscProblem
    if problem is Disc.TOO_MANY_ENTRIES:
        message = gettext("%(name)s: the ZIP holds more than %(limit)s files; a disc's content is accepted "
                          "up to %(limit)s files. Send each study in its own ZIP.",
                          name=name, limit=i18n.format_integer(limits.DISC_MAX_ENTRIES))
    elif problem is Disc.TOO_LARGE:
        message = gettext("%(name)s: the ZIP expands to more than %(limit)s; a disc's content is accepted "
                          "up to %(limit)s once expanded. Send each study in its own ZIP.",
                          name=name, limit=i18n.format_size(limits.DISC_MAX_UNCOMPRESSED_BYTES))
    elif problem is Disc.RATIO:
        message = gettext("%(name)s: a file in this ZIP expands more than %(ratio)s times, which no disc's "
                          "images do; the ZIP is refused.",
                          name=name, ratio=i18n.format_integer(limits.DISC_MAX_RATIO))
    elif problem is Disc.ENCRYPTED:
        message = gettext("%(name)s: this ZIP is protected with a password, so the clinics could not open it; "
                          "make it again without a password and send that.", name=name)
    elif problem is Disc.NOT_ZIP:
        message = gettext("%(name)s: this ZIP cannot be opened (it is damaged or incomplete); "
                          "make it again from the disc and send the new file.", name=name)
    else:
        message = gettext("%(name)s: a ZIP is accepted only for the content of a CT or MRI disc "
                          "(DICOM files); this one holds none.", name=name)
    return FileProblem(name, Problem.DISC, message)


class _PdfLocked(Exception):
    """Only a password opens the PDF: nobody we pass it to could read it either."""


def _readable(reader: PdfReader) -> bool:
    """Whether pypdf can read the PDF: it found the cross-reference table and trailer (a
    truncated file has neither), and the page tree yields pages whose content objects are
    all on record. Neither content nor images are read: they are most of a file's bytes.
    Raises ``_PdfLocked`` when it needs a password (the empty one opens most "protected"
    PDFs, which only restrict printing or copying)."""
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # untrusted input: an encryption pypdf cannot undo
            raise _PdfLocked from exc
        if not opened:
            raise _PdfLocked
    return pdf_repair.pages_on_record(reader)


def _release(reader: PdfReader) -> None:
    """Let go at once of everything the reader read. pypdf's objects point back at their
    reader, so a reader keeping them is a reference cycle: each file's objects would stay
    in memory until the cyclic collector runs."""
    reader.close()
    vars(reader).clear()


def has_active_content(reader: PdfReader) -> bool:
    """Whether the PDF holds JavaScript or a launch action where a viewer runs one: the
    catalogue's /OpenAction, /AA, /Names/JavaScript, form fields and outline, pages' and
    annotations' actions (``_ACTION_PATHS``). Only those dictionaries are read, never
    content, resources or images. Object streams are resolved by pypdf, so a compressed
    script is found too. Too deep to tell counts as active."""
    seen: set[tuple[int, int]] = set()
    # (object, whether to follow all of its entries: those of an /AA dictionary are all actions)
    pending: list[tuple[object, bool]] = [(reader.trailer, False)]
    visited = 0
    try:
        while pending:
            node, every_entry = pending.pop()
            if isinstance(node, IndirectObject):
                ref = (node.idnum, node.generation)
                if ref in seen:
                    continue
                seen.add(ref)
                node = node.get_object()
            visited += 1
            if visited > _MAX_PDF_OBJECTS:
                return True
            if isinstance(node, DictionaryObject):
                if any(key in _ACTIVE_KEYS for key in node):
                    return True
                action = node.get("/S")
                if isinstance(action, IndirectObject):
                    action = action.get_object()
                if isinstance(action, str) and action in _ACTIVE_ACTIONS:
                    return True
                pending.extend(
                    (value, key == "/AA") for key, value in node.items() if every_entry or key in _ACTION_PATHS
                )
            elif isinstance(node, ArrayObject):
                pending.extend((value, False) for value in node)
    except Exception as exc:  # untrusted input: a structure we cannot walk is not trusted
        log.info("uploaded PDF could not be checked for active content: %r", exc)
        return True
    return False


def _check_pdf(name: str, stream: BinaryIO) -> FileProblem | bool:
    """Refuse a PDF no reader can open, or only with a password; otherwise whether it has
    active content. pypdf reads first; a file it cannot read whole or only with
    corrections (``pdf_repair``'s rule) is judged on qpdf's repaired copy, and it is the
    patient's original that is stored. Readers are released before returning."""
    reader: PdfReader | None = None
    readable = False
    try:
        with pdf_repair.pypdf_warnings() as warned:
            reader = PdfReader(stream, strict=False)
            readable = _readable(reader)
        if readable and not warned:
            return has_active_content(reader)
    except _PdfLocked:
        return locked_pdf_problem(name)
    except Exception as exc:  # untrusted input: whatever pypdf trips over, qpdf may still read it
        log.info("uploaded PDF cannot be read by pypdf: %r", exc)
    finally:
        if reader is not None:
            _release(reader)
        stream.seek(0)
    copy = pdf_repair.repaired(stream)
    if copy is None:
        # qpdf gave up; what pypdf read with its own corrections is all there is.
        return _check_pdf_as_read(name, stream) if readable else unreadable_pdf_problem(name)
    with copy:
        checked = _check_pdf_as_read(name, copy)
    if isinstance(checked, FileProblem) and readable:
        return _check_pdf_as_read(name, stream)  # qpdf did worse than pypdf's own corrections
    return checked


def _check_pdf_as_read(name: str, stream: BinaryIO) -> FileProblem | bool:
    """``_check_pdf`` on the form to judge, without another repair."""
    reader: PdfReader | None = None
    try:
        reader = PdfReader(stream, strict=False)
        if not _readable(reader):
            return unreadable_pdf_problem(name)
        return has_active_content(reader)
    except _PdfLocked:
        return locked_pdf_problem(name)
    except Exception as exc:  # untrusted input: whatever pypdf trips over, the file is unreadable
        log.info("uploaded PDF cannot be read: %r", exc)
        return unreadable_pdf_problem(name)
    finally:
        if reader is not None:
            _release(reader)
        stream.seek(0)


def check_content(name: str, stream: BinaryIO, content_type: str) -> FileProblem | bool:
    """Look inside a file of a proven type: a PDF no reader can open (or only with a
    password) and an image over Pillow's pixel limit are refused; otherwise whether the
    file has active content."""
    if content_type == "application/pdf":
        return _check_pdf(name, stream)
    if content_type in images.TYPES and _too_many_pixels(stream):
        return pixels_problem(name)
    if content_type == "application/zip":
        problem = studies.check(stream)
        return disc_problem(name, problem) if problem is not None else False
    return False


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
    checked = check_content(name, stream, content_type)
    if isinstance(checked, FileProblem):
        return checked
    return IncomingFile(filename=name, stream=stream, size=size, content_type=content_type, active_content=checked)


def sha256_of(stream: BinaryIO) -> str:
    """The hex SHA-256 of a seekable stream, read in blocks and rewound (what the store records)."""
    stream.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def duplicate_problems(named: list[tuple[str, str]], start: int = 0) -> list[FileProblem]:
    """One problem for each (name, SHA-256) from index ``start`` on whose contents came
    earlier in ``named``, naming both files: the same file picked twice would reach the
    clinics twice."""
    first: dict[str, str] = {}
    problems: list[FileProblem] = []
    for index, (name, sha256) in enumerate(named):
        if not sha256:
            continue
        if sha256 in first:
            if index < start:
                continue
            problems.append(FileProblem(name, Problem.DUPLICATE, gettext(
                "%(name)s and %(other)s are the same file (identical contents); remove one of them.",
                name=name, other=first[sha256],
            )))
        else:
            first[sha256] = name
    return problems


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
