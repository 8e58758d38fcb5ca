"""Which reader makes a file's preview and clean copy, by the type detected at intake."""
from __future__ import annotations

from typing import BinaryIO, Final

from service.files import dicom, images, pdfs, studies
from service.files.results import CleanCopy, CopyFailed, Disc, NotPreviewable, Preview

PDF: Final = "application/pdf"
DICOM: Final = "application/dicom"
ZIP: Final = "application/zip"


def preview(stream: BinaryIO, content_type: str) -> Preview:
    """The file's preview; raises `NotPreviewable`. A disc has one per series (`disc`)."""
    if content_type == PDF:
        return pdfs.preview(stream)
    if content_type == DICOM:
        return dicom.preview(stream)
    if content_type in images.TYPES:
        return images.preview(stream)
    if content_type == ZIP:
        raise NotPreviewable("a disc is shown as its series")
    raise NotPreviewable(f"not previewable ({content_type})")


def clean_copy(stream: BinaryIO, content_type: str, *, uid_salt: bytes, reference: str) -> CleanCopy:
    """The copy a clinic gets before release; raises `CopyFailed`. ``uid_salt`` is the
    case's: the same original UID maps to the same new one in every file of the case."""
    if content_type == PDF:
        return pdfs.clean_copy(stream)
    if content_type == DICOM:
        return dicom.clean_copy(stream, uid_salt=uid_salt, reference=reference)
    if content_type in images.TYPES:
        return images.clean_copy(stream, content_type)
    if content_type == ZIP:
        return studies.clean_copy(stream, uid_salt=uid_salt, reference=reference)
    raise CopyFailed(f"no clean copy can be made of {content_type}")


def disc(stream: BinaryIO) -> Disc | None:
    """A ZIP disc's studies, series and ignored members (`studies.read_disc`)."""
    return studies.read_disc(stream)
