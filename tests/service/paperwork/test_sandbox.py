"""The renderer reaches nothing but our own assets and the bytes registered for it."""
from __future__ import annotations

import re
from datetime import date

import pytest

from service.paperwork import (
    FetchRefused,
    SandboxedFetcher,
    build_confirmation_pdf,
    build_dossier_pdf,
    confirmation_content,
    dossier_content,
    render_pdf,
)
from service.paperwork.render import STATIC_ROOT, Resource
from tests.fixtures import files
from tests.service.paperwork import fakes, pdfs

HOSTILE = (
    'Knee pain. <img src="file:///etc/passwd"> '
    '<img src="http://169.254.169.254/latest/meta-data/"> '
    '<link rel=stylesheet href="file:///etc/passwd"> '
    "<style>@import url(https://evil.example/x.css);</style>"
)
OURS = re.compile(r"^/[A-Z]{6}\+Medtour-Sans(-Bold)?$")  # subset tag + the family our @font-face names


@pytest.fixture(autouse=True)
def parent_fetcher_never_runs(monkeypatch):
    """If the sandbox ever fell through to WeasyPrint's own fetcher (urllib), fail loudly."""
    from weasyprint.urls import URLFetcher

    def forbidden(self, url, headers=None):
        raise AssertionError(f"default fetcher called for {url}")

    monkeypatch.setattr(URLFetcher, "fetch", forbidden)


def test_patient_markup_is_shown_as_text_and_nothing_is_fetched():
    case = fakes.Case(description=HOSTILE, medications='<link rel=stylesheet href="file:///etc/passwd">')
    store = fakes.Store()
    store.add(case, "<img src=file:---etc-passwd>.jpg", "image/jpeg", fakes.photo())
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=date(2026, 1, 1))
    fetcher = SandboxedFetcher()
    rendered = build_dossier_pdf(content, store.read, fetcher=fetcher)
    text = pdfs.squeeze(" ".join(pdfs.page_texts(rendered.data)))
    for shown in ('<img src="file:///etc/passwd">', '<img src="http://169.254.169.254/latest/meta-data/">',
                  '<link rel=stylesheet href="file:///etc/passwd">', "@import url(https://evil.example/x.css);",
                  "<img src=file:---etc-passwd>.jpg"):
        assert pdfs.squeeze(shown) in text, shown
    assert "root:x:0:0" not in text
    # Only our fonts were asked for (figures are painted in after layout, not fetched).
    assert set(fetcher.served) == {"medtour-static:fonts/DejaVuSans.ttf", "medtour-static:fonts/DejaVuSans-Bold.ttf"}
    assert fetcher.refused == []
    assert pdfs.images(rendered.data) == [(640, 480)]


def test_raw_hostile_html_is_refused_by_the_fetcher():
    """Even markup that reached the renderer unescaped could not fetch anything."""
    html = (
        "<html><head><link rel=stylesheet href='file:///etc/passwd'>"
        "<style>@import url(https://evil.example/x.css); @font-face { font-family: X; src: local(DejaVu Sans); }</style>"
        "</head><body><p>Text</p>"
        "<img src='file:///etc/passwd'><img src='http://169.254.169.254/latest/meta-data/'>"
        "<img src='ftp://example.org/x.png'><img src='data:image/png;base64,iVBORw0KGgo='>"
        "<img src='relative.png'><img src='medtour-static:../config.py'>"
        "<object data='file:///etc/passwd'></object><embed src='file:///etc/hostname'>"
        "</body></html>"
    )
    fetcher = SandboxedFetcher()
    data = render_pdf(html, fetcher)
    text = " ".join(pdfs.page_texts(data))
    assert "Text" in text
    assert "root:x:0:0" not in text
    assert fetcher.served == []
    for url in ("file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "https://evil.example/x.css",
                "ftp://example.org/x.png", "data:image/png;base64,iVBORw0KGgo=", "medtour-static:../config.py"):
        assert url in fetcher.refused, url
    assert not pdfs.images(data)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "https://example.org/font.ttf",
    "ftp://example.org/x",
    "data:text/css,body{}",
    "gopher://example.org/",
    "javascript:alert(1)",
    "relative/path.png",
    "/etc/passwd",
    "medtour-static:../config.py",
    "medtour-static:fonts/../../config.py",
    "medtour-static:/etc/passwd",
    "medtour-static:fonts/%2e%2e/%2e%2e/config.py",
    "medtour-static:js/files.js",          # exists, but not a type documents use
    "medtour-static:fonts/missing.ttf",
    "medtour-attachment:not-registered",
    "medtour-attachment:../x",
])
def test_fetcher_refuses(url):
    fetcher = SandboxedFetcher({"figure-1": Resource(b"x", "image/jpeg")})
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_serves_our_font_and_registered_bytes():
    fetcher = SandboxedFetcher({"figure-1": Resource(b"jpeg bytes", "image/jpeg")})
    font = fetcher.fetch("medtour-static:fonts/DejaVuSans.ttf")
    assert font.read() == (STATIC_ROOT / "fonts" / "DejaVuSans.ttf").read_bytes()
    assert font.content_type == "font/ttf"
    figure = fetcher("medtour-attachment:figure-1")
    assert figure.read() == b"jpeg bytes" and figure.content_type == "image/jpeg"
    assert fetcher.served == ["medtour-static:fonts/DejaVuSans.ttf", "medtour-attachment:figure-1"]


def test_vendored_fonts_and_licence_are_in_the_repository():
    fonts = STATIC_ROOT / "fonts"
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        assert (fonts / name).read_bytes()[:4] == b"\x00\x01\x00\x00"
    assert "Bitstream Vera" in (fonts / "LICENSE-DejaVu.txt").read_text()


def test_documents_use_only_the_vendored_font():
    """Latin and Cyrillic come from the font we ship, not whatever the machine has."""
    case = fakes.Case(description="Боль в колене после травмы", language="ru")
    confirmation = build_confirmation_pdf(confirmation_content(case, [], "care@medtour.test"))
    used = pdfs.fonts(confirmation.data)
    assert used and all(OURS.search(name) for name in used), used

    store = fakes.Store()
    store.add(case, "report.pdf", "application/pdf", files.pdf())
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for)
    dossier = build_dossier_pdf(content, store.read)
    summary = range(dossier.pages - 1)  # the last page carries the patient's own PDF (Helvetica)
    used = pdfs.fonts(dossier.data, summary)
    assert used and all(OURS.search(name) for name in used), used


def test_resource_names_are_checked():
    fetcher = SandboxedFetcher()
    with pytest.raises(ValueError):
        fetcher.register("../../etc/passwd", Resource(b"", "image/jpeg"))
    assert fetcher.register("figure-2", Resource(b"", "image/jpeg")) == "medtour-attachment:figure-2"
