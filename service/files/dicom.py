"""One DICOM file: what it is (study, series, instance), a windowed preview of its image,
and the copy a clinic gets before release (DICOM PS3.15 Annex E, Basic Application Level
Confidentiality Profile).

A file is DICOM when it has the Part 10 preamble (``DICM`` at byte 128), never by its name:
discs name files ``IM000001`` or ``1.2.840...`` or nothing at all.

Previews decode with pydicom and whatever decoder plugins are installed (pylibjpeg-libjpeg
for JPEG and JPEG-LS, pylibjpeg-openjpeg or Pillow for JPEG 2000, pydicom itself for RLE and
deflate). Whether a transfer syntax previews is asked of pydicom's decoder registry at run
time, so installing a plugin (e.g. one for JPEG XL or a video syntax) changes the answer
without code here changing.

The clean copy applies the profile's table as dicom-anonymizer ships it (its newest
edition, PS3.15 2026c), with our own actions: dicom-anonymizer's own UID replacement keeps a
process-wide dictionary of random UIDs (one worker would link two cases' files, a restarted
one would split one case's series), it writes 00010101 into dates it should empty
(PatientBirthDate included), empties Referenced Image Sequences instead of remapping the
UIDs in them, and applies its table to the top level only. Here UIDs are remapped from
(case salt, original UID), so a series still belongs together across every file of the
case and nowhere else, and the table applies inside sequences too.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, Final

from service.files.images import MAX_PIXELS, MAX_SIDE
from service.files.results import BURNED_IN, CleanCopy, CopyFailed, NotPreviewable, Preview

MAGIC_OFFSET: Final = 128
MAGIC: Final = b"DICM"
CONTENT_TYPE: Final = "application/dicom"
# The profile's table, as dicom-anonymizer names its editions of PS3.15 Table E.1-1.
PROFILE_EDITION: Final = "dicomfields_2026c"
# De-identification Method is LO (64 characters a value), so one value per statement.
DEIDENTIFICATION_METHOD: Final = (
    "DICOM PS3.15 Annex E Basic Application Confidentiality Profile",
    "UIDs remapped per case",
    "patient name and ID replaced by the case reference",
)
# A clean copy lives in memory up to this size, then in a temporary file.
SPOOL_BYTES: Final = 16 * 1024 * 1024
# Files up to this size are parsed once, whole; bigger ones frame by frame.
READ_WHOLE_BYTES: Final = 64 * 1024 * 1024
# Frames bigger than a whole-slide tile or a mammogram are refused before decoding.
MAX_FRAME_PIXELS: Final = MAX_PIXELS

# A deflated file is inflated within this bound (pydicom would inflate it whole: a few
# megabytes of zeros deflate a thousandfold).
MAX_INFLATED_BYTES: Final = 256 * 1024 * 1024

_DEFLATED: Final = "1.2.840.10008.1.2.1.99"
_PIECE: Final = 1024 * 1024
_DIRECTORY_STORAGE: Final = "1.2.840.10008.1.3.10"
_SECONDARY_CAPTURE_PREFIX: Final = "1.2.840.10008.5.1.4.1.1.7"  # SC and its multi-frame kinds
_ENCAPSULATED_PREFIX: Final = "1.2.840.10008.5.1.4.1.1.104."  # PDF, CDA, STL... documents
_DUMMY_TEXT: Final = "ANONYMIZED"
_DUMMY_BY_VR: Final[dict[str, Any]] = {
    "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y",
    "DS": "0", "IS": "0", "UR": "http://anonymized.invalid",
    "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0, "FD": 0, "UV": 0, "SV": 0,
}
_TEXT_VRS: Final = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
# Identity that the case reference stands in for (the profile empties them; a clinic
# sees which case the images belong to).
_BY_REFERENCE: Final = frozenset({"PatientName", "PatientID"})


class NotDicom(ValueError):
    """The bytes are not a DICOM Part 10 file, or its header cannot be read."""


@dataclass(frozen=True)
class DicomFacts:
    """What the header says: enough to group a disc's files and label its studies."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    modality: str
    study_date: date | None
    study_description: str
    series_description: str
    series_number: int | None
    instance_number: int | None
    is_directory: bool  # a DICOMDIR (Media Storage Directory): the disc's index, no image


