"""A PDF's preview (Poppler's first page) and its copy for clinics, read back."""
from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image, ImageStat
from pypdf import PdfReader

from service.files import derive, images, pdfs
from service.files.results import CopyFailed, NotPreviewable
from tests.fixtures import broken_pdfs, files, hostile, pdf_metadata
from tests.fixtures.pdf_metadata import AUTHOR, TITLE


def _jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not image.info.get("progressive") and not image.info.get("progression")  # baseline
    assert "exif" not in image.info
    return image


# ---------------------------------------------------------------- preview


def test_the_preview_is_a_jpeg_of_the_first_page_within_max_side():
    data = pdf_metadata.authored_pdf(("Dark page", "White page"), dark_first_page=True)
    preview = pdfs.preview(io.BytesIO(data))
    image = _jpeg(preview.data)
    assert (image.width, image.height) == (preview.width, preview.height)
    assert max(preview.width, preview.height) == images.MAX_SIDE
    assert preview.height > preview.width  # a portrait page
    assert ImageStat.Stat(image.convert("L")).mean[0] < 60  # the dark first page, not the white second
    assert preview.content_type == "image/jpeg"


def test_a_landscape_page_and_a_smaller_max_side(monkeypatch):
    monkeypatch.setattr(images, "MAX_SIDE", 240)
    preview = pdfs.preview(io.BytesIO(pdf_metadata.authored_pdf(landscape=True)))
    assert (preview.width, preview.height) == (240, 186)  # 612/792 of 240, rounded up by Poppler
    assert ImageStat.Stat(_jpeg(preview.data).convert("L")).mean[0] > 200  # white page, black text


@pytest.mark.parametrize("shape", list(broken_pdfs.SHAPES))
def test_a_broken_pdf_still_has_a_preview(shape):
    preview = pdfs.preview(io.BytesIO(broken_pdfs.SHAPES[shape]()))
    assert max(preview.width, preview.height) == images.MAX_SIDE
    _jpeg(preview.data)


def test_the_dispatcher_sends_pdfs_here():
    preview = derive.preview(io.BytesIO(files.pdf()), "application/pdf")
    assert max(preview.width, preview.height) == images.MAX_SIDE


@pytest.mark.parametrize("make", [broken_pdfs.garbage, lambda: hostile.locked_pdf("secret")],
                         ids=["garbage", "password"])
def test_what_no_reader_opens_is_not_previewable_with_a_reason(make):
    with pytest.raises(NotPreviewable, match="first page could not be rendered"):
        pdfs.preview(io.BytesIO(make()))


def test_without_poppler_the_reason_says_so(monkeypatch):
    monkeypatch.setattr(pdfs, "PDFTOPPM", "/nonexistent/pdftoppm")
    with pytest.raises(NotPreviewable, match="pdftoppm is not installed"):
        pdfs.preview(io.BytesIO(files.pdf()))


def test_a_page_that_takes_too_long_is_stopped(monkeypatch, tmp_path):
    slow = tmp_path / "pdftoppm"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(pdfs, "PDFTOPPM", str(slow))
    monkeypatch.setattr(pdfs, "RENDER_TIMEOUT_SECONDS", 0.5)
    with pytest.raises(NotPreviewable, match="took longer than 0.5 s"):
        pdfs.preview(io.BytesIO(files.pdf()))


# ---------------------------------------------------------------- clean copy


def _every_stream_and_string(pdf: pikepdf.Pdf) -> bytes:
    """Everything the copy holds, decoded: names hidden in compressed streams count too."""
    parts = []
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            parts.append(obj.read_bytes())
        parts.append(repr(obj).encode())
    return b"\n".join(parts)


def test_the_clean_copy_has_no_author_title_or_xmp_and_keeps_the_pages():
    copy = pdfs.clean_copy(io.BytesIO(pdf_metadata.authored_pdf()))
    assert copy.content_type == "application/pdf" and copy.stream.tell() == 0
    data = copy.stream.read()
    copy.stream.close()
    assert copy.removed == (
        "PDF Info (Author, Creator, Producer, Title)", "XMP metadata",
        "XMP metadata of 1 page", "application data (PieceInfo) of 1 page",
    )
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata is None
    assert "/Metadata" not in reader.trailer["/Root"]
    assert all("/Metadata" not in page and "/PieceInfo" not in page for page in reader.pages)
    assert [page.extract_text() for page in reader.pages] == list(pdf_metadata.PAGE_TEXTS)
    assert [str(page["/Resources"]["/Font"]["/F1"]["/BaseFont"]) for page in reader.pages] == ["/Helvetica"] * 2
    with pikepdf.Pdf.open(io.BytesIO(data)) as pdf:
        assert "/Info" not in pdf.trailer
        everything = _every_stream_and_string(pdf)
    for word in (AUTHOR, "Sidorova", TITLE, "Scanner Pro", "Quartz"):
        assert word.encode() not in everything and word.encode() not in data


def test_the_original_had_them_all():
    """The test above would pass on a PDF that never had metadata: this one has."""
    data = pdf_metadata.authored_pdf()
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.author == AUTHOR and reader.metadata.title == TITLE
    assert "/Metadata" in reader.trailer["/Root"] and "/PieceInfo" in reader.pages[0]
    assert AUTHOR.encode() in data


def test_a_pdf_without_metadata_is_copied_with_nothing_removed():
    copy = pdfs.clean_copy(io.BytesIO(broken_pdfs.whole()))
    with copy.stream:
        assert copy.removed == ()
        assert [p.extract_text() for p in PdfReader(copy.stream).pages] == list(broken_pdfs.TEXTS)


def test_the_tool_and_its_version_are_recorded():
    copy = pdfs.clean_copy(io.BytesIO(files.pdf()))
    copy.stream.close()
    assert copy.tool == f"pikepdf {pikepdf.__version__} (qpdf {pikepdf.__libqpdf_version__})"
    assert copy.tool.startswith("pikepdf 10.") and "(qpdf 12." in copy.tool


@pytest.mark.parametrize("shape", list(broken_pdfs.SHAPES))
def test_a_broken_pdf_still_gets_a_clean_copy(shape):
    copy = pdfs.clean_copy(io.BytesIO(broken_pdfs.SHAPES[shape]()))
    with copy.stream:
        assert [p.extract_text() for p in PdfReader(copy.stream).pages] == list(broken_pdfs.WORDS[shape])


def test_a_broken_authored_pdf_loses_its_metadata_too():
    copy = pdfs.clean_copy(io.BytesIO(broken_pdfs.without_xref(pdf_metadata.authored_pdf())))
    with copy.stream:
        data = copy.stream.read()
    assert copy.removed[:2] == ("PDF Info (Author, Creator, Producer, Title)", "XMP metadata")
    assert AUTHOR.encode() not in data
    assert PdfReader(io.BytesIO(data)).metadata is None


@pytest.mark.parametrize("make, reason", [
    (broken_pdfs.garbage, "cannot be read by any reader"),
    (lambda: hostile.locked_pdf("secret"), "locked with a password"),
], ids=["garbage", "password"])
def test_no_copy_of_what_no_reader_opens(make, reason):
    with pytest.raises(CopyFailed, match=reason):
        pdfs.clean_copy(io.BytesIO(make()))


def test_an_empty_password_pdf_is_copied_without_its_encryption():
    copy = pdfs.clean_copy(io.BytesIO(hostile.locked_pdf(user_password="")))
    with copy.stream:
        reader = PdfReader(copy.stream)
        assert not reader.is_encrypted
        assert "Lab result" in reader.pages[0].extract_text()
