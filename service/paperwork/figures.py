"""Painting the downscaled images into the frames WeasyPrint laid out for them.

The dossier's HTML holds, for each image, an empty frame of fixed size with an id;
WeasyPrint reports where each frame landed (``Page.anchors``). Meanwhile worker
threads decode and downscale the images (Pillow releases the GIL), so the two
overlap instead of adding up. Then each JPEG goes into the PDF as it is (a
``/DCTDecode`` image XObject, no second encoding), fitted inside its frame and
centred, with a hairline around it.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

from service.files import images
from service.files.images import PreparedImage

# At most one image pixel per CSS pixel (96 dpi): a tiny scan is not blown up to fill the frame.
MAX_POINTS_PER_PIXEL: Final = 0.75


@dataclass(frozen=True)
class Frame:
    """Where WeasyPrint put a frame: page index and rectangle in PDF points (origin bottom-left)."""

    page: int
    left: float
    bottom: float
    right: float
    top: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.top - self.bottom


def as_prepared(data: bytes, max_side: int | None = None) -> PreparedImage | None:
    """A worker's preview as the figure it already is, or None when it is not one.

    A preview (`images.preview`) is Pillow's own baseline JPEG, upright, without metadata
    and at most ``images.MAX_SIDE`` a side: what `images.prepare` would make of it again,
    at the cost of a decode and an encode (about 10 ms of CPU a figure, in the job's horse
    beside WeasyPrint) and a second generation of JPEG loss. Only its header is read here;
    anything else (another format, progressive, metadata, too large, another mode) goes
    through `images.prepare` as before. Only for bytes that are our own previews, checked
    against their SHA-256: a patient's original is always decoded and re-encoded.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            info = image.info
            if (image.format != "JPEG" or image.mode not in ("RGB", "L")
                    or max(image.size) > (max_side or images.MAX_SIDE)
                    or any(key in info for key in ("progressive", "progression", "exif", "icc_profile", "adobe"))):
                return None
            width, height = image.size
            return PreparedImage(data, width, height, image.mode)
    except Exception:  # not an image Pillow recognises: `images.prepare` says why
        return None


def placement(image: PreparedImage, frame: Frame) -> tuple[float, float, float, float]:
    """(x, y, width, height) of the image fitted inside the frame, centred, aspect kept."""
    scale = min(frame.width / image.width, frame.height / image.height, MAX_POINTS_PER_PIXEL)
    width, height = image.width * scale, image.height * scale
    return frame.left + (frame.width - width) / 2, frame.bottom + (frame.height - height) / 2, width, height


def paint(writer: PdfWriter, items: list[tuple[str, PreparedImage, Frame]]) -> None:
    """Draw each image into its frame, on top of what the page already shows."""
    by_page: dict[int, list[tuple[str, PreparedImage, Frame]]] = {}
    for item in items:
        by_page.setdefault(item[2].page, []).append(item)
    for index, page_items in by_page.items():
        page = writer.pages[index]
        resources = own_resources(page)
        xobjects = resources.get(NameObject("/XObject"))
        xobjects = DictionaryObject(xobjects.get_object()) if xobjects is not None else DictionaryObject()
        resources[NameObject("/XObject")] = xobjects
        ops = []
        for name, image, frame in page_items:
            key = NameObject(f"/Medtour{name.replace('-', '')}")
            xobjects[key] = writer._add_object(_image_stream(image))
            x, y, w, h = placement(image, frame)
            ops.append(f"q {w:.3f} 0 0 {h:.3f} {x:.3f} {y:.3f} cm {key} Do Q")
            ops.append(f"q 0.78 0.8 0.83 RG 0.5 w {x:.3f} {y:.3f} {w:.3f} {h:.3f} re S Q")
        _append_content(writer, page, "\n".join(ops))


def _image_stream(image: PreparedImage) -> StreamObject:
    stream = StreamObject()
    stream.set_data(image.data)
    stream.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Image"),
        NameObject("/Width"): NumberObject(image.width),
        NameObject("/Height"): NumberObject(image.height),
        NameObject("/ColorSpace"): NameObject("/DeviceGray" if image.mode == "L" else "/DeviceRGB"),
        NameObject("/BitsPerComponent"): NumberObject(8),
        NameObject("/Filter"): NameObject("/DCTDecode"),
    })
    return stream


def _append_content(writer: PdfWriter, page, operations: str) -> None:
    """Wrap the page's own drawing in q/Q (so its transformations end there) and add ours
    after it, without parsing the existing content streams."""
    existing = page.get("/Contents")
    streams = ArrayObject()
    before = StreamObject()
    before.set_data(b"q\n")
    streams.append(writer._add_object(before))
    if existing is not None:
        value = existing.get_object()
        if isinstance(value, ArrayObject):
            streams.extend(value)
        else:
            streams.append(existing)
    after = StreamObject()
    after.set_data(b"\nQ\n" + operations.encode("ascii") + b"\n")
    streams.append(writer._add_object(after))
    page[NameObject("/Contents")] = streams


def own_resources(page) -> DictionaryObject:
    """WeasyPrint shares one /Resources dictionary between pages: give this page its own
    (one level deep, which is what we extend) so additions stay on the page that uses them."""
    resources = page.get("/Resources")
    copy = DictionaryObject()
    if resources is not None:
        for key, value in resources.get_object().items():
            target = value.get_object()
            copy[key] = DictionaryObject(target) if isinstance(target, DictionaryObject) else value
    page[NameObject("/Resources")] = copy
    return copy