def is_dicom(head: bytes) -> bool:
    """``head`` (at least the first 132 bytes) starts a DICOM Part 10 file."""
    return head[MAGIC_OFFSET:MAGIC_OFFSET + len(MAGIC)] == MAGIC


_FACT_KEYWORDS: Final = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality",
    "StudyDate", "StudyDescription", "SeriesDescription", "SeriesNumber", "InstanceNumber",
    "SpecificCharacterSet",
)


def facts(stream: BinaryIO) -> DicomFacts:
    """The header's identifiers and labels, read without the pixel data; raises `NotDicom`."""
    from pydicom import dcmread

    try:
        with _readable(stream) as (readable, _):
            ds = dcmread(readable, stop_before_pixels=True, specific_tags=list(_FACT_KEYWORDS))
        media_class = str(ds.file_meta.get("MediaStorageSOPClassUID", ""))
        if not (media_class or ds.get("SOPClassUID") or ds.get("SOPInstanceUID")):
            raise NotDicom("the DICOM header could not be read (it names no SOP class or instance)")
        return DicomFacts(
            study_uid=str(ds.get("StudyInstanceUID", "") or ""),
            series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
            sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ds.file_meta.get("MediaStorageSOPInstanceUID", "")),
            modality=str(ds.get("Modality", "") or ""),
            study_date=_parse_date(ds.get("StudyDate")),
            study_description=str(ds.get("StudyDescription", "") or ""),
            series_description=str(ds.get("SeriesDescription", "") or ""),
            series_number=_as_int(ds.get("SeriesNumber")),
            instance_number=_as_int(ds.get("InstanceNumber")),
            is_directory=media_class == _DIRECTORY_STORAGE,
        )
    except NotDicom:
        raise
    except Exception as exc:  # pydicom trips in many ways on damaged headers
        raise NotDicom(f"the DICOM header could not be read ({_short(exc)})") from exc


def preview(stream: BinaryIO) -> Preview:
    """The image (middle frame of a multi-frame one) with the file's own window applied,
    as a baseline JPEG at most `MAX_SIDE` a side; raises `NotPreviewable`."""
    try:
        with _readable(stream) as (readable, _):
            return _preview(readable)
    except NotPreviewable:
        raise
    except NotDicom as exc:
        raise NotPreviewable(str(exc)) from exc
    except Exception as exc:
        raise NotPreviewable(f"the DICOM header could not be read ({_short(exc)})") from exc


