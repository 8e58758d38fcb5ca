"""Broken PDFs as patients send them, repaired by qpdf and read back with pypdf."""
from __future__ import annotations

import io
import logging
import threading

import pytest
from pypdf import PdfReader

from service.files import pdf_repair
from tests.fixtures import broken_pdfs, files, hostile


def _texts(stream) -> list[str]:
    return [page.extract_text() for page in PdfReader(stream).pages]


@pytest.mark.parametrize("shape", list(broken_pdfs.SHAPES))
def test_each_broken_shape_is_repaired_and_its_pages_read_their_words(shape):
    data = broken_pdfs.SHAPES[shape]()
    stream = io.BytesIO(data)
    assert pdf_repair.needs_repair(stream) is (shape not in broken_pdfs.PYPDF_READS_WHOLE)
    copy = pdf_repair.repaired(stream)
    assert copy is not None and copy.tell() == 0 and stream.tell() == 0
    with copy:
        assert _texts(copy) == list(broken_pdfs.WORDS[shape])
    assert stream.getvalue() == data


@pytest.mark.parametrize("shape", ["no-xref", "truncated-after-last-page"])
def test_shapes_pypdf_cannot_open_at_all_are_read_after_repair(shape):
    with pytest.raises(Exception):
        _texts(io.BytesIO(broken_pdfs.SHAPES[shape]()))
    form, repaired = pdf_repair.readable_form(io.BytesIO(broken_pdfs.SHAPES[shape]()))
    assert repaired
    with form:
        assert _texts(form) == list(broken_pdfs.TEXTS)


def test_a_stale_reading_pypdf_corrects_silently_goes_to_repair_too():
    """pypdf reads the broken second revision as if it were not there (the old text) and
    only warns: its warning is what sends the file to qpdf, which reads the new text."""
    data = broken_pdfs.incremental_update(broken_offset=True)
    assert _texts(io.BytesIO(data))[-1] == broken_pdfs.TEXTS[-1]
    form, repaired = pdf_repair.readable_form(io.BytesIO(data))
    assert repaired
    with form:
        assert _texts(form)[-1] == broken_pdfs.REVISED


def test_a_file_cut_right_after_its_last_object_keeps_its_fonts(monkeypatch):
    """qpdf drops an object that ends at the very end of the file; the fonts come last
    here, so the text would come out as garbage without the tail qpdf is shown."""
    data = broken_pdfs.truncated_after_last_page()
    monkeypatch.setattr(pdf_repair, "_TAIL", b"")
    with pdf_repair.repaired(io.BytesIO(data)) as bare:
        assert _texts(bare) != list(broken_pdfs.TEXTS)
    monkeypatch.undo()
    with pdf_repair.repaired(io.BytesIO(data)) as copy:
        assert _texts(copy) == list(broken_pdfs.TEXTS)


@pytest.mark.parametrize("make", [broken_pdfs.whole, files.pdf, lambda: hostile.locked_pdf(user_password="")],
                         ids=["whole", "plain", "empty-password"])
def test_a_good_pdf_is_read_as_it_is_without_qpdf(monkeypatch, make):
    def never(stream):
        raise AssertionError("a good PDF went to qpdf")

    monkeypatch.setattr(pdf_repair, "repaired", never)
    stream = io.BytesIO(make())
    assert not pdf_repair.needs_repair(stream)
    assert pdf_repair.readable_form(stream) == (stream, False)


def test_an_ordinary_incremental_update_reads_cleanly_in_pypdf():
    stream = io.BytesIO(broken_pdfs.incremental_update())
    assert not pdf_repair.needs_repair(stream)
    assert _texts(stream)[-1] == broken_pdfs.REVISED


@pytest.mark.parametrize("make", [broken_pdfs.garbage, lambda: hostile.locked_pdf("secret")],
                         ids=["garbage", "password"])
def test_what_qpdf_cannot_open_has_no_repaired_copy(make):
    stream = io.BytesIO(make())
    assert pdf_repair.repaired(stream) is None
    form, repaired = pdf_repair.readable_form(stream)
    assert (form, repaired) == (stream, False)


def test_a_large_repaired_copy_is_spooled_to_disk_not_held_in_memory():
    copy = pdf_repair.repaired(io.BytesIO(broken_pdfs.broken_scan(3 * pdf_repair.SPOOL_BYTES)))
    assert copy is not None
    with copy:
        assert copy._rolled  # a real temporary file beyond SPOOL_BYTES
        assert len(PdfReader(copy).pages) == 1


def test_pypdf_warnings_are_heard_per_thread():
    """A web worker checks files in several threads: another thread's warnings are not ours."""
    other_done = threading.Event()

    def other():
        logging.getLogger("pypdf._reader").warning("someone else's file")
        other_done.set()

    with pdf_repair.pypdf_warnings() as warned:
        threading.Thread(target=other).start()
        assert other_done.wait(5)
        assert warned == []
        logging.getLogger("pypdf._reader").warning("ours")
    assert warned == ["ours"]


def test_with_pypdfs_warnings_switched_off_every_pdf_counts_as_needing_repair():
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        assert pdf_repair.needs_repair(io.BytesIO(broken_pdfs.whole()))
    finally:
        logger.setLevel(level)
