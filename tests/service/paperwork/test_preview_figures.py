"""A worker's preview goes into the dossier as it is; everything else is decoded and
re-encoded by `images.prepare` as before."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date

import pytest
from PIL import Image

from service.files import images
from service.paperwork import build_dossier_pdf, dossier_content
from service.paperwork.figures import as_prepared
from tests.service.paperwork import fakes, pdfs


@dataclass
class ClinicFile(fakes.Attachment):
    """An attachment with the worker's preview, as `derivatives.ClinicFile` carries it."""

    preview_key: str = ""
    preview_sha256: str = ""


def jpeg(size: tuple[int, int], **options) -> bytes:
    out = io.BytesIO()
    Image.effect_mandelbrot(size, (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB").save(out, format="JPEG", **options)
    return out.getvalue()


def embedded(data: bytes) -> list[bytes]:
    """The raw streams of the dossier's JPEG images."""
    found = {}
    for page in pdfs.reader(data).pages:
        xobjects = page["/Resources"].get_object().get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image" and obj.get("/Filter") == "/DCTDecode":
                found[ref.idnum] = obj._data
    return list(found.values())


def dossier_with_preview(preview: bytes) -> tuple[bytes, fakes.Store, ClinicFile]:
    case = fakes.Case()
    store = fakes.Store()
    original = jpeg((2000, 1500))
    attachment = ClinicFile(id=1, filename="photo.jpg", content_type="image/jpeg", size=len(original),
                            sha256=hashlib.sha256(original).hexdigest(), storage_key="cases/1/copies/0001",
                            preview_key="cases/1/previews/0001", preview_sha256=hashlib.sha256(preview).hexdigest())
    store.objects[attachment.storage_key] = original
    store.objects[attachment.preview_key] = preview
    case.attachments.append(attachment)
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=date(2026, 11, 25))
    return build_dossier_pdf(content, store.read).data, store, attachment


def test_a_worker_preview_is_embedded_as_it_is_read_once_and_never_the_original():
    preview = images.preview(io.BytesIO(jpeg((2000, 1500)))).data
    data, store, attachment = dossier_with_preview(preview)
    assert embedded(data) == [preview]
    assert store.reads == [attachment.preview_key]


@pytest.mark.parametrize("preview", [
    jpeg((1600, 1200)),                                 # larger than a figure
    jpeg((800, 600), progressive=True),                 # not baseline
    jpeg((800, 600), exif=Image.Exif().tobytes()),      # carries metadata
], ids=["too large", "progressive", "exif"])
def test_a_preview_that_is_not_a_figure_yet_is_prepared_as_before(preview):
    data, _store, _attachment = dossier_with_preview(preview)
    [figure] = embedded(data)
    assert figure != preview
    with Image.open(io.BytesIO(figure)) as result:
        assert max(result.size) <= images.MAX_SIDE and "progressive" not in result.info and "exif" not in result.info


def test_a_patients_own_jpeg_is_re_encoded_even_when_it_would_fit():
    case = fakes.Case()
    store = fakes.Store()
    original = jpeg((800, 600))
    store.add(case, "photo.jpg", "image/jpeg", original)
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=date(2026, 11, 25))
    [figure] = embedded(build_dossier_pdf(content, store.read).data)
    assert figure != original


def test_only_a_baseline_metadata_free_rgb_or_grey_jpeg_within_bounds_is_taken_as_prepared():
    ready = as_prepared(jpeg((1000, 750)))
    assert ready is not None and (ready.width, ready.height, ready.mode) == (1000, 750, "RGB")
    grey = io.BytesIO()
    Image.new("L", (300, 200)).save(grey, format="JPEG")
    assert as_prepared(grey.getvalue()).mode == "L"
    cmyk = io.BytesIO()
    Image.new("CMYK", (300, 200)).save(cmyk, format="JPEG")
    png = io.BytesIO()
    Image.new("RGB", (300, 200)).save(png, format="PNG")
    for data in (cmyk.getvalue(), png.getvalue(), jpeg((1001, 500)), b"not an image"):
        assert as_prepared(data) is None
    assert as_prepared(jpeg((1200, 900)), max_side=1200) is not None