def _preview(stream: BinaryIO) -> Preview:
    from pydicom import dcmread
    from pydicom.uid import UID

    try:
        whole = _size(stream) <= READ_WHOLE_BYTES
        # A file of ordinary size is parsed once, pixel bytes included (not decoded); a big
        # multi-frame one has its header read first and then only the frame it shows.
        header = dcmread(stream, stop_before_pixels=not whole)
    except Exception as exc:
        raise NotPreviewable(f"the DICOM header could not be read ({_short(exc)})") from exc
    media_class = str(header.file_meta.get("MediaStorageSOPClassUID", ""))
    sop_class = str(header.get("SOPClassUID", media_class))
    if media_class == _DIRECTORY_STORAGE:
        raise NotPreviewable("a DICOMDIR is the disc's index; it has no image")
    if sop_class.startswith(_ENCAPSULATED_PREFIX):
        raise NotPreviewable("the DICOM file holds a document, not an image")
    if "Rows" not in header or "Columns" not in header:
        raise NotPreviewable("the DICOM file has no image (no pixel data)")
    syntax = UID(str(header.file_meta.get("TransferSyntaxUID", "")))
    if not _can_decode(syntax):
        raise NotPreviewable(f"not previewable (transfer syntax {_syntax_label(syntax)})")
    try:
        rows, cols = int(header.Rows), int(header.Columns)
        frames = _as_int(header.get("NumberOfFrames")) or 1
        samples = int(header.get("SamplesPerPixel", 1) or 1)
    except (TypeError, ValueError) as exc:
        raise NotPreviewable("the DICOM image's dimensions could not be read") from exc
    if rows <= 0 or cols <= 0 or frames <= 0 or samples not in (1, 3):
        raise NotPreviewable(f"the DICOM image's dimensions are not valid ({cols}×{rows}, {samples} samples)")
    if rows * cols > MAX_FRAME_PIXELS:
        raise NotPreviewable(f"the DICOM image is too large to preview ({cols}×{rows} pixels)")
    try:
        if whole:
            from pydicom.pixels import pixel_array

            array, ds = pixel_array(header, index=frames // 2), header
        else:
            array, ds = _decode_frame(stream, frames // 2)
        grey = _to_display(array, ds, header)
        return _encode(grey)
    except NotPreviewable:
        raise
    except Exception as exc:  # decoders and LUT code raise anything on damaged data
        raise NotPreviewable(f"the DICOM image could not be decoded ({_short(exc)})") from exc


def clean_copy(stream: BinaryIO, *, uid_salt: bytes, reference: str) -> CleanCopy:
    """The file under the PS3.15 Annex E basic profile, pixel data untouched; raises
    `CopyFailed`. The same (``uid_salt``, original UID) always gives the same new UID."""
    import pydicom
    from pydicom import dcmread

    try:
        with _readable(stream) as (readable, deflated):
            ds = dcmread(readable)
    except NotDicom as exc:
        raise CopyFailed(str(exc)) from exc
    except Exception as exc:
        raise CopyFailed(f"the DICOM file could not be read ({_short(exc)})") from exc
    media_class = str(ds.file_meta.get("MediaStorageSOPClassUID", ""))
    if media_class == _DIRECTORY_STORAGE or "DirectoryRecordSequence" in ds:
        raise CopyFailed("a DICOMDIR is the disc's index; it is not sent on")
    flags = (BURNED_IN,) if _may_show_burned_in(ds) else ()
    cleaner = _Cleaner(_profile_table(), uid_salt=uid_salt, reference=reference)
    try:
        pixels_before = _pixel_bytes(ds)
        cleaner.clean(ds)
        _mark_deidentified(ds)
        _rebuild_file_meta(ds, cleaner)
        if deflated:  # written as it came (pydicom deflates on writing)
            ds.file_meta.TransferSyntaxUID = _DEFLATED
        if _pixel_bytes(ds) != pixels_before:  # the profile never touches the image itself
            raise CopyFailed("the DICOM image data changed while the header was cleaned")
        out: BinaryIO = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # type: ignore[assignment]
        try:
            ds.save_as(out, enforce_file_format=True)
        except BaseException:
            out.close()
            raise
    except CopyFailed:
        raise
    except Exception as exc:
        raise CopyFailed(f"the DICOM file could not be de-identified ({_short(exc)})") from exc
    out.seek(0)
    tool = f"pydicom {pydicom.__version__} + dicom-anonymizer {importlib.metadata.version('dicom-anonymizer')}"
    return CleanCopy(
        stream=out, content_type=CONTENT_TYPE, removed=tuple(sorted(cleaner.removed)), tool=tool, flags=flags,
    )


# --- reading ------------------------------------------------------------------------


def _check_magic(stream: BinaryIO) -> None:
    stream.seek(0)
    head = stream.read(MAGIC_OFFSET + len(MAGIC))
    stream.seek(0)
    if not is_dicom(head):
        raise NotDicom("the file is not DICOM (no DICM preamble)")


_LONG_VRS: Final = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})


@contextmanager
def _readable(stream: BinaryIO) -> Iterator[tuple[BinaryIO, bool]]:
    """The stream pydicom should read, and whether the file was deflated; an inflated
    copy is closed on leaving."""
    readable, deflated = _opened(stream)
    try:
        yield readable, deflated
    finally:
        if readable is not stream:
            readable.close()


