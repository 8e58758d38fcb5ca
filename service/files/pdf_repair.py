"""PDFs that viewers open although they are broken: a repaired copy by qpdf (pikepdf).

Phone scanner apps write PDFs without a cross-reference table or with wrong offsets,
downloads stop part way, editors append revisions with stale offsets. Poppler, pdf.js and
PDFium rebuild what is missing; qpdf does the same, and pikepdf writes the result out
whole. The patient's bytes are never changed: callers check, count, preview and append
the repaired form and store the original.

When to repair: pypdf reads first, because for a good PDF it is cheap (the trailer, the
cross-reference table and the page tree, never content or images) and the callers need
its reading anyway. The file goes to qpdf when pypdf

- raises, or finds no page, or a page whose content object is not on record;
- or *warns* while reading (``pypdf_warnings``): that is how pypdf says it corrected the
  startxref pointer, rebuilt the cross-reference table by scanning for objects, ignored
  wrongly pointing entries or found no ``%%EOF`` marker. Its rebuilt reading may look
  complete and still be wrong: a file truncated after its last page opens, pages and
  all, and its text extracts as garbage because the fonts' objects are not where pypdf
  looked. qpdf's reconstruction finds them.

A good PDF makes pypdf warn about nothing, so it never costs a qpdf pass.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Final

import pikepdf
from pypdf import PdfReader
from pypdf.generic import ArrayObject, IndirectObject

log = logging.getLogger(__name__)

# A repaired copy stays in memory up to this size and goes to a temporary file beyond:
# a 10 MB scan is not held in RAM once more.
SPOOL_BYTES: Final = 1024 * 1024
# qpdf drops an object that ends exactly at the end of the file ("EOF after endobj"):
# a file cut just after its last object would lose it (often the fonts). qpdf reads the
# file with this after it, which changes nothing in a whole PDF.
_TAIL: Final = b"\n%%EOF\n"
_COPY_CHUNK: Final = 1024 * 1024


class _Warnings(logging.Handler):
    """Collects pypdf's warnings logged by one thread (other threads read other files)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def pypdf_warnings() -> Iterator[list[str]]:
    """The warnings pypdf logs in this thread inside the block: each is a robustness fix
    it applied to a non-compliant file. If pypdf's logger is switched off below WARNING
    nothing can be heard, so that counts as a warning (every PDF then goes to qpdf)."""
    logger = logging.getLogger("pypdf")
    handler = _Warnings()
    if not logger.isEnabledFor(logging.WARNING):
        handler.messages.append("pypdf's warnings are switched off: a clean reading cannot be told")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def pages_on_record(reader: PdfReader) -> bool:
    """Whether the page tree yields pages whose content objects are all in the
    cross-reference table: looked up, not read (content is most of a file's bytes)."""
    pages = reader.pages
    return len(pages) > 0 and all(_on_record(reader, page.get("/Contents")) for page in pages)


def _on_record(reader: PdfReader, value: object) -> bool:
    refs = value if isinstance(value, ArrayObject) else [value]
    return all(
        not isinstance(ref, IndirectObject)
        or ref.idnum in reader.xref.get(ref.generation, {})
        or ref.idnum in reader.xref_objStm
        for ref in refs
    )


def needs_repair(stream: BinaryIO) -> bool:
    """Whether pypdf's reading of the PDF is not to be trusted (see the module's rule).
    A PDF only a password opens does not: qpdf could not open it either."""
    reader: PdfReader | None = None
    try:
        with pypdf_warnings() as warned:
            reader = PdfReader(stream, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                return False
            return not pages_on_record(reader) or bool(warned)
    except Exception as exc:  # untrusted input: whatever pypdf trips over, qpdf may read
        log.info("pypdf cannot read the PDF whole: %r", exc)
        return True
    finally:
        if reader is not None:
            reader.close()
            vars(reader).clear()  # its objects point back at it: free them now, not at the next gc
        stream.seek(0)


@contextmanager
def opened(stream: BinaryIO) -> Iterator[pikepdf.Pdf]:
    """The PDF as qpdf reads it, recovering what it can (raises pikepdf's errors, e.g.
    ``pikepdf.PasswordError``). qpdf reads a copy on disk with ``_TAIL`` after it: read
    through Python, a file costs qpdf a call per few dozen bytes (4 s for a 10 MB scan,
    0.3 s from disk), and nothing of it is held in memory."""
    stream.seek(0)
    with tempfile.NamedTemporaryFile(prefix="pdf-repair-", suffix=".pdf") as source:
        shutil.copyfileobj(stream, source, _COPY_CHUNK)
        source.write(_TAIL)
        source.flush()
        stream.seek(0)
        with pikepdf.Pdf.open(source.name, attempt_recovery=True) as pdf:
            yield pdf


def repaired(stream: BinaryIO) -> BinaryIO | None:
    """A copy of the PDF written whole by qpdf (cross-reference table rebuilt, offsets
    right, objects qpdf recovered), seekable and at 0; the caller closes it. None when
    qpdf cannot open it either, or only with a password. Written to a
    ``SpooledTemporaryFile``: in memory up to ``SPOOL_BYTES``, on disk beyond."""
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the caller
    try:
        with opened(stream) as pdf:
            problems = pdf.get_warnings()
            pdf.save(copy, encryption=False)
        if problems:
            log.info("PDF repaired by qpdf: %s", "; ".join(str(p) for p in problems[:5]))
    except Exception as exc:  # untrusted input: whatever qpdf gives up on, no reader opens
        log.info("qpdf cannot open the PDF either: %r", exc)
        copy.close()
        return None
    finally:
        stream.seek(0)
    copy.seek(0)
    return copy  # type: ignore[return-value]


def readable_form(stream: BinaryIO) -> tuple[BinaryIO, bool]:
    """The form of the PDF to read: ``(stream, False)`` when pypdf reads it cleanly (or
    when qpdf cannot do better: the caller's own reading then decides), otherwise
    ``(repaired copy, True)``; the caller closes a repaired copy."""
    if not needs_repair(stream):
        return stream, False
    copy = repaired(stream)
    if copy is None:
        return stream, False
    return copy, True
