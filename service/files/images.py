"""Photos and scans: previews for staff, clinics and the dossier, and the copies clinics
download before the patient's identity is released.

Every image is decoded by Pillow (HEIC/HEIF through pillow-heif), never handed on as the
patient's bytes: a preview is upright from its EXIF orientation, at most ``MAX_SIDE``
pixels a side, a baseline JPEG without metadata; a clean copy is the same pixels, upright,
re-encoded without EXIF, XMP, IPTC, GPS or text (a phone photo carries the GPS position
of the patient's home and often the owner's name).
"""
from __future__ import annotations

import functools
import io
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Final, TypeVar

import PIL
from PIL import Image, ImageOps, ImageSequence, TiffImagePlugin, UnidentifiedImageError

from service.files.results import CleanCopy, CopyFailed, NotPreviewable, Preview

# A figure frame is the text width by 105 mm; 1000 px fill it at about 180 dpi, sharp on
# screen and in print. Clinics needing more open the original through the index link.
# Larger costs more than the layout itself (bench/paperwork.py: 1600 px made the dossier
# 1.6x WeasyPrint alone, 1000 px about 1.0x), and lets libjpeg decode phone photos at 1/4.
MAX_SIDE: Final = 1000
JPEG_QUALITY: Final = 80
# A clean copy replaces the original for clinics: close to visually lossless, with full
# colour resolution (4:4:4), so a photo of a skin lesion or a film loses nothing one sees.
COPY_JPEG_QUALITY: Final = 95
COPY_WEBP_QUALITY: Final = 95
# Pillow widens the filter with the reduction, so bilinear stays anti-aliased when
# shrinking; bicubic/Lanczos are a little sharper but cost 2-2.5x the CPU per photo,
# which on a 2-core worker no longer hides behind WeasyPrint's layout (bench/paperwork.py).
RESAMPLE: Final = Image.Resampling.BILINEAR
# Refuse anything bigger before decoding it (a 10 MB PNG can inflate to gigabytes).
MAX_PIXELS: Final = 60_000_000
# A clean TIFF copy holds every page; a scan with more is not a patient's document.
MAX_TIFF_PAGES: Final = 500
# Copies over this stay in memory; larger ones spill to a temporary file.
_SPOOL_BYTES: Final = 16 * 1024 * 1024

TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff", "image/heic", "image/heif"})
HEIF_TYPES: Final = frozenset({"image/heic", "image/heif"})

# Tags of the EXIF and TIFF vocabularies.
_ORIENTATION: Final = 0x0112
_EXIF_IFD: Final = 0x8769
_GPS_IFD: Final = 0x8825
_TIFF_XMP: Final = 700
_TIFF_IPTC: Final = 33723
_TIFF_PHOTOSHOP: Final = 34377
# Descriptive TIFF tags that name people or devices: ImageDescription, Make, Model,
# Software, DateTime, Artist, HostComputer, Copyright, DocumentName, PageName.
_TIFF_TEXT_TAGS: Final = frozenset({270, 271, 272, 305, 306, 315, 316, 33432, 269, 285})
_PNG_XMP_KEY: Final = "XML:com.adobe.xmp"

_T = TypeVar("_T")


class ImageNotUsable(Exception):
    """The bytes could not be turned into a preview; the message says why, for people."""


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    width: int
    height: int
    mode: str = "RGB"             # "RGB" or "L"
    mime_type: str = "image/jpeg"


@functools.cache
def register_heif() -> None:
    """Teach Pillow HEIC/HEIF, once per process, when an image is first opened (not at
    import: importing this module must not touch plugins)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def tool(content_type: str | None = None) -> str:
    """The libraries that decode and encode an image of this type, with their versions."""
    name = f"Pillow {PIL.__version__}"
    if content_type in HEIF_TYPES:
        import pillow_heif

        name += f", pillow-heif {pillow_heif.__version__} (libheif {pillow_heif.libheif_version()})"
    return name


def prepare(data: bytes, max_side: int | None = None, quality: int = JPEG_QUALITY) -> PreparedImage:
    """The dossier's figure: upright, at most ``max_side`` a side, baseline JPEG."""
    return _opened(io.BytesIO(data), lambda image: _render(image, max_side or MAX_SIDE, quality), ImageNotUsable)


