"""File checks: type from the bytes, size limits, safe display names, and what looking
inside a PDF costs."""
from __future__ import annotations

import gc
import io
import tracemalloc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from pypdf import PdfReader

from service import limits, uploads
from service.uploads import (
    FileProblem,
    IncomingFile,
    Problem,
    check_content,
    count_problem,
    detect_type,
    inspect,
    safe_filename,
)
from tests.fixtures import broken_pdfs, files, hostile, scans


@pytest.mark.parametrize("mime", list(files.ACCEPTED))
def test_every_accepted_type_is_detected_from_its_bytes(mime):
    name, make = files.ACCEPTED[mime]
    assert detect_type(make()[:8192]) == mime


def test_heif_stills_of_other_brands_are_accepted():
    assert detect_type(files.heic(major=b"mif1", compatible=(b"mif1", b"miaf"))) == "image/heif"
    assert detect_type(files.heic(major=b"heix", compatible=(b"mif1",))) == "image/heic"


def test_avif_is_not_mistaken_for_heif():
    assert detect_type(files.heic(major=b"avif", compatible=(b"mif1", b"avif"))) is None


@pytest.mark.parametrize(
    "make", [files.elf_executable, files.windows_executable, lambda: b"plain text notes"]
)
def test_other_types_are_refused_whatever_the_name(make):
    result = inspect("scan.pdf", io.BytesIO(make()), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem)
    assert result.problem is Problem.TYPE
    assert result.message == (
        "scan.pdf: this type is not accepted; use PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP."
    )


def test_name_and_extension_do_not_decide_the_type():
    result = inspect("photo.exe", io.BytesIO(files.jpeg()), limits.MAX_FILE_BYTES)
    assert isinstance(result, IncomingFile)
    assert result.content_type == "image/jpeg"


