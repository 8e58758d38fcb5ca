"""Broken PDFs viewers open become exhibits of the dossier (from qpdf's repaired copy),
read back with pypdf; a file no reader opens is still listed as not included."""
from __future__ import annotations

import re
from datetime import date

import pytest

from service.paperwork import build_dossier_pdf, dossier_content
from service.paperwork import exhibits
from tests.fixtures import broken_pdfs
from tests.service.paperwork import fakes, pdfs

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def dossier():
    case = fakes.Case()
    store = fakes.Store()
    for shape, make in broken_pdfs.SHAPES.items():
        store.add(case, f"{shape}.pdf", "application/pdf", make())
    store.add(case, "garbage.pdf", "application/pdf", broken_pdfs.garbage())
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=TODAY)
    rendered = build_dossier_pdf(content, store.read)
    texts = pdfs.page_texts(rendered.data)
    return {"texts": texts, "all": pdfs.flat("\n".join(texts))}


@pytest.mark.parametrize("shape", list(broken_pdfs.SHAPES))
def test_a_broken_pdf_becomes_an_exhibit_whose_pages_read_their_words(dossier, shape):
    text = dossier["all"]
    assert re.search(rf"{re.escape(shape)}\.pdf PDF · [\d,.]+ (?:bytes|KB) · 2 pages", text), text[:3000]
    assert f"{shape}.pdf could not be included" not in text
    pages = [page for page in dossier["texts"] if f"— {shape}.pdf" in page]
    assert pages, f"no exhibit page for {shape}.pdf"
    for word in broken_pdfs.WORDS[shape]:
        assert any(word in pdfs.flat(page) for page in dossier["texts"]), word


def test_each_exhibit_has_its_own_pages_in_order(dossier):
    """Two pages per broken file, the repaired words on each (five files, ten pages)."""
    placed = [pdfs.flat(page) for page in dossier["texts"] if "Haemoglobin 135 g/L" in page]
    assert len(placed) == len(broken_pdfs.SHAPES)


def test_a_pdf_no_reader_opens_is_listed_as_not_included(dossier):
    assert re.search(r"garbage\.pdf PDF · [\d,.]+ (?:bytes|KB) could not be included: the PDF could not be read",
                     dossier["all"])


@pytest.mark.parametrize("shape", ["no-xref", "truncated-after-last-page"])
def test_pages_of_a_broken_pdf_are_counted_from_the_repaired_copy(shape):
    assert exhibits.count_pages(broken_pdfs.SHAPES[shape]()) == 2
    prepared = exhibits.prepare_exhibit(broken_pdfs.SHAPES[shape]())
    assert prepared.source_pages == 2
    assert [pdfs.flat(t).strip() for t in pdfs.page_texts(prepared.data)] == list(broken_pdfs.TEXTS)
