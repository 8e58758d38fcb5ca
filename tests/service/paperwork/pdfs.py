"""Reading generated PDFs back, the way a clinic's viewer would."""
from __future__ import annotations

import io
import re

from pypdf import PdfReader


def reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in reader(data).pages]


def flat(text: str) -> str:
    """Whitespace collapsed, so a phrase wrapped over two lines still matches."""
    return re.sub(r"\s+", " ", text)


def squeeze(text: str) -> str:
    """All whitespace removed, for text a PDF may wrap anywhere (URLs, markup)."""
    return re.sub(r"\s+", "", text)


def images(data: bytes, page: int | None = None) -> list[tuple[int, int]]:
    """(width, height) of each distinct image XObject the pages (or one page) use, forms included."""
    found: dict[object, tuple[int, int]] = {}

    def walk(resources, depth: int = 0) -> None:
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources else None
        for ref in (xobjects.get_object().values() if xobjects else []):
            obj = ref.get_object()
            key = getattr(ref, "idnum", id(obj))
            if obj.get("/Subtype") == "/Image":
                found[key] = (int(obj["/Width"]), int(obj["/Height"]))
            elif obj.get("/Subtype") == "/Form" and depth < 5:
                walk(obj.get("/Resources"), depth + 1)

    pages = reader(data).pages
    for one in (pages if page is None else [pages[page]]):
        walk(one.get("/Resources"))
    return list(found.values())


def fonts(data: bytes, pages: range | None = None) -> set[str]:
    out = set()
    pdf = reader(data)
    for index in pages if pages is not None else range(len(pdf.pages)):
        resources = pdf.pages[index].get("/Resources")
        fonts = resources.get_object().get("/Font") if resources else None
        for ref in (fonts.get_object().values() if fonts else []):
            out.add(str(ref.get_object().get("/BaseFont")))
    return out


def link_uris(data: bytes) -> list[str]:
    uris = []
    for page in reader(data).pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            if action and action.get_object().get("/URI"):
                uris.append(str(action.get_object()["/URI"]))
    return uris