def _opened(stream: BinaryIO) -> tuple[BinaryIO, bool]:
    """The stream pydicom should read, and whether the file was deflated. A Deflated
    Explicit VR Little Endian file is inflated here within `MAX_INFLATED_BYTES` and given
    to pydicom as the same file in Explicit VR Little Endian."""
    import zlib

    from pydicom.dataset import FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import ExplicitVRLittleEndian

    _check_magic(stream)
    head = stream.read(64 * 1024)
    stream.seek(0)
    if _DEFLATED.encode() not in head:
        return stream, False
    start = end = MAGIC_OFFSET + len(MAGIC)
    while end + 8 <= len(head) and head[end:end + 2] == b"\x02\x00":  # group 0x0002, always explicit LE
        vr = head[end + 4:end + 6]
        if vr in _LONG_VRS:
            end += 12 + int.from_bytes(head[end + 8:end + 12], "little")
        else:
            end += 8 + int.from_bytes(head[end + 6:end + 8], "little")
    meta = FileMetaDataset(read_dataset(io.BytesIO(head[start:end]), is_implicit_VR=False, is_little_endian=True))
    if str(meta.get("TransferSyntaxUID", "")) != _DEFLATED:
        return stream, False
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    prefix = DicomBytesIO()
    prefix.write(b"\0" * MAGIC_OFFSET + MAGIC)
    write_file_meta_info(prefix, meta, enforce_standard=True)
    # Inflated a megabyte at a time into a spooled file: memory stays flat whatever the
    # ratio, and the bound is checked before each piece is kept.
    out: BinaryIO = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # type: ignore[assignment]
    out.write(prefix.getvalue())
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated = 0
    stream.seek(end)
    try:
        while chunk := stream.read(_PIECE):
            while chunk:
                piece = inflater.decompress(chunk, _PIECE)
                inflated += len(piece)
                if inflated > MAX_INFLATED_BYTES:
                    raise NotDicom(f"the deflated DICOM file inflates past {MAX_INFLATED_BYTES // (1024 * 1024)} MiB")
                out.write(piece)
                chunk = inflater.unconsumed_tail
            if inflater.eof:
                break
        out.write(inflater.flush())
    except BaseException:
        out.close()
        raise
    finally:
        stream.seek(0)
    out.seek(0)
    return out, True


def _size(stream: BinaryIO) -> int:
    import os

    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size


def _parse_date(value: Any) -> date | None:
    text = str(value or "").strip()
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


# --- preview ------------------------------------------------------------------------


def _can_decode(syntax: Any) -> bool:
    """pydicom has a decoder for ``syntax`` and at least one of its plugins is installed."""
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(syntax)
    except (NotImplementedError, ValueError, KeyError):
        return False
    return bool(decoder.is_available)


def _syntax_label(syntax: Any) -> str:
    name = getattr(syntax, "name", "") or ""
    return f"{name} {syntax}" if name and name != str(syntax) else (str(syntax) or "not declared")


def _decode_frame(stream: BinaryIO, index: int) -> tuple[Any, Any]:
    """One frame, decoded from the stream (pydicom reads only that frame's bytes), and the
    file's image-pixel and LUT attributes it needs beside it."""
    from pydicom import Dataset
    from pydicom.pixels import pixel_array

    stream.seek(0)
    ds_out = Dataset()
    array = pixel_array(stream, index=index, ds_out=ds_out)
    return array, ds_out


