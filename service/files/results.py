"""What the file readers return: a preview, a clean copy, or why neither could be made."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, ClassVar, Final

# Flags a clean copy may carry, shown to staff beside the file.
BURNED_IN: Final = "burned_in_annotation"
"""Pixels may still show the patient's name: `BurnedInAnnotation` is YES or absent on
an ultrasound or secondary-capture image, which often have text drawn into them."""


@dataclass(frozen=True)
class Preview:
    """A baseline JPEG, upright, at most `images.MAX_SIDE` pixels a side, no metadata."""

    data: bytes
    width: int
    height: int
    mode: str = "RGB"  # "RGB" or "L"

    content_type: ClassVar[str] = "image/jpeg"


class NotPreviewable(Exception):
    """No preview can be made; ``str(exc)`` says why in English, for staff and clinics
    (e.g. "not previewable (transfer syntax JPEG Extended (Process 2 and 4))")."""


@dataclass
class CleanCopy:
    """A copy of a file without what identifies the patient, for clinics before release.

    ``stream`` is seekable and at position 0; the caller closes it."""

    stream: BinaryIO
    content_type: str
    removed: tuple[str, ...]  # what was taken out, for staff: "GPS", "EXIF", "PatientName", "PDF Info"...
    tool: str                 # the library and version that made it: "pikepdf 10.18.0 (qpdf 12.4.2)"
    flags: tuple[str, ...] = ()  # e.g. BURNED_IN


class CopyFailed(Exception):
    """No clean copy can be made; the file is withheld from clinics. ``str(exc)`` is the
    reason in English, shown to staff."""


@dataclass(frozen=True)
class SeriesSummary:
    """One series of a disc: its images and one windowed preview (of its middle image)."""

    key: str                  # "1.2": study 1, series 2, in the disc's order; stable for one disc
    modality: str             # "CT"
    description: str          # SeriesDescription, or ""
    number: int | None        # SeriesNumber
    images: int
    preview: Preview | None
    problem: str | None = None  # why there is no preview (NotPreviewable's reason)


@dataclass(frozen=True)
class StudySummary:
    modality: str             # the series' modalities joined: "CT" or "CT/PT"
    date: date | None         # StudyDate
    description: str          # StudyDescription, or ""
    series: tuple[SeriesSummary, ...]

    @property
    def images(self) -> int:
        return sum(series.images for series in self.series)

    @property
    def label(self) -> str:
        """"CT · 2024-03-02 · 2 series · 40 images", as staff, clinics and the dossier show it."""
        parts = [self.modality or "DICOM"]
        if self.date is not None:
            parts.append(self.date.isoformat())
        count = len(self.series)
        parts.append(f"{count} series")
        parts.append(f"{self.images} image" + ("" if self.images == 1 else "s"))
        return " · ".join(parts)


@dataclass(frozen=True)
class Disc:
    """What a ZIP of a CT/MRI disc holds."""

    studies: tuple[StudySummary, ...]
    ignored: tuple[tuple[str, str], ...]  # (member path, why): viewers, autorun, not DICOM...
    dicom_files: int