def preview(stream: BinaryIO) -> Preview:
    """The image as staff and clinics see it: upright, first page of a TIFF, at most
    ``MAX_SIDE`` a side, a baseline JPEG without metadata. Raises `NotPreviewable`."""
    prepared = _opened(stream, lambda image: _render(image, MAX_SIDE, JPEG_QUALITY), NotPreviewable)
    return Preview(prepared.data, prepared.width, prepared.height, prepared.mode)


def clean_copy(stream: BinaryIO, content_type: str) -> CleanCopy:
    """The copy a clinic downloads before release: orientation applied to the pixels,
    then re-encoded without EXIF, XMP, IPTC, GPS, comments or text chunks (the ICC
    profile is kept: it is the photo's colours, not the patient's). JPEG, PNG, WebP and
    TIFF (every page) keep their format; HEIC/HEIF become JPEG, which every clinic opens.
    Raises `CopyFailed` when the image cannot be decoded."""
    if content_type not in TYPES:
        raise CopyFailed(f"not an image type this reader handles ({content_type})")
    head = stream.read(64)
    stream.seek(0)
    return _opened(stream, lambda image: _copy(image, content_type, head), CopyFailed)


def _opened(stream: BinaryIO, use: Callable[[Image.Image], _T], error: type[Exception]) -> _T:
    """Open the image under Pillow's and our pixel limits and apply ``use``; whatever an
    untrusted file makes Pillow trip over becomes ``error`` with a reason."""
    register_heif()
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise error(f"the image is too large to decode ({width}×{height} pixels)")
                return use(image)
    except error:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise error("the image could not be read") from exc
    except Exception as exc:  # untrusted input: truncated or corrupt data, a codec's refusal
        raise error("the image could not be read (damaged or incomplete)") from exc
    finally:
        stream.seek(0)


def _render(image: Image.Image, max_side: int, quality: int) -> PreparedImage:
    width, height = image.size
    if image.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the
        # target (a 12-megapixel phone photo decodes at 2016×1512, not 4032×3024).
        scale = min(1.0, max_side / max(width, height))
        image.draft(image.mode, (max(1, round(width * scale)), max(1, round(height * scale))))
    image.seek(0)  # first frame of a multi-page TIFF
    picture = ImageOps.exif_transpose(image)
    picture.thumbnail((max_side, max_side), RESAMPLE, reducing_gap=3.0)
    picture = _flatten(picture)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality, optimize=False, progressive=False)
    return PreparedImage(out.getvalue(), picture.width, picture.height, picture.mode)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB or greyscale, transparency composed on white (JPEG has no alpha)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode.startswith("I") or image.mode == "F":  # 16-bit or float greyscale scans
        wide = image.convert("I")
        top = wide.getextrema()[1] or 1
        return wide.point(lambda v: v * 255 / top if top > 255 else v).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _present(image: Image.Image) -> list[str]:
    """What the original carries that a clean copy leaves out, in the words staff see."""
    info = image.info
    tags = getattr(image, "tag_v2", None)
    found: list[str] = []
    try:
        exif = image.getexif()
        gps = bool(exif.get_ifd(_GPS_IFD)) or _GPS_IFD in exif
    except Exception:  # untrusted input: a broken EXIF block is still an EXIF block
        exif, gps = Image.Exif(), bool(info.get("exif"))
    if tags is not None:
        has_exif = _EXIF_IFD in tags or _GPS_IFD in tags
    else:
        has_exif = bool(info.get("exif")) or bool(exif)
    if gps:
        found.append("GPS")
    if has_exif:
        found.append("EXIF")
    if info.get("xmp") or _PNG_XMP_KEY in info or (tags is not None and _TIFF_XMP in tags):
        found.append("XMP")
    photoshop = info.get("photoshop")
    if (isinstance(photoshop, dict) and 0x0404 in photoshop) or (
        tags is not None and (_TIFF_IPTC in tags or _TIFF_PHOTOSHOP in tags)
    ):
        found.append("IPTC")
    if tags is not None and _TIFF_TEXT_TAGS & set(tags):
        found.append("TIFF text tags")
    if info.get("comment"):
        found.append("comment")
    text = getattr(image, "text", None) if image.format == "PNG" else None
    if text and set(text) - {_PNG_XMP_KEY}:
        found.append("text chunks")
    if info.get("mp") or info.get("thumbnails") or info.get("depth_images"):
        found.append("embedded images")
    return found