def _to_display(array: Any, ds: Any, header: Any) -> Any:
    """8-bit greyscale or RGB as the file asks to be shown: modality LUT, then its window
    (or the image's own range when it has none), MONOCHROME1 turned to dark-is-low."""
    import numpy as np
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    # Every LUT attribute the header has (pixel_array's ds_out holds only group 0x0028's
    # image-pixel elements), e.g. the window in a functional group is not read here.
    for keyword in ("WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence",
                    "RescaleSlope", "RescaleIntercept", "ModalityLUTSequence", "PresentationLUTShape"):
        if keyword in header and keyword not in ds:
            setattr(ds, keyword, header.get(keyword))
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    array = _subsample(array)
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(array, ds)
        top = 255 if rgb.dtype == np.uint8 else 65535
        return (rgb.astype(np.float32) * (255.0 / top)).clip(0, 255).astype(np.uint8)
    if array.ndim == 3:  # RGB (pydicom converts YBR to RGB when decoding)
        if array.dtype == np.uint8:
            return array
        top = float(2 ** int(ds.get("BitsStored", 16)) - 1)
        return (array.astype(np.float32) * (255.0 / top)).clip(0, 255).astype(np.uint8)
    if ds.get("ModalityLUTSequence"):
        values = apply_modality_lut(array, ds)
    else:  # the linear rescale in float32, one pass (pydicom's makes float64 copies)
        values = array.astype(np.float32)
        slope, intercept = _first(ds.get("RescaleSlope")), _first(ds.get("RescaleIntercept"))
        if slope is not None and slope != 1:
            values *= slope
        if intercept:
            values += intercept
    grey = _window(values, ds)
    inverse = photometric == "MONOCHROME1"
    if str(ds.get("PresentationLUTShape", "")).upper() == "INVERSE":
        inverse = not inverse
    if inverse:
        np.subtract(255.0, grey, out=grey)
    grey += 0.5  # round, then clip into 0..255
    np.clip(grey, 0, 255, out=grey)
    return grey.astype(np.uint8)


