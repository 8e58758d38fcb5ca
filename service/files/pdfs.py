"""A PDF's preview (its first page, rendered by Poppler) and its copy for clinics (the
same pages without the metadata that names its author).

Both read the repaired form when the file is broken (`pdf_repair`): what the patient's
viewer showed them is what staff and clinics are shown.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO, Final

import pikepdf
from PIL import Image

from service.files import images, pdf_repair
from service.files.results import CleanCopy, CopyFailed, NotPreviewable, Preview

PDFTOPPM: Final = "/usr/bin/pdftoppm"
# A scan's first page renders in well under a second; a page built to keep Poppler busy
# is stopped (and the file listed without preview) rather than hold a worker.
RENDER_TIMEOUT_SECONDS: Final = 60
JPEG_OPTIONS: Final = f"quality={images.JPEG_QUALITY},progressive=n,optimize=n"
TOOL: Final = f"pikepdf {pikepdf.__version__} (qpdf {pikepdf.__libqpdf_version__})"
CONTENT_TYPE: Final = "application/pdf"


def preview(stream: BinaryIO) -> Preview:
    """The first page as a baseline JPEG at most ``images.MAX_SIDE`` pixels a side, as
    Poppler draws it (its /Rotate applied). Raises `NotPreviewable` with the reason."""
    try:
        with tempfile.TemporaryDirectory(prefix="pdf-preview-") as folder:
            source, prefix = Path(folder) / "source.pdf", Path(folder) / "page"
            stream.seek(0)
            with source.open("wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            if not _opens_cleanly(source):
                _replace_with_repaired(source)
            data = _render_first_page(source, prefix)
    finally:
        stream.seek(0)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height, mode = image.width, image.height, image.mode
    except Exception as exc:  # Poppler wrote something that is not a JPEG
        raise NotPreviewable("the PDF's first page could not be rendered") from exc
    return Preview(data=data, width=width, height=height, mode=mode if mode in ("RGB", "L") else "RGB")


def _opens_cleanly(source: Path) -> bool:
    """qpdf's quick look (the cross-reference table and the page tree, not the content):
    no warning means nothing had to be recovered. A tenth of pypdf's time on a 40-page
    scan, which matters when the whole preview takes 40 ms (bench/previews.py)."""
    try:
        with pikepdf.open(source) as pdf:
            return len(pdf.pages) > 0 and not pdf.get_warnings()
    except Exception:  # untrusted input: qpdf could not even open it; the repair decides
        return False


def _replace_with_repaired(source: Path) -> None:
    """Put qpdf's repaired copy in place of the original, as every other reader sees it;
    when qpdf cannot open it either (or it needs a password), Poppler tries the original
    and says why it could not."""
    with source.open("rb") as original:
        repaired = pdf_repair.repaired(original)
    if repaired is None:
        return
    with repaired, source.open("wb") as out:
        shutil.copyfileobj(repaired, out, 1024 * 1024)


def _render_first_page(source: Path, prefix: Path) -> bytes:
    side = str(images.MAX_SIDE)
    command = [PDFTOPPM, "-f", "1", "-l", "1", "-jpeg", "-jpegopt", JPEG_OPTIONS,
               "-scale-to", side, "-singlefile", str(source), str(prefix)]
    try:
        result = subprocess.run(command, capture_output=True, timeout=RENDER_TIMEOUT_SECONDS, check=False)
    except FileNotFoundError as exc:
        raise NotPreviewable("not previewable (Poppler's pdftoppm is not installed)") from exc
    except subprocess.TimeoutExpired as exc:
        raise NotPreviewable(f"the PDF's first page took longer than {RENDER_TIMEOUT_SECONDS} s to render") from exc
    output = prefix.with_suffix(".jpg")
    if result.returncode != 0 or not output.exists():
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = f" (pdftoppm: {said[-1][:200]})" if said else ""
        raise NotPreviewable(f"the PDF's first page could not be rendered{reason}")
    return output.read_bytes()


def clean_copy(stream: BinaryIO) -> CleanCopy:
    """The PDF without its document information (author, creator, title...), its XMP
    metadata and the pages' own metadata and application data (/PieceInfo); pages,
    fonts, images and everything else kept. Written by qpdf from what it reads, repaired
    when broken. Raises `CopyFailed` when no reader opens it."""
    copy = tempfile.SpooledTemporaryFile(max_size=pdf_repair.SPOOL_BYTES)  # noqa: SIM115 - handed to the caller
    try:
        with pdf_repair.opened(stream) as pdf:
            removed = _strip(pdf)
            pdf.save(copy, encryption=False, fix_metadata_version=False)
    except pikepdf.PasswordError as exc:
        copy.close()
        raise CopyFailed("the PDF is locked with a password") from exc
    except Exception as exc:  # untrusted input: qpdf could not read or write it
        copy.close()
        raise CopyFailed("the PDF cannot be read by any reader (it is damaged beyond repair)") from exc
    copy.seek(0)
    return CleanCopy(stream=copy, content_type=CONTENT_TYPE, removed=removed, tool=TOOL)  # type: ignore[arg-type]


def _strip(pdf: pikepdf.Pdf) -> tuple[str, ...]:
    """Take out what may name a person, and say what was there."""
    removed: list[str] = []
    if "/Info" in pdf.trailer:
        info = pdf.trailer.Info
        keys = sorted(str(key)[1:] for key in info.keys()) if isinstance(info, pikepdf.Dictionary) else []
        removed.append(f"PDF Info ({', '.join(keys)})" if keys else "PDF Info")
        del pdf.trailer["/Info"]
    if "/Metadata" in pdf.Root:
        del pdf.Root["/Metadata"]
        removed.append("XMP metadata")
    if "/PieceInfo" in pdf.Root:
        del pdf.Root["/PieceInfo"]
        removed.append("application data (PieceInfo)")
    for key, label in (("/Metadata", "XMP metadata"), ("/PieceInfo", "application data (PieceInfo)")):
        count = 0
        for page in pdf.pages:
            if key in page.obj:
                del page.obj[key]
                count += 1
        if count:
            removed.append(f"{label} of {count} page" + ("" if count == 1 else "s"))
    return tuple(removed)