def _clean(picture: Image.Image, keep_icc: bytes | None) -> Image.Image:
    """The pixels alone: nothing of the original's ``info`` rides along into the encoder
    (Pillow's TIFF writer would otherwise carry XMP and IPTC over)."""
    bare = picture.copy()
    bare.info = {}
    if keep_icc:
        bare.info["icc_profile"] = keep_icc
    if "transparency" in picture.info:
        bare.info["transparency"] = picture.info["transparency"]
    return bare


def _copy(image: Image.Image, content_type: str, head: bytes) -> CleanCopy:
    removed = tuple(_present(image))
    icc = image.info.get("icc_profile") or None
    dpi = image.info.get("dpi")
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    try:
        if content_type == "image/tiff":
            _copy_tiff(image, out)
            out_type = "image/tiff"
        else:
            image.seek(0)
            picture = _clean(ImageOps.exif_transpose(image), icc)
            if content_type == "image/png":
                picture.save(out, format="PNG", icc_profile=icc, optimize=False)
                out_type = "image/png"
            elif content_type == "image/webp":
                lossless = b"VP8L" in head
                picture.save(out, format="WEBP", lossless=lossless, quality=100 if lossless else COPY_WEBP_QUALITY,
                             icc_profile=icc or b"", exact=lossless)
                out_type = "image/webp"
            else:  # JPEG, and HEIC/HEIF made JPEG
                picture = _flatten(picture) if picture.mode not in ("RGB", "L", "CMYK") else picture
                picture.save(out, format="JPEG", quality=COPY_JPEG_QUALITY, subsampling=0, icc_profile=icc,
                             **({"dpi": dpi} if dpi else {}))
                out_type = "image/jpeg"
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return CleanCopy(stream=out, content_type=out_type, removed=removed, tool=tool(content_type))  # type: ignore[arg-type]


def _copy_tiff(image: Image.Image, out: BinaryIO) -> None:
    """Every page, each upright by its own orientation tag, its pixels alone, written one
    at a time (a long scan is never all in memory), compressed losslessly (LZW; Group 4
    for black-and-white pages)."""
    with TiffImagePlugin.AppendingTiffWriter(out) as writer:
        for number, frame in enumerate(ImageSequence.Iterator(image)):
            if number >= MAX_TIFF_PAGES:
                raise CopyFailed(f"the TIFF has more than {MAX_TIFF_PAGES} pages")
            width, height = frame.size
            if width * height > MAX_PIXELS:
                raise CopyFailed(f"page {number + 1} of the TIFF is too large to decode ({width}×{height} pixels)")
            dpi = frame.info.get("dpi")
            page = _clean(ImageOps.exif_transpose(frame), frame.info.get("icc_profile") or None)
            compression = "group4" if page.mode == "1" else "tiff_lzw"  # fax coding for black-and-white scans
            page.save(writer, format="TIFF", compression=compression, **({"dpi": dpi} if dpi else {}))
            writer.newFrame()