def test_empty_file_is_refused_by_name():
    result = inspect("blank.pdf", io.BytesIO(b""), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.EMPTY
    assert result.message == "blank.pdf: the file is empty (0 bytes)."


def test_size_limit_is_inclusive_and_one_byte_more_is_refused():
    pdf = files.pdf()
    exact = pdf + b"\0" * (limits.MAX_FILE_BYTES - len(pdf))
    assert isinstance(inspect("a.pdf", io.BytesIO(exact), limits.MAX_FILE_BYTES), IncomingFile)
    over = inspect("big.pdf", io.BytesIO(exact + b"\0"), limits.MAX_FILE_BYTES)
    assert isinstance(over, FileProblem) and over.problem is Problem.TOO_LARGE
    assert over.message == "big.pdf: the file is just over 10 MB (10,485,761 bytes); the limit is 10 MB per file."


def test_clearly_oversized_file_reports_its_size():
    over = inspect("video.pdf", io.BytesIO(files.pdf() + b"\0" * (25 * limits.MIB)), limits.MAX_FILE_BYTES)
    assert isinstance(over, FileProblem)
    assert over.message == "video.pdf: the file is 25 MB; the limit is 10 MB per file."


def test_inspect_leaves_the_stream_at_the_start():
    stream = io.BytesIO(files.png())
    result = inspect("x.png", stream, limits.MAX_FILE_BYTES)
    assert isinstance(result, IncomingFile) and stream.tell() == 0


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("МРТ колена.pdf", "МРТ колена.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
        ("scan\x00.pdf", "scan.pdf"),
        ("line\nbreak\t.pdf", "linebreak.pdf"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("  ..  ", "file"),
        ("", "file"),
        (None, "file"),
    ],
)
def test_display_names_are_sanitised_but_keep_unicode(raw, expected):
    assert safe_filename(raw) == expected


def test_very_long_names_are_shortened_keeping_the_extension():
    name = safe_filename("a" * 1000 + ".pdf")
    assert len(name) <= 200 and name.endswith(".pdf")


def test_count_problem_names_the_limit():
    assert count_problem(10, 0, 10) is None
    problem = count_problem(11, 0, 10)
    assert problem is not None and problem.problem is Problem.COUNT
    assert "at most 10 files" in problem.message
    later = count_problem(4, 7, 10)
    assert later is not None and "only 3 of 10" in later.message


# ---------------------------------------------------------------- what the PDF check costs


@pytest.fixture
def scan_file(tmp_path: Path) -> Iterator[BinaryIO]:
    """A real 10 MB scan on disk, where Werkzeug spools an upload that size."""
    path = tmp_path / "scan.pdf"
    path.write_bytes(scans.scan_pdf(limits.MAX_FILE_BYTES))
    with path.open("rb") as stream:
        yield stream


def test_checking_a_pdf_reads_no_image_and_keeps_nothing(scan_file):
    """A scan is nearly all image: the check reads the page tree and where actions live,
    never the image, and keeps nothing once it has answered, with the cyclic collector off
    (it used to keep every checked file's image until the collector ran)."""
    assert check_content("scan.pdf", scan_file, "application/pdf") is False  # imports, pypdf's own caches
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            assert check_content("scan.pdf", scan_file, "application/pdf") is False
            assert scan_file.tell() == 0
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert peak - before < limits.MAX_FILE_BYTES // 10, f"peak {peak - before:,} bytes"
    assert current - before < 256 * 1024, f"kept {current - before:,} bytes"


@pytest.mark.parametrize(
    "make", [files.pdf, lambda: hostile.pdf_with_script("annotation"), hostile.locked_pdf],
    ids=["plain", "scripted", "locked"],
)
def test_the_pdf_reader_is_freed_as_soon_as_the_check_answers(monkeypatch, make):
    """No reference cycle is left for the collector: the reader and what it read go at once."""
    readers: list[weakref.ref] = []

    class Recorded(PdfReader):
        def __init__(self, *args, **kwargs) -> None:
            readers.append(weakref.ref(self))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(uploads, "PdfReader", Recorded)
    gc.disable()
    try:
        check_content("lab.pdf", io.BytesIO(make()), "application/pdf")
        alive = [ref for ref in readers if ref() is not None]
    finally:
        gc.enable()
    assert len(readers) == 1 and not alive


def test_a_page_whose_content_object_is_missing_is_judged_on_the_repaired_copy(monkeypatch):
    """The cheap stand-in for reading every page: a content object not on record sends the
    file to qpdf, which reads the page as viewers show it (blank), so it is accepted."""
    repairs = []
    real = uploads.pdf_repair.repaired
    monkeypatch.setattr(uploads.pdf_repair, "repaired", lambda stream: repairs.append(1) or real(stream))
    data = files.pdf().replace(b"/Contents 4 0 R", b"/Contents 9 0 R")
    assert check_content("lab.pdf", io.BytesIO(data), "application/pdf") is False
    assert repairs == [1]


def test_a_page_tree_without_a_page_is_refused_even_after_repair():
    data = files.pdf().replace(b"/Kids [3 0 R]", b"/Kids [9 0 R]")
    result = check_content("lab.pdf", io.BytesIO(data), "application/pdf")
    assert isinstance(result, FileProblem) and result.problem is Problem.UNREADABLE


# ---------------------------------------------------------------- broken PDFs viewers open


@pytest.mark.parametrize("shape", list(broken_pdfs.SHAPES))
def test_a_broken_pdf_viewers_open_is_accepted_as_the_patient_sent_it(shape):
    data = broken_pdfs.SHAPES[shape]()
    stream = io.BytesIO(data)
    result = inspect("scan.pdf", stream, limits.MAX_FILE_BYTES)
    assert isinstance(result, IncomingFile), result
    assert (result.content_type, result.size, result.active_content) == ("application/pdf", len(data), False)
    assert result.stream is stream and stream.tell() == 0 and stream.read() == data  # the original bytes


def test_a_pdf_no_reader_opens_is_refused_by_name():
    result = inspect("МРТ колена.pdf", io.BytesIO(broken_pdfs.garbage()), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.UNREADABLE
    assert result.message == ("МРТ колена.pdf: this PDF cannot be read (it is damaged or incomplete); "
                              "save or export it again and send the new file.")


@pytest.mark.parametrize("where", hostile.SCRIPT_PLACES)
def test_the_active_content_check_runs_on_the_repaired_copy(where):
    """pypdf cannot read the broken original at all: the script is found in qpdf's copy."""
    data = broken_pdfs.without_xref(hostile.pdf_with_script(where))
    with pytest.raises(Exception):
        PdfReader(io.BytesIO(data)).pages[0]
    result = inspect("scripted.pdf", io.BytesIO(data), limits.MAX_FILE_BYTES)
    assert isinstance(result, IncomingFile) and result.active_content is True


def test_a_broken_pdf_locked_with_a_password_is_still_refused():
    data = broken_pdfs.without_xref(hostile.locked_pdf("secret"))
    result = inspect("locked.pdf", io.BytesIO(data), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.UNREADABLE


@pytest.fixture
def broken_scan_file(tmp_path: Path) -> Iterator[BinaryIO]:
    """A 10 MB scan without its cross-reference table, on disk as Werkzeug spools it."""
    path = tmp_path / "scan.pdf"
    path.write_bytes(broken_pdfs.broken_scan(limits.MAX_FILE_BYTES - 4096))
    with path.open("rb") as stream:
        yield stream


REPAIR_PEAK_BYTES = 3 * 1024 * 1024
"""The repair path's peak Python memory for a 10 MB broken scan (measured: 2.1 MB, the
1 MiB copy buffer and the 1 MiB the repaired copy is spooled in before it goes to disk)."""


def test_repairing_a_10_mb_scan_holds_it_in_memory_not_even_once(broken_scan_file):
    """qpdf reads a copy on disk and writes the repaired one to a spooled file: the image,
    nearly all of the 10 MB, is never in Python's memory, and nothing is kept."""
    assert check_content("scan.pdf", broken_scan_file, "application/pdf") is False
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            assert check_content("scan.pdf", broken_scan_file, "application/pdf") is False
            assert broken_scan_file.tell() == 0
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert peak - before < REPAIR_PEAK_BYTES, f"peak {peak - before:,} bytes"
    assert current - before < 256 * 1024, f"kept {current - before:,} bytes"


def test_a_scan_made_for_the_tests_is_a_valid_pdf_of_the_size_asked():
    data = scans.scan_pdf(300_000)
    assert len(data) == 300_000
    [page] = PdfReader(io.BytesIO(data)).pages
    assert page.images[0].image.size == (scans.IMAGE_WIDTH, 290)
    assert isinstance(inspect("scan.pdf", io.BytesIO(data), limits.MAX_FILE_BYTES), IncomingFile)
