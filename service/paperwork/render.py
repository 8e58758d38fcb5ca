"""HTML → PDF with WeasyPrint, in a sandbox.

WeasyPrint fetches whatever a document references (stylesheets, fonts, images).
Documents here carry text patients typed, so the renderer may reach exactly two
things, through :class:`SandboxedFetcher`:

* ``medtour-static:<path>`` — the project's own files under ``service/static/``
  (the vendored fonts), read-only, no path escaping that folder;
* ``medtour-attachment:<name>`` — bytes registered for this one render (an image
  a template embeds; the dossier itself paints its figures in after layout, see
  :mod:`service.paperwork.figures`, so WeasyPrint never decodes patient images).

Everything else is refused: ``file:``, ``http(s):``, ``ftp:``, any other scheme,
relative URLs (there is no base URL), and ``data:`` too. ``data:`` URLs can reach
neither the network nor the disk, but nothing we write needs them and accepting
them would open a second way for images into the PDF that skips the bounded
Pillow pipeline (decompression bombs, SVG). A refusal raises an ordinary
exception, which WeasyPrint treats as a failed fetch: the resource is simply not
rendered, and the URL is recorded in ``fetcher.refused``.

Templates are rendered by a private Jinja environment with autoescaping always
on, so patient text is text, never markup.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from service.i18n import human_size

log = logging.getLogger(__name__)

SERVICE_ROOT: Final = Path(__file__).resolve().parent.parent
STATIC_ROOT: Final = SERVICE_ROOT / "static"
TEMPLATE_ROOT: Final = SERVICE_ROOT / "templates"

STATIC_SCHEME: Final = "medtour-static"
ATTACHMENT_SCHEME: Final = "medtour-attachment"

# Only what a document may legitimately use from service/static/.
_STATIC_SUFFIXES: Final = {".ttf": "font/ttf", ".otf": "font/otf", ".woff": "font/woff",
                           ".woff2": "font/woff2", ".css": "text/css", ".png": "image/png",
                           ".jpg": "image/jpeg", ".svg": "image/svg+xml"}
_ATTACHMENT_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_static_cache: dict[Path, bytes] = {}


class FetchRefused(ValueError):
    """A URL the sandbox does not serve. WeasyPrint logs it and renders without it."""


@dataclass(frozen=True)
class Resource:
    data: bytes
    mime_type: str


class SandboxedFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves our static assets and registered bytes only.

    It never calls the parent class's ``fetch``: nothing reaches urllib, the disk
    outside ``service/static`` or the network.
    """

    def __init__(self, resources: Mapping[str, Resource] | None = None) -> None:
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self._resources: dict[str, Resource] = {}
        self.served: list[str] = []
        self.refused: list[str] = []
        for name, resource in (resources or {}).items():
            self.register(name, resource)

    def register(self, name: str, resource: Resource) -> str:
        """Make ``resource`` reachable at the returned ``medtour-attachment:<name>`` URL."""
        if not _ATTACHMENT_NAME.fullmatch(name):
            raise ValueError(f"resource names are 1-64 letters, digits, '-' or '_': {name!r}")
        self._resources[name] = resource
        return attachment_url(name)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        try:
            data, mime_type = self._resolve(url)
        except FetchRefused:
            self.refused.append(url)
            log.info("paperwork renderer refused to fetch %.200s", url)
            raise
        self.served.append(url)
        return URLFetcherResponse(url, data, {"Content-Type": mime_type})

    def _resolve(self, url: str) -> tuple[bytes, str]:
        if not isinstance(url, str):
            raise FetchRefused("not a URL")
        scheme, colon, rest = url.partition(":")
        if not colon:
            raise FetchRefused(f"not an absolute URL: {url[:200]}")
        scheme = scheme.lower()
        rest = rest.split("#", 1)[0]
        if scheme == ATTACHMENT_SCHEME:
            resource = self._resources.get(rest)
            if resource is None:
                raise FetchRefused(f"no resource registered as {rest[:80]!r}")
            return resource.data, resource.mime_type
        if scheme == STATIC_SCHEME:
            return _static(rest)
        raise FetchRefused(f"scheme not allowed: {scheme[:40]}")


def attachment_url(name: str) -> str:
    return f"{ATTACHMENT_SCHEME}:{name}"


def static_url(path: str) -> str:
    return f"{STATIC_SCHEME}:{path}"


def _static(path: str) -> tuple[bytes, str]:
    if not path or "\\" in path or "%" in path or "?" in path or path.startswith("/"):
        raise FetchRefused(f"bad static path: {path[:200]!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        raise FetchRefused(f"bad static path: {path[:200]!r}")
    target = (STATIC_ROOT / path).resolve()
    if not target.is_relative_to(STATIC_ROOT) or not target.is_file():
        raise FetchRefused(f"no such static file: {path[:200]!r}")
    mime_type = _STATIC_SUFFIXES.get(target.suffix.lower())
    if mime_type is None:
        raise FetchRefused(f"static file type not served: {path[:200]!r}")
    data = _static_cache.get(target)
    if data is None:
        data = _static_cache[target] = target.read_bytes()
    return data, mime_type


# --------------------------------------------------------------------------- templates


def _css_string(value: Any) -> Markup:
    """A CSS string literal for ``content:``; safe inside <style> whatever ``value`` holds."""
    out = []
    for ch in str(value):
        if ch in "\"\\<>&'" or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return Markup('"' + "".join(out) + '"')


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_ROOT)),
        autoescape=True,  # always: every value is patient text until proven otherwise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css_string"] = _css_string
    env.filters["filesize"] = human_size
    env.globals["static_url"] = static_url
    return env


ENV: Final = _environment()


def render_template(name: str, **context: Any) -> str:
    return ENV.get_template(name).render(**context)


# --------------------------------------------------------------------------- PDF


# WeasyPrint lays out in CSS pixels (1/96 in) and writes PDF points (1/72 in).
_PT_PER_PX: Final = 0.75


@dataclass(frozen=True)
class PdfOutput:
    data: bytes
    pages: int
    # Element id -> (page index, left, bottom, right, top) in PDF points, origin bottom-left.
    anchors: dict[str, tuple[int, float, float, float, float]]


def render_document(html: str, fetcher: SandboxedFetcher | None = None) -> PdfOutput:
    """Render with the sandbox; also report the page count and where each id landed."""
    fetcher = fetcher if fetcher is not None else SandboxedFetcher()
    font_config = FontConfiguration()
    try:
        document = HTML(string=html, base_url=None, url_fetcher=fetcher).render(font_config=font_config)
        anchors = {}
        for index, page in enumerate(document.pages):
            height = page.height * _PT_PER_PX
            for name, (x1, y1, x2, y2) in page.anchors.items():
                anchors[name] = (index, x1 * _PT_PER_PX, height - y2 * _PT_PER_PX,
                                 x2 * _PT_PER_PX, height - y1 * _PT_PER_PX)
        data = document.write_pdf()
        return PdfOutput(data=data, pages=len(document.pages), anchors=anchors)
    finally:
        del font_config  # removes WeasyPrint's temporary font folder


def render_pdf(html: str, fetcher: SandboxedFetcher | None = None) -> bytes:
    """The PDF for ``html``; resources come only through ``fetcher`` (see module doc)."""
    return render_document(html, fetcher).data
