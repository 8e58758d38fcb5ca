"""PDF attachments as exhibits appended to the dossier, with pypdf.

Two steps, so that one bad file never breaks the dossier:

1. :func:`prepare_exhibit` (before rendering) opens the patient's PDF and lays each
   of its pages, scaled to fit, onto a blank A4 page (landscape for landscape pages)
   inside the area the dossier's header, footer and exhibit label leave free. It
   drops the file's annotations (links, form fields, scripts), keeps its drawing
   clipped to its own page box, and writes the result out. Any failure here means
   "could not be included", with a reason people understand.
2. :func:`assemble` (after rendering) merges each prepared page *under* the matching
   placeholder page of the rendered dossier. WeasyPrint drew those placeholders with
   the same running header and footer as every other page, "Page N of M" counted
   over the whole bundle, and "Exhibit N — <filename>" on each exhibit's first page.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.errors import PyPdfError
from pypdf.generic import FloatObject

from service.files import pdf_repair
from service.paperwork.figures import own_resources

log = logging.getLogger(__name__)

MM: Final = 72 / 25.4
A4_PORTRAIT: Final = (210 * MM, 297 * MM)
A4_LANDSCAPE: Final = (297 * MM, 210 * MM)


@dataclass(frozen=True)
class Geometry:
    """Page margins shared by the CSS and by the exhibit placement (millimetres)."""

    top: float = 22
    right: float = 16
    bottom: float = 20
    left: float = 16
    label: float = 12  # band below the header holding "Exhibit N — filename"

    def area(self, landscape: bool) -> tuple[float, float, float, float]:
        """(x, y, width, height) in PDF points where an exhibit page may be drawn."""
        width, height = A4_LANDSCAPE if landscape else A4_PORTRAIT
        x = self.left * MM
        y = self.bottom * MM
        return x, y, width - (self.left + self.right) * MM, height - (self.top + self.bottom + self.label) * MM


GEOMETRY: Final = Geometry()


class ExhibitNotUsable(Exception):
    """The PDF cannot be appended; the message says why, for people."""


@dataclass(frozen=True)
class PreparedExhibit:
    data: bytes                    # one A4 page per source page, ready to sit under a placeholder
    orientations: tuple[bool, ...]  # landscape? per page
    source_pages: int

    @property
    def pages(self) -> int:
        return len(self.orientations)


def count_pages(data: bytes) -> int:
    reader = _open(data)
    return len(reader.pages)


def prepare_exhibit(data: bytes, geometry: Geometry = GEOMETRY) -> PreparedExhibit:
    reader = _open(data)
    try:
        source_pages = len(reader.pages)
        if source_pages == 0:
            raise ExhibitNotUsable("the PDF has no pages")
        writer = PdfWriter()
        orientations = []
        for page in reader.pages:
            if "/Annots" in page:
                del page["/Annots"]
            upright, width, height = _upright(page)
            landscape = width > height
            x, y, area_w, area_h = geometry.area(landscape)
            scale = min(area_w / width, area_h / height)
            # Centre horizontally, keep at the top of the area (under the label band).
            tx = x + (area_w - width * scale) / 2
            ty = y + area_h - height * scale
            target = writer.add_blank_page(*(A4_LANDSCAPE if landscape else A4_PORTRAIT))
            # pypdf clips the merged drawing to the source page's crop box.
            target.merge_transformed_page(page, upright.scale(scale).translate(tx, ty))
            _frame(target, tx, ty, width * scale, height * scale)
            orientations.append(landscape)
        out = io.BytesIO()
        writer.write(out)
    except ExhibitNotUsable:
        raise
    except Exception as exc:  # untrusted input: whatever pypdf trips over, this file stays out
        log.info("exhibit could not be prepared: %r", exc)
        raise ExhibitNotUsable("the PDF could not be read") from exc
    return PreparedExhibit(out.getvalue(), tuple(orientations), source_pages)


def _frame(page: PageObject, x: float, y: float, width: float, height: float) -> None:
    """A hairline around the placed page, so a white page still shows where it ends."""
    content = page.get_contents()
    if content is None:
        return
    content.operations.extend([
        ([], b"q"),
        ([FloatObject(0.78), FloatObject(0.8), FloatObject(0.83)], b"RG"),
        ([FloatObject(0.5)], b"w"),
        ([FloatObject(x), FloatObject(y), FloatObject(width), FloatObject(height)], b"re"),
        ([], b"S"),
        ([], b"Q"),
    ])
    page.replace_contents(content)


def _upright(page: PageObject) -> tuple[Transformation, float, float]:
    """The transformation that puts the page's visible box, turned by its /Rotate as a
    viewer shows it, at the origin; and that box's width and height."""
    box = page.cropbox
    left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    if right - left <= 0 or top - bottom <= 0:
        raise ExhibitNotUsable("a page of the PDF has no size")
    rotation = page.rotation % 360
    turn = Transformation().translate(-(left + right) / 2, -(bottom + top) / 2).rotate(-rotation)
    corners = [turn.apply_on(point) for point in ((left, bottom), (right, top), (left, top), (right, bottom))]
    min_x = min(x for x, _ in corners)
    min_y = min(y for _, y in corners)
    width = max(x for x, _ in corners) - min_x
    height = max(y for _, y in corners) - min_y
    return turn.translate(-min_x, -min_y), width, height


def _open(data: bytes) -> PdfReader:
    """pypdf's reader of the PDF, of qpdf's repaired copy when pypdf cannot read the
    original whole (`pdf_repair`): a scanner app's PDF without a cross-reference table
    is still an exhibit."""
    try:
        stream = io.BytesIO(data)
        form, repaired = pdf_repair.readable_form(stream)
        if repaired:
            with form:
                stream = io.BytesIO(form.read())
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (PyPdfError, NotImplementedError, ValueError) as exc:
                raise ExhibitNotUsable("the PDF is password-protected") from exc
            if not opened:
                raise ExhibitNotUsable("the PDF is password-protected")
        return reader
    except ExhibitNotUsable:
        raise
    except Exception as exc:  # untrusted input
        log.info("exhibit could not be opened: %r", exc)
        raise ExhibitNotUsable("the PDF could not be read") from exc


def merge_exhibits(writer: PdfWriter, exhibits: Sequence[PreparedExhibit]) -> None:
    """Put each exhibit page under its placeholder: the last pages of the rendered dossier."""
    if not exhibits:
        return
    total = sum(exhibit.pages for exhibit in exhibits)
    first = len(writer.pages) - total
    if first < 0:
        raise RuntimeError(f"rendered dossier has {len(writer.pages)} pages, fewer than its {total} exhibit pages")
    index = first
    for exhibit in exhibits:
        for page in PdfReader(io.BytesIO(exhibit.data)).pages:
            placeholder = writer.pages[index]
            own_resources(placeholder)
            placeholder.merge_page(page, over=False)
            index += 1