def _subsample(array: Any) -> Any:
    """Every k-th pixel, leaving about twice the preview's size for Pillow to filter down,
    so LUTs and windows run on a few megapixels whatever the frame's size."""
    step = max(1, max(array.shape[0], array.shape[1]) // (2 * MAX_SIDE))
    return array[::step, ::step] if step > 1 else array


def _window(values: Any, ds: Any) -> Any:
    """0..255 floats: the file's VOI LUT or first window (PS3.3 C.11.2.1.2), else min..max."""
    import numpy as np

    if ds.get("VOILUTSequence"):
        item = ds.VOILUTSequence[0]
        if item.get("LUTDescriptor") and item.get("LUTData") is not None:
            return _voi_table(values, item, ds)
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    x = values if values.dtype == np.float32 else values.astype(np.float32)
    if center is not None and width is not None and width > 0:
        function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
        if function == "SIGMOID":
            return (255.0 / (1.0 + np.exp(-4.0 * (x - center) / width))).astype(np.float32)
        if function == "LINEAR_EXACT":
            scale, offset = 255.0 / width, -(center - width / 2.0) * 255.0 / width
        elif width < 1:
            return np.where(x <= center - 0.5, 0.0, 255.0).astype(np.float32)
        else:
            scale = 255.0 / (width - 1.0)
            offset = (0.5 - (center - 0.5) / (width - 1.0)) * 255.0
    else:
        low, high = float(np.min(x)), float(np.max(x))
        if high <= low:
            return np.zeros(x.shape, dtype=np.float32)
        scale, offset = 255.0 / (high - low), -low * 255.0 / (high - low)
    if x is values:  # our own float32 copy: scaled in place
        x *= np.float32(scale)
        x += np.float32(offset)
        return x
    return x * np.float32(scale) + np.float32(offset)


def _voi_table(values: Any, item: Any, ds: Any) -> Any:
    """0..255 floats through the file's VOI LUT (PS3.3 C.11.2.1.1). Not pydicom's
    ``apply_voi``: in 3.0.2 it indexes an 8-bit table with 8-bit integers, so a 4096-entry
    table with 8-bit output wraps around at 256."""
    import numpy as np

    entries, first, bits = (int(v) for v in item.LUTDescriptor[:3])
    entries = entries or 65536
    if first > 32767 and int(ds.get("PixelRepresentation", 0) or 0) == 1:
        first -= 65536  # the descriptor's second value is SS for signed pixels
    raw = item.LUTData
    if isinstance(raw, (bytes, bytearray)):  # OW: 16-bit words in the file's byte order
        big = str(getattr(ds, "file_meta", {}).get("TransferSyntaxUID", "")) == "1.2.840.10008.1.2.2"
        table = np.frombuffer(raw[: len(raw) // 2 * 2], dtype=">u2" if big else "<u2")[:entries].astype(np.float32)
    else:
        table = np.atleast_1d(np.asarray(raw, dtype=np.float32))
    if table.size == 0:
        raise NotPreviewable("the DICOM file's VOI LUT is empty")
    index = np.clip(np.rint(values).astype(np.int64) - first, 0, len(table) - 1)
    # The output range is 0..2**bits-1; some writers declare 16 bits for a 12-bit table.
    top = 4095.0 if bits == 16 and float(np.max(table)) < 4096 else float(2 ** bits - 1)
    return table[index] * (255.0 / max(top, 1.0))


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value[0]) if hasattr(value, "__getitem__") and not isinstance(value, str) else float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _encode(pixels: Any) -> Preview:
    from PIL import Image

    from service.files.images import JPEG_QUALITY, RESAMPLE

    mode = "RGB" if pixels.ndim == 3 else "L"
    image = Image.fromarray(pixels, mode=mode)
    image.thumbnail((MAX_SIDE, MAX_SIDE), RESAMPLE, reducing_gap=3.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return Preview(out.getvalue(), image.width, image.height, mode)


# --- clean copy ---------------------------------------------------------------------


def _may_show_burned_in(ds: Any) -> bool:
    """Text may be drawn into the pixels: the file says so, or says nothing and is an
    ultrasound or a secondary capture (screenshots, scanned reports)."""
    burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if burned:
        return burned == "YES"
    sop_class = str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", ""))
    return str(ds.get("Modality", "")).upper() == "US" or sop_class.startswith(_SECONDARY_CAPTURE_PREFIX)


@cache
def _profile_table() -> tuple[dict[tuple[int, int], str], tuple[tuple[int, int, int, int, str], ...]]:
    """Tag -> action code of PS3.15 Table E.1-1 as dicom-anonymizer ships it, and its
    repeating-group rows (curves 50xx, overlay data and comments 60xx) as masks."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    categories = {
        "D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
        "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*",
    }
    tables = dicom_anonymization_database_selector(PROFILE_EDITION)
    exact: dict[tuple[int, int], str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for category, code in categories.items():
        for tag in tables[category]:
            if len(tag) == 4:
                masked.append((tag[0], tag[1], tag[2], tag[3], code))
            else:
                exact[(tag[0], tag[1])] = code
    return exact, tuple(masked)


# Where the profile offers a choice, the emptier one that keeps the attribute's slot
# (so Type 2 attributes stay present); dummies only where the table asks for D, and for
# X/D (Type 1 somewhere) except dates and times, removed rather than shown as 1900-01-01.
_CHOICE: Final = {"Z/D": "Z", "X/Z": "Z", "X/D": "D", "X/Z/D": "Z", "X/Z/U*": "U"}
_DATE_VRS: Final = frozenset({"DA", "TM", "DT"})


class _Cleaner:
    """Applies the profile to a dataset and every sequence in it, remembering what it took out."""

    def __init__(self, table: tuple[dict[tuple[int, int], str], tuple[tuple[int, int, int, int, str], ...]],
                 *, uid_salt: bytes, reference: str) -> None:
        self.exact, self.masked = table
        self.salt = uid_salt
        self.reference = reference
        self.removed: set[str] = set()

    def new_uid(self, uid: str) -> str:
        return remapped_uid(self.salt, uid)

    def clean(self, ds: Any, *, replace_all: bool = False) -> None:
        from pydicom.datadict import keyword_for_tag

        for elem in list(ds):
            tag = elem.tag
            label = elem.keyword or keyword_for_tag(tag) or f"({tag.group:04X},{tag.element:04X})"
            if tag.is_private:
                del ds[tag]
                self.removed.add("private tags")
                continue
            code = self._action(tag)
            if elem.keyword in _BY_REFERENCE:
                if elem.value not in (None, "", self.reference):
                    self.removed.add(label)
                elem.value = self.reference
                continue
            if code is None and replace_all:
                code = "D" if elem.VR in _TEXT_VRS - {"CS"} or elem.VR in _DATE_VRS else (
                    "U" if elem.VR == "UI" else None)
            if code is None:
                if elem.VR == "SQ":
                    for item in elem.value or ():
                        self.clean(item, replace_all=replace_all)
                elif elem.VR == "PN" and not elem.is_empty:  # a person's name the table missed
                    elem.value = None
                    self.removed.add(label)
                continue
            chosen = "X" if code == "X/D" and elem.VR in _DATE_VRS else _CHOICE.get(code, code)
            self._apply(ds, elem, chosen, label)

    def _action(self, tag: Any) -> str | None:
        code = self.exact.get((tag.group, tag.element))
        if code is not None:
            return code
        for group, element, group_mask, element_mask, masked_code in self.masked:
            if tag.group & group_mask == group & group_mask and tag.element & element_mask == element & element_mask:
                return masked_code
        return None

    def _apply(self, ds: Any, elem: Any, code: str, label: str) -> None:
        present = not elem.is_empty
        if code == "X":
            del ds[elem.tag]
            self.removed.add(label)
            return
        if code == "Z":
            if present:
                self.removed.add(label)
            if elem.VR == "SQ":
                from pydicom.sequence import Sequence

                elem.value = Sequence()
            else:
                elem.value = None
            return
        if code == "U":
            if elem.VR == "SQ":
                for item in elem.value or ():
                    self.clean(item)
            elif elem.VR == "UI" and present:
                values = elem.value if elem.VM > 1 else [elem.value]
                mapped = [self.new_uid(v) for v in values]
                elem.value = mapped if elem.VM > 1 else mapped[0]
                self.removed.add(label)
            return
        # D: a dummy consistent with the VR; a sequence keeps its items with every
        # name, text, date and UID in them replaced.
        if elem.VR == "SQ":
            for item in elem.value or ():
                self.clean(item, replace_all=True)
            self.removed.add(label)
            return
        if elem.VR == "UI":
            self._apply(ds, elem, "U", label)
            return
        if elem.VR in _TEXT_VRS:
            elem.value = _DUMMY_TEXT
        elif elem.VR in _DUMMY_BY_VR:
            elem.value = _DUMMY_BY_VR[elem.VR]
        else:  # OB, OW, UN and other binary: nothing meaningful can stand in
            elem.value = b"\x00\x00"
        if present:
            self.removed.add(label)


def remapped_uid(salt: bytes, uid: str) -> str:
    """The new UID for ``uid`` in the case whose salt is ``salt``: ``2.25.`` and a UUID
    (RFC 9562 version 8) made of HMAC-SHA256(salt, uid). The same in every file and every
    run; without the salt nobody can tell which original it stands for. (pydicom's
    ``generate_uid(prefix=None, entropy_srcs=...)`` ignores the entropy and is random.)"""
    digest = bytearray(hmac.new(salt, str(uid).strip().rstrip("\0").encode("ascii", "replace"), hashlib.sha256).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 9562 variant
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _mark_deidentified(ds: Any) -> None:
    from pydicom import Dataset
    from pydicom.sequence import Sequence

    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = list(DEIDENTIFICATION_METHOD)
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    ds.LongitudinalTemporalInformationModified = "REMOVED"  # the profile empties the dates


def _rebuild_file_meta(ds: Any, cleaner: _Cleaner) -> None:
    """A fresh file meta: the SOP class and transfer syntax kept, the instance UID equal
    to the (remapped) SOPInstanceUID, no source or sending application names."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

    old = ds.file_meta
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID") or old.get("MediaStorageSOPClassUID")
    instance = ds.get("SOPInstanceUID")
    if not instance and old.get("MediaStorageSOPInstanceUID"):
        instance = cleaner.new_uid(old.MediaStorageSOPInstanceUID)
    meta.MediaStorageSOPInstanceUID = instance
    meta.TransferSyntaxUID = old.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta


def _pixel_bytes(ds: Any) -> bytes | None:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            return bytes(ds[keyword].value)
    return None
