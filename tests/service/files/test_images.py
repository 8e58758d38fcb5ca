"""Photos as phones and scanners write them: previews upright and bounded, clean copies
without GPS, EXIF, XMP, IPTC or text, read back with Pillow."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from service.files import images
from service.files.results import CopyFailed, NotPreviewable
from tests.fixtures import files, hostile, photos

SOURCE = (64, 48)  # photos.picture's size: landscape, red left half
TURNED = (48, 64)  # after EXIF orientation 6 (turn 90° clockwise): portrait, red on top


def _open(data: bytes) -> Image.Image:
    images.register_heif()
    return Image.open(io.BytesIO(data))


def _copy(data: bytes, content_type: str):
    copy = images.clean_copy(io.BytesIO(data), content_type)
    return copy, copy.stream.read()


def _red_on_top(image: Image.Image) -> bool:
    rgb = image.convert("RGB")
    top = rgb.getpixel((rgb.width // 2, 2))
    bottom = rgb.getpixel((rgb.width // 2, rgb.height - 3))
    return top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_the_fixture_photo_really_carries_gps_exif_xmp_iptc_and_orientation():
    with _open(photos.gps_jpeg()) as original:
        assert original.size == SOURCE
        assert original.getexif()[0x0112] == 6
        assert photos.gps_of(original)[2] == photos.LATITUDE
        assert original.info["xmp"] and original.info["comment"]
        assert 0x0404 in original.info["photoshop"]  # IPTC


def test_a_jpeg_copy_has_no_gps_exif_xmp_iptc_or_comment_and_is_upright():
    copy, data = _copy(photos.gps_jpeg(), "image/jpeg")
    assert copy.content_type == "image/jpeg"
    assert copy.removed == ("GPS", "EXIF", "XMP", "IPTC", "comment")
    assert copy.tool == f"Pillow {Image.__version__}"
    with _open(data) as clean:
        assert clean.format == "JPEG"
        assert dict(clean.getexif()) == {} and photos.gps_of(clean) == {}
        assert "exif" not in clean.info and "xmp" not in clean.info
        assert "photoshop" not in clean.info and "comment" not in clean.info
        assert clean.size == TURNED and _red_on_top(clean)
    assert b"Ivan Petrov" not in data and b"Apple" not in data


def test_a_jpeg_copy_keeps_its_icc_profile():
    icc = b"\x00" * 128 + b"fake ICC profile bytes"
    out = io.BytesIO()
    photos.picture().save(out, format="JPEG", icc_profile=icc, exif=photos.phone_exif(1))
    copy, data = _copy(out.getvalue(), "image/jpeg")
    assert "ICC profile" not in copy.removed
    with _open(data) as clean:
        assert clean.info["icc_profile"] == icc


def test_a_heic_copy_is_a_jpeg_without_gps_or_exif_and_upright():
    original = photos.heic()
    with _open(original) as heic:
        assert heic.format == "HEIF" and photos.gps_of(heic)[2] == photos.LATITUDE
    copy, data = _copy(original, "image/heic")
    assert copy.content_type == "image/jpeg"
    assert {"GPS", "EXIF", "XMP"} <= set(copy.removed)
    assert "pillow-heif" in copy.tool and "libheif" in copy.tool
    with _open(data) as clean:
        assert clean.format == "JPEG"
        assert dict(clean.getexif()) == {} and photos.gps_of(clean) == {}
        assert clean.size == TURNED and _red_on_top(clean)
    assert b"Ivan Petrov" not in data


def test_a_heic_previews_upright():
    preview = images.preview(io.BytesIO(photos.heic()))
    assert (preview.width, preview.height) == TURNED
    with Image.open(io.BytesIO(preview.data)) as shown:
        assert shown.format == "JPEG" and _red_on_top(shown) and dict(shown.getexif()) == {}


def test_a_large_heic_preview_is_bounded_to_max_side():
    preview = images.preview(io.BytesIO(photos.heic(size=(1600, 1200), orientation=1)))
    assert (preview.width, preview.height) == (images.MAX_SIDE, 750)


def test_a_png_copy_has_no_text_chunks_xmp_or_exif():
    copy, data = _copy(photos.png_with_text(), "image/png")
    assert copy.content_type == "image/png"
    assert copy.removed == ("GPS", "EXIF", "XMP", "text chunks")
    with _open(data) as clean:
        assert clean.format == "PNG" and clean.text == {} and dict(clean.getexif()) == {}
        assert clean.size == (40, 30)
    assert b"Ivan Petrov" not in data and b"tEXt" not in data and b"zTXt" not in data and b"iTXt" not in data


@pytest.mark.parametrize("lossless", [False, True])
def test_a_webp_copy_has_no_exif_or_xmp_and_is_upright(lossless):
    copy, data = _copy(photos.webp(lossless=lossless), "image/webp")
    assert copy.content_type == "image/webp" and {"GPS", "EXIF", "XMP"} <= set(copy.removed)
    with _open(data) as clean:
        assert clean.format == "WEBP" and dict(clean.getexif()) == {} and "xmp" not in clean.info
        assert clean.size == (30, 40)
    assert b"EXIF" not in data and b"XMP " not in data
    if lossless:
        assert b"VP8L" in data


def test_a_tiff_copy_keeps_every_page_without_its_text_tags_or_xmp():
    original = photos.multipage_tiff(pages=3)
    copy, data = _copy(original, "image/tiff")
    assert copy.content_type == "image/tiff"
    assert set(copy.removed) == {"XMP", "TIFF text tags"}
    with _open(data) as clean:
        assert clean.n_frames == 3
        sizes = []
        for page in range(3):
            clean.seek(page)
            sizes.append(clean.size)
            assert not {270, 315, 700} & set(clean.tag_v2)
        assert sizes == [(60, 40), (70, 40), (80, 40)]
    assert b"Ivan Petrov" not in data


def test_a_tiff_previews_its_first_page():
    preview = images.preview(io.BytesIO(photos.multipage_tiff(pages=3)))
    assert (preview.width, preview.height) == (60, 40)


def test_a_jpeg_preview_is_upright_bounded_and_without_metadata():
    preview = images.preview(io.BytesIO(photos.gps_jpeg(size=(2400, 1800))))
    assert (preview.width, preview.height) == (750, images.MAX_SIDE)
    with Image.open(io.BytesIO(preview.data)) as shown:
        assert dict(shown.getexif()) == {} and "progressive" not in shown.info and _red_on_top(shown)


def test_damaged_images_give_reasons_not_crashes():
    broken = photos.gps_jpeg()[:200]
    with pytest.raises(CopyFailed, match="could not be read"):
        images.clean_copy(io.BytesIO(broken), "image/jpeg")
    with pytest.raises(NotPreviewable, match="could not be read"):
        images.preview(io.BytesIO(files.heic()))  # an ftyp header and nothing decodable


def test_an_image_declaring_too_many_pixels_is_not_decoded():
    bomb = hostile.png_declaring(20_000, 20_000)
    with pytest.raises(CopyFailed):
        images.clean_copy(io.BytesIO(bomb), "image/png")
    with pytest.raises(NotPreviewable):
        images.preview(io.BytesIO(bomb))


def test_a_type_it_does_not_handle_is_refused():
    with pytest.raises(CopyFailed, match="application/pdf"):
        images.clean_copy(io.BytesIO(files.pdf()), "application/pdf")


def test_prepare_still_makes_the_dossiers_figures_and_reads_heic():
    prepared = images.prepare(photos.heic(size=(64, 48)))
    assert (prepared.width, prepared.height) == TURNED and prepared.mime_type == "image/jpeg"
    with pytest.raises(images.ImageNotUsable):
        images.prepare(b"not an image")


def test_importing_registers_no_heif_opener():
    """No plugin registration at import time: only the first image opened does it."""
    code = ("from PIL import Image; import service.files.images as m; "
            "assert 'HEIF' not in Image.OPEN, 'registered at import'; "
            "m.register_heif(); assert 'HEIF' in Image.OPEN")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])
