"""The pieces under the documents: exhibits, images, content rules."""
from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link

from service.files import images
from service.paperwork import content, exhibits
from tests.fixtures import files
from tests.service.paperwork import fakes


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf("Secret"))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("data", [
    b"",
    b"<html>not a pdf</html>",
    b"%PDF-1.4\n%%EOF",
    b"%PDF-1.4\n" + bytes(range(256)) * 4,
], ids=["empty", "html", "no-objects", "garbage-after-the-header"])
def test_unreadable_pdfs_are_refused_with_a_reason(data):
    with pytest.raises(exhibits.ExhibitNotUsable, match="could not be read|no pages"):
        exhibits.prepare_exhibit(data)


def test_password_protected_pdf_is_refused_but_owner_only_protection_opens():
    with pytest.raises(exhibits.ExhibitNotUsable, match="password-protected"):
        exhibits.prepare_exhibit(_encrypted("patient-secret"))
    prepared = exhibits.prepare_exhibit(_encrypted(""))
    assert prepared.pages == 1
    assert "Secret" in PdfReader(io.BytesIO(prepared.data)).pages[0].extract_text()


def test_exhibit_pages_drop_annotations_and_fit_inside_the_margins():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf("Linked"))))
    writer.add_annotation(0, Link(rect=(50, 50, 200, 80), url="https://tracker.example/"))
    out = io.BytesIO()
    writer.write(out)
    prepared = exhibits.prepare_exhibit(out.getvalue())
    page = PdfReader(io.BytesIO(prepared.data)).pages[0]
    assert "/Annots" not in page
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(exhibits.A4_PORTRAIT)
    assert prepared.orientations == (False,)


def test_rotated_pages_become_landscape():
    prepared = exhibits.prepare_exhibit(fakes.rotated_pdf())
    assert prepared.orientations == (True,)


def test_images_are_bounded_upright_and_stripped_of_metadata():
    picture = Image.new("RGB", (3000, 1000), (10, 200, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to show
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif.tobytes())
    prepared = images.prepare(out.getvalue())
    upright = (round(images.MAX_SIDE / 3), images.MAX_SIDE)
    assert (prepared.width, prepared.height) == upright
    with Image.open(io.BytesIO(prepared.data)) as result:
        assert result.format == "JPEG" and result.size == upright
        assert not result.getexif()


def test_transparent_and_16_bit_images_are_flattened():
    rgba = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 0, 0, 0)).save(rgba, format="PNG")
    with Image.open(io.BytesIO(images.prepare(rgba.getvalue()).data)) as result:
        assert result.mode == "RGB" and result.getpixel((5, 5))[0] > 240  # white, not black
    deep = io.BytesIO()
    Image.new("I;16", (20, 10), 40000).save(deep, format="PNG")
    with Image.open(io.BytesIO(images.prepare(deep.getvalue()).data)) as result:
        assert result.mode == "L" and result.getpixel((5, 5)) > 200


def test_cmyk_and_greyscale_jpegs_are_prepared():
    for mode, size in (("CMYK", (2400, 1800)), ("L", (3300, 2000))):
        out = io.BytesIO()
        Image.new(mode, size).save(out, format="JPEG")
        prepared = images.prepare(out.getvalue())
        assert max(prepared.width, prepared.height) == images.MAX_SIDE
        assert prepared.mode in ("RGB", "L")


@pytest.mark.parametrize("data", [files.heic(), b"\x89PNG\r\n\x1a\n broken", files.jpeg()[:40]])
def test_undecodable_images_are_refused(data):
    with pytest.raises(images.ImageNotUsable):
        images.prepare(data)


def test_huge_images_are_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(images.ImageNotUsable, match="too large"):
        images.prepare(files.png())


def test_answers_and_age():
    assert content.answer("none known") == "none known"
    assert content.answer(None) == content.answer("") == content.answer("  ") == "not provided"
    assert content.age_label(date(1979, 4, 2), date(2026, 4, 1)) == "46 years"
    assert content.age_label(date(1979, 4, 2), date(2026, 4, 2)) == "47 years"
    assert content.age_label(None, date(2026, 1, 1)) == "not provided"


def test_redaction_keeps_ordinary_words():
    case = fakes.Case(full_name="Anna Lee", email="a.lee@example.org", phone="+44 20 7946 0958")
    redact = content._redactor(case)
    assert redact("Annabel saw ANNA LEE") == "Annabel saw [redacted]"
    assert redact("Call 020 7946 0958, +44 (20) 7946-0958 or +442079460958; mail A.Lee@Example.org") == (
        "Call [redacted], [redacted] or [redacted]; mail [redacted]"
    )
    assert redact("Order 1207946095812 and 20.07.94") == "Order 1207946095812 and 20.07.94"
    assert redact("file_Anna_scan.pdf") == "file_[redacted]_scan.pdf"
