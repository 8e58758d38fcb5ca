"""Photos and scans made small and safe before they go into a PDF.

Every image is decoded by Pillow (never by the PDF renderer straight from the
patient's bytes), turned upright from its EXIF orientation, bounded to
``MAX_SIDE`` pixels and re-encoded as a baseline JPEG without metadata (no GPS
position or camera serial from a phone photo ends up in a clinic's inbox).
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

# A figure frame is the text width by 105 mm; 1000 px fill it at about 180 dpi, sharp on
# screen and in print. Clinics needing more open the original through the index link.
# Larger costs more than the layout itself (bench/paperwork.py: 1600 px made the dossier
# 1.6x WeasyPrint alone, 1000 px about 1.0x), and lets libjpeg decode phone photos at 1/4.
MAX_SIDE: Final = 1000
JPEG_QUALITY: Final = 80
# Pillow widens the filter with the reduction, so bilinear stays anti-aliased when
# shrinking; bicubic/Lanczos are a little sharper but cost 2-2.5x the CPU per photo,
# which on a 2-core worker no longer hides behind WeasyPrint's layout (bench/paperwork.py).
RESAMPLE: Final = Image.Resampling.BILINEAR
# Refuse anything bigger before decoding it (a 10 MB PNG can inflate to gigabytes).
MAX_PIXELS: Final = 60_000_000


class ImageNotUsable(Exception):
    """The bytes could not be turned into a preview; the message says why, for people."""


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    width: int
    height: int
    mode: str = "RGB"             # "RGB" or "L"
    mime_type: str = "image/jpeg"


def prepare(data: bytes, max_side: int | None = None, quality: int = JPEG_QUALITY) -> PreparedImage:
    max_side = max_side or MAX_SIDE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageNotUsable(f"the image is too large to preview ({width}×{height} pixels)")
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
    except ImageNotUsable:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageNotUsable("the image could not be read") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt data
        raise ImageNotUsable("the image could not be read") from exc


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
