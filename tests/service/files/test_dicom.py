"""DICOM files as scanners and discs write them (tests/fixtures/dicom_files.py): header
facts, windowed previews in every transfer syntax we can make here, and the PS3.15 Annex E
clean copy read back with pydicom."""
from __future__ import annotations

import importlib.metadata
import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.pixels import get_decoder
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    RLELossless,
    UID,
)

from service.files import dicom
from service.files.images import MAX_SIDE
from service.files.results import BURNED_IN, CopyFailed, NotPreviewable
from tests.fixtures import dicom_files as f

SALT = bytes.fromhex("5eed" * 16)
OTHER_SALT = bytes.fromhex("0ddba11" + "0" * 25)
REFERENCE = "MT-2024-0042"
IDENTITY = [
    f.PATIENT_NAME, f.PATIENT_ID, f.PATIENT_BIRTH_DATE, "Lenina 5-12", "+7 912", "City Hospital 3",
    "Pushkina 1", "Petrov", "Sidorova", "Kuznetsov", "CT-KAZAN-01", "SN-445566", "ACC20240302", "4510 123456",
]


def _grey_at(preview, x: int, y: int | None = None) -> int:
    image = Image.open(io.BytesIO(preview.data))
    return image.getpixel((x, image.height // 2 if y is None else y))


def _bands(preview) -> tuple[int, int, int]:
    """Grey of the air, soft-tissue and bone bands (middle of each quarter of a 64-wide CT)."""
    return _grey_at(preview, 8), _grey_at(preview, 24), _grey_at(preview, 40)


def _copy(data: bytes, salt: bytes = SALT) -> Dataset:
    clean = dicom.clean_copy(io.BytesIO(data), uid_salt=salt, reference=REFERENCE)
    return dcmread(clean.stream)


# --- is_dicom and facts ----------------------------------------------------------------


def test_is_dicom_by_the_preamble_never_the_name():
    data = f.dicom_bytes(f.ct_dataset())
    assert dicom.is_dicom(data[:132])
    assert not dicom.is_dicom(b"%PDF-1.7\n" + b"\0" * 200)
    assert not dicom.is_dicom(b"\0" * 128 + b"DICX")
    # The same dataset without the Part 10 preamble (old ACR-NEMA style) is not taken.
    raw = DicomBytesIO()
    raw.is_little_endian, raw.is_implicit_VR = True, True
    write_dataset(raw, f.ct_dataset())
    assert len(raw.getvalue()) > 132 and not dicom.is_dicom(raw.getvalue()[:132])


def test_facts_read_the_header():
    ds = f.ct_dataset(series_number=3, instance=7)
    facts = dicom.facts(io.BytesIO(f.dicom_bytes(ds)))
    assert facts.study_uid == ds.StudyInstanceUID
    assert facts.series_uid == ds.SeriesInstanceUID
    assert facts.sop_instance_uid == ds.SOPInstanceUID
    assert facts.modality == "CT"
    assert facts.study_date.isoformat() == "2024-03-02"
    assert (facts.study_description, facts.series_description) == ("CT chest", "Series 3")
    assert (facts.series_number, facts.instance_number) == (3, 7)
    assert facts.is_directory is False


def test_facts_of_a_dicomdir_say_it_is_the_index(tmp_path):
    path = f.dicomdir(tmp_path / "disc", {"DICOM/IM0001": f.ct_series(1)[0]})
    facts = dicom.facts(io.BytesIO(path.read_bytes()))
    assert facts.is_directory is True


def test_facts_refuse_what_is_not_dicom():
    with pytest.raises(dicom.NotDicom, match="not DICOM"):
        dicom.facts(io.BytesIO(b"PK\3\4" + b"\0" * 300))
    with pytest.raises(ValueError):
        dicom.facts(io.BytesIO(b"\0" * 128 + b"DICM" + b"\xff" * 40))


def test_facts_tolerate_a_bad_study_date():
    facts = dicom.facts(io.BytesIO(f.dicom_bytes(f.ct_dataset(StudyDate="2024"))))
    assert facts.study_date is None


# --- preview ----------------------------------------------------------------------------


def test_preview_applies_the_files_window():
    preview = dicom.preview(io.BytesIO(f.dicom_bytes(f.ct_dataset())))
    assert (preview.width, preview.height, preview.mode) == (64, 64, "L")
    assert Image.open(io.BytesIO(preview.data)).format == "JPEG"
    air, tissue, bone = _bands(preview)
    assert air <= 5          # -1000 HU, below the 40/400 window: black
    assert 118 <= tissue <= 138  # 40 HU, the window's centre: mid-grey
    assert bone >= 250       # 1000 HU, above the window: white


def test_preview_uses_the_window_the_file_declares():
    # A bone window (centre 1000, width 100): soft tissue goes black, bone mid-grey.
    preview = dicom.preview(io.BytesIO(f.dicom_bytes(f.ct_dataset(WindowCenter=1000, WindowWidth=100))))
    air, tissue, bone = _bands(preview)
    assert air <= 5 and tissue <= 5
    assert 118 <= bone <= 138


def test_preview_prefers_the_files_voi_lut_to_its_window():
    ds = f.ct_dataset(RescaleIntercept=0)
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 8]
    lut.LUTData = [255] * 1000 + [0] * 3096  # dark is high: the opposite of the 40/400 window
    lut["LUTData"].VR = "US"
    ds.VOILUTSequence = Sequence([lut])
    air, tissue, bone = _bands(dicom.preview(io.BytesIO(f.dicom_bytes(ds))))
    assert air >= 250 and tissue <= 5 and bone <= 5


def test_preview_without_a_window_spans_the_image():
    ds = f.ct_dataset()
    del ds.WindowCenter, ds.WindowWidth
    air, tissue, bone = _bands(dicom.preview(io.BytesIO(f.dicom_bytes(ds))))
    # Min..max of the image is -1024..3071 HU: 40 HU sits at about a quarter of 255.
    assert air <= 5
    assert 58 <= tissue <= 76
    assert 120 <= bone <= 135


def test_preview_of_monochrome1_is_inverted():
    air, tissue, bone = _bands(dicom.preview(io.BytesIO(f.dicom_bytes(f.ct_dataset(PhotometricInterpretation="MONOCHROME1")))))
    assert air >= 250 and bone <= 5
    assert 118 <= tissue <= 138


def test_preview_of_signed_pixels():
    ds = f.ct_dataset(PixelRepresentation=1, RescaleIntercept=0, BitsStored=16, HighBit=15)
    ds.PixelData = (f.ct_pixels().astype(np.int32) + f.INTERCEPT).astype(np.int16).tobytes()  # HU as stored
    air, tissue, bone = _bands(dicom.preview(io.BytesIO(f.dicom_bytes(ds))))
    assert air <= 5 and bone >= 250
    assert 118 <= tissue <= 138


def test_preview_of_palette_colour():
    ds = f.secondary_capture(PhotometricInterpretation="PALETTE COLOR")
    for colour, values in (("Red", [65535] * 256), ("Green", [0] * 256), ("Blue", list(range(0, 65536, 256)))):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", np.array(values, dtype="<u2").tobytes())
    preview = dicom.preview(io.BytesIO(f.dicom_bytes(ds)))
    assert preview.mode == "RGB"
    red, green, blue = _grey_at(preview, 60)  # the ramp's bright end: red and blue
    assert red >= 245 and green <= 10 and blue >= 220


@pytest.mark.parametrize("syntax", [None, RLELossless])
@pytest.mark.parametrize("read_whole", [True, False], ids=["parsed whole", "frame by frame"])
def test_preview_of_a_multi_frame_image_is_its_middle_frame(monkeypatch, read_whole, syntax):
    if not read_whole:  # as for a file over READ_WHOLE_BYTES: header first, then one frame
        monkeypatch.setattr(dicom, "READ_WHOLE_BYTES", 0)
    ds = f.ct_dataset()
    frames = np.stack([np.full((64, 64), value - f.INTERCEPT, dtype=np.uint16) for value in (-1000, 40, 1000)])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    data = f.compressed(ds, syntax) if syntax else f.dicom_bytes(ds)
    preview = dicom.preview(io.BytesIO(data))
    assert 118 <= _grey_at(preview, 10) <= 138


def test_preview_is_bounded_to_max_side():
    preview = dicom.preview(io.BytesIO(f.dicom_bytes(f.ct_dataset(rows=600, cols=2400))))
    assert (preview.width, preview.height) == (MAX_SIDE, 250)
    assert 118 <= _grey_at(preview, 2400 // 4 * MAX_SIDE // 2400 + 100) <= 138


def test_preview_refuses_absurd_dimensions_before_decoding():
    ds = f.ct_dataset(rows=8, cols=8)
    ds.Rows = ds.Columns = 65535  # the header claims 4.3 gigapixels; the data is 128 bytes
    with pytest.raises(NotPreviewable, match="too large"):
        dicom.preview(io.BytesIO(f.dicom_bytes(ds)))


def _deflated(ds: Dataset) -> bytes:
    copy = dcmread(io.BytesIO(f.dicom_bytes(ds)))
    copy.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return f.dicom_bytes(copy)


@pytest.mark.parametrize("syntax", [
    RLELossless, JPEG2000Lossless, JPEG2000, JPEGLosslessSV1, JPEGLossless, DeflatedExplicitVRLittleEndian,
])
def test_preview_of_compressed_ct(syntax):
    ds = f.ct_dataset()
    data = _deflated(ds) if syntax == DeflatedExplicitVRLittleEndian else f.compressed(ds, syntax)
    assert dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == syntax
    air, tissue, bone = _bands(dicom.preview(io.BytesIO(data)))
    assert air <= 5 and bone >= 250
    assert 118 <= tissue <= 138


def test_preview_of_a_jpeg_baseline_ultrasound_keeps_its_colour():
    data = f.compressed(f.us_image(), JPEGBaseline8Bit)
    preview = dicom.preview(io.BytesIO(data))
    assert preview.mode == "RGB"
    red, green, blue = _grey_at(preview, 10)
    assert red >= 185 and green <= 60 and blue <= 60


def test_preview_of_a_jpeg_baseline_secondary_capture():
    preview = dicom.preview(io.BytesIO(f.compressed(f.secondary_capture(), JPEGBaseline8Bit)))
    assert preview.mode == "L"
    assert _grey_at(preview, 2) < 30 and _grey_at(preview, 61) > 225  # the ramp, min..max


@pytest.mark.parametrize("syntax", [
    f.MPEG4_HIGH_PROFILE,
    UID("1.2.840.10008.1.2.4.100"),  # MPEG2 Main Profile
    UID("1.2.840.10008.1.2.4.107"),  # HEVC/H.265 Main Profile
    UID("1.2.840.10008.1.2.4.94"),   # JPIP Referenced: the pixels are on a server
])
def test_preview_names_a_transfer_syntax_nothing_decodes(syntax):
    data = f.with_transfer_syntax(f.ct_dataset(), syntax)
    with pytest.raises(NotPreviewable) as caught:
        dicom.preview(io.BytesIO(data))
    assert str(caught.value) == f"not previewable (transfer syntax {syntax.name} {syntax})"


def test_preview_names_an_unknown_transfer_syntax_by_its_uid():
    with pytest.raises(NotPreviewable, match=r"^not previewable \(transfer syntax 1\.2\.3\.4\.5\.6\)$"):
        dicom.preview(io.BytesIO(f.with_transfer_syntax(f.ct_dataset(), "1.2.3.4.5.6")))


def test_whether_a_syntax_previews_is_asked_of_pydicoms_decoders(monkeypatch):
    """Without its plugins (as if pylibjpeg-openjpeg and Pillow's JPEG 2000 were not
    installed) JPEG 2000 is refused by name; nothing here lists syntaxes by hand."""
    data = f.compressed(f.ct_dataset(), JPEG2000Lossless)
    monkeypatch.setattr(get_decoder(JPEG2000Lossless), "_available", {})
    with pytest.raises(NotPreviewable, match=r"transfer syntax JPEG 2000 Image Compression \(Lossless Only\) 1\.2\.840\.10008\.1\.2\.4\.90"):
        dicom.preview(io.BytesIO(data))


def test_a_deflated_file_is_inflated_only_within_its_bound(monkeypatch):
    # 2 MiB of zero pixels deflate to a few kilobytes; with the bound at 1 MiB it is refused
    # by every reader instead of being inflated whole, as pydicom alone would.
    ds = f.ct_dataset(rows=1024, cols=1024)
    ds.PixelData = bytes(len(ds.PixelData))
    data = _deflated(ds)
    assert len(data) < 64 * 1024
    monkeypatch.setattr(dicom, "MAX_INFLATED_BYTES", 1024 * 1024)
    with pytest.raises(NotPreviewable, match="inflates past 1 MiB"):
        dicom.preview(io.BytesIO(data))
    with pytest.raises(CopyFailed, match="inflates past 1 MiB"):
        dicom.clean_copy(io.BytesIO(data), uid_salt=SALT, reference=REFERENCE)
    with pytest.raises(dicom.NotDicom, match="inflates past 1 MiB"):
        dicom.facts(io.BytesIO(data))


def test_facts_of_a_deflated_file():
    ds = f.ct_dataset(series_number=4)
    facts = dicom.facts(io.BytesIO(_deflated(ds)))
    assert (facts.sop_instance_uid, facts.series_number) == (ds.SOPInstanceUID, 4)


def test_preview_reasons_for_files_without_an_image(tmp_path):
    report = f.ct_dataset()
    del report.PixelData, report.Rows, report.Columns
    with pytest.raises(NotPreviewable, match="no image"):
        dicom.preview(io.BytesIO(f.dicom_bytes(report)))
    disc = f.dicomdir(tmp_path / "disc", {"DICOM/IM0001": f.ct_series(1)[0]})
    with pytest.raises(NotPreviewable, match="DICOMDIR"):
        dicom.preview(io.BytesIO(disc.read_bytes()))
    with pytest.raises(NotPreviewable, match="not DICOM"):
        dicom.preview(io.BytesIO(b"GIF89a" + b"\0" * 200))


def test_preview_of_truncated_pixel_data_says_it_could_not_be_decoded():
    ds = f.ct_dataset()
    ds.PixelData = ds.PixelData[:1000]
    with pytest.raises(NotPreviewable, match="could not be decoded"):
        dicom.preview(io.BytesIO(f.dicom_bytes(ds)))


# --- clean copy -------------------------------------------------------------------------


def _all_elements(ds: Dataset):
    for elem in ds.iterall():
        yield elem


def test_clean_copy_has_no_identity_left():
    original_bytes = f.dicom_bytes(f.with_overlay(f.ct_dataset()))
    original = dcmread(io.BytesIO(original_bytes))
    clean = dicom.clean_copy(io.BytesIO(original_bytes), uid_salt=SALT, reference=REFERENCE)
    data = clean.stream.read()
    for text in IDENTITY:
        assert text.encode() not in data, text
    copy = dcmread(io.BytesIO(data))
    assert str(copy.PatientName) == REFERENCE and copy.PatientID == REFERENCE
    assert copy.PatientBirthDate in ("", None)
    for keyword in ("PatientAddress", "PatientTelephoneNumbers", "OtherPatientIDs", "InstitutionAddress",
                    "PerformingPhysicianName", "IssuerOfPatientID"):
        assert keyword not in copy, keyword
    for keyword in ("InstitutionName", "ReferringPhysicianName", "OperatorsName", "StationName", "AccessionNumber"):
        assert copy.get(keyword) in ("", None), keyword
    assert not any(elem.tag.is_private for elem in _all_elements(copy))
    assert (0x6000, 0x3000) not in copy and (0x6000, 0x4000) not in copy
    assert copy.PatientIdentityRemoved == "YES"
    assert copy.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert copy.Modality == "CT" and copy.Manufacturer == original.Manufacturer
    assert copy.file_meta.MediaStorageSOPInstanceUID == copy.SOPInstanceUID
    assert copy.PixelData == original.PixelData
    assert clean.content_type == "application/dicom"
    assert clean.flags == ()


def test_clean_copy_lists_what_it_removed_that_was_there():
    clean = dicom.clean_copy(io.BytesIO(f.dicom_bytes(f.with_overlay(f.ct_dataset()))), uid_salt=SALT, reference=REFERENCE)
    assert list(clean.removed) == sorted(clean.removed)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientAddress", "InstitutionName",
                    "ReferringPhysicianName", "OperatorsName", "StudyInstanceUID", "SOPInstanceUID",
                    "OverlayData", "OverlayComments", "private tags"):
        assert keyword in clean.removed, keyword
    for keyword in ("Modality", "Manufacturer", "PixelData", "PatientMotherBirthName", "ReferencedImageSequence"):
        assert keyword not in clean.removed, keyword


def test_clean_copy_names_its_tools_and_versions():
    clean = dicom.clean_copy(io.BytesIO(f.dicom_bytes(f.ct_dataset())), uid_salt=SALT, reference=REFERENCE)
    assert clean.tool == (
        f"pydicom {pydicom.__version__} + dicom-anonymizer {importlib.metadata.version('dicom-anonymizer')}"
    )


def test_clean_copy_remaps_uids_consistently_within_the_case():
    first_bytes, second_bytes = f.ct_series(2)
    first_original, second_original = dcmread(io.BytesIO(first_bytes)), dcmread(io.BytesIO(second_bytes))
    first, second = _copy(first_bytes), _copy(second_bytes)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert first.get(keyword) != first_original.get(keyword), keyword
    # The series still belongs together, and the second image's reference to the first holds.
    assert first.StudyInstanceUID == second.StudyInstanceUID
    assert first.SeriesInstanceUID == second.SeriesInstanceUID
    assert first.FrameOfReferenceUID == second.FrameOfReferenceUID
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    assert second_original.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first_original.SOPInstanceUID
    # Deterministic: the same file under the same salt, copied again (another worker run).
    assert _copy(first_bytes).SOPInstanceUID == first.SOPInstanceUID
    # Another case's salt gives other UIDs: two cases' copies cannot be linked.
    other = _copy(first_bytes, OTHER_SALT)
    assert other.StudyInstanceUID != first.StudyInstanceUID
    assert other.SOPInstanceUID != first.SOPInstanceUID
    assert all(pydicom.uid.UID(uid).is_valid for uid in (first.StudyInstanceUID, other.SOPInstanceUID))


def test_clean_copy_cleans_inside_sequences():
    ds = f.ct_dataset()
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = "1.2.3.4.5"
    item.add_new(0x00091000, "LO", "MEDTOUR SCANNER")
    item.add_new(0x00091010, "LO", f.PATIENT_NAME)
    nested = Dataset()
    nested.PersonName = "Ivanova^Anna^Sergeevna"  # a PN the table does not list
    item.PersonIdentificationCodeSequence = Sequence([nested])
    ds.SourceImageSequence = Sequence([item])
    copy = _copy(f.dicom_bytes(ds))
    cleaned = copy.SourceImageSequence[0]
    assert cleaned.ReferencedSOPInstanceUID not in ("1.2.3.4.5", "")
    assert not any(elem.tag.is_private for elem in cleaned)
    assert f.PATIENT_NAME.encode() not in f.dicom_bytes(copy)
    assert b"Ivanova" not in f.dicom_bytes(copy)


@pytest.mark.parametrize("syntax", [
    RLELossless, JPEG2000Lossless, JPEGLosslessSV1, JPEGBaseline8Bit, DeflatedExplicitVRLittleEndian,
])
def test_clean_copy_leaves_compressed_pixel_data_byte_identical(syntax):
    ds = f.secondary_capture() if syntax == JPEGBaseline8Bit else f.ct_dataset()
    data = _deflated(ds) if syntax == DeflatedExplicitVRLittleEndian else f.compressed(ds, syntax)
    original = dcmread(io.BytesIO(data))
    copy = _copy(data)
    assert copy.file_meta.TransferSyntaxUID == syntax
    assert copy.PixelData == original.PixelData
    assert "PatientBirthDate" not in copy or not copy.PatientBirthDate
    dicom.preview(io.BytesIO(f.dicom_bytes(copy)))  # still an image a viewer shows


@pytest.mark.parametrize(("dataset", "flagged"), [
    (lambda: f.us_image(), True),
    (lambda: f.secondary_capture(), True),
    (lambda: f.ct_dataset(BurnedInAnnotation="YES"), True),
    (lambda: f.ct_dataset(), False),
    (lambda: f.ct_dataset(BurnedInAnnotation="NO"), False),
    (lambda: f.us_image(BurnedInAnnotation="NO"), False),
], ids=["US", "SC", "CT saying YES", "CT", "CT saying NO", "US saying NO"])
def test_clean_copy_flags_possible_burned_in_annotation(dataset, flagged):
    clean = dicom.clean_copy(io.BytesIO(f.dicom_bytes(dataset())), uid_salt=SALT, reference=REFERENCE)
    assert (BURNED_IN in clean.flags) is flagged


def test_clean_copy_refuses_a_dicomdir_and_unreadable_files(tmp_path):
    disc = f.dicomdir(tmp_path / "disc", {"DICOM/IM0001": f.ct_series(1)[0]})
    with pytest.raises(CopyFailed, match="DICOMDIR is the disc's index; it is not sent on"):
        dicom.clean_copy(io.BytesIO(disc.read_bytes()), uid_salt=SALT, reference=REFERENCE)
    with pytest.raises(CopyFailed, match="not DICOM"):
        dicom.clean_copy(io.BytesIO(b"\x89PNG\r\n" + b"\0" * 200), uid_salt=SALT, reference=REFERENCE)
    with pytest.raises(CopyFailed):
        dicom.clean_copy(io.BytesIO(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x7f"), uid_salt=SALT, reference=REFERENCE)
