"""Previews and clinic copies, made by the worker once per file and stored beside the
untouched original: what each kind of real file becomes, what is recorded of it, what
happens when no copy can be made, and erasure."""
from __future__ import annotations

import hashlib
import io
import zipfile

import pikepdf
import pydicom
import pytest
from PIL import Image
from sqlalchemy import select

from service.cases import derivatives, erasure
from service.cases.events import EventKind
from service.extensions import db
from service.files.results import BURNED_IN
from service.models import CaseEvent, DerivedFile, OutboxMessage
from service.models.derived import Purpose, State
from tests.fixtures import dicom_files, photos
from tests.fixtures.cases import run_worker, submit
from tests.fixtures.forms import upload

GPS_IFD = 0x8825


def pdf_by(author: str) -> bytes:
    """A one-page PDF whose Info dictionary and XMP name its author."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = author
    pdf.docinfo["/Title"] = f"Scan of {author}"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [author]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def rows_of(attachment) -> dict[tuple[str, str], DerivedFile]:
    return {(d.purpose, d.part): d for d in db.session.scalars(
        select(DerivedFile).where(DerivedFile.attachment_id == attachment.id)
    )}


def stored(storage, row: DerivedFile) -> bytes:
    with storage.open(row.storage_key) as stream:
        return stream.read()


def test_each_file_gets_a_preview_and_a_clinic_copy_recorded_once(client, app, storage):
    case = submit(client, files=[upload(photos.gps_jpeg(), "home.jpg"), upload(pdf_by("Anna Ivanova"), "report.pdf")])
    assert len(list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.job == "derive_file")))) == 2
    run_worker(app)
    photo, report = case.attachments
    for attachment in (photo, report):
        rows = rows_of(attachment)
        preview, copy = rows[(Purpose.PREVIEW, "")], rows[(Purpose.CLINIC_COPY, "")]
        assert preview.state == copy.state == State.READY
        assert preview.content_type == "image/jpeg"
        assert Image.open(io.BytesIO(stored(storage, preview))).format == "JPEG"
        assert hashlib.sha256(stored(storage, copy)).hexdigest() == copy.sha256
        assert copy.tool and copy.removed
        assert copy.storage_key.startswith(f"cases/{case.id}/derived/")
    # Once per file: a second run makes nothing more.
    assert derivatives.derive(photo, storage, secret=app.config["SECRET_KEY"]) is False
    assert len(rows_of(photo)) == 2
    # The original is untouched.
    with storage.open(photo.storage_key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == photo.sha256


def test_the_clinic_copy_of_a_phone_photo_has_no_gps_and_of_a_pdf_no_author(client, app, storage):
    case = submit(client, files=[upload(photos.gps_jpeg(), "home.jpg"), upload(pdf_by("Anna Ivanova"), "report.pdf")])
    run_worker(app)
    photo, report = case.attachments
    copy = rows_of(photo)[(Purpose.CLINIC_COPY, "")]
    image = Image.open(io.BytesIO(stored(storage, copy)))
    assert not image.getexif().get_ifd(GPS_IFD)
    assert "GPS" in copy.removed
    pdf_copy = rows_of(report)[(Purpose.CLINIC_COPY, "")]
    data = stored(storage, pdf_copy)
    assert b"Anna Ivanova" not in data
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/Author" not in pdf.docinfo
        assert len(pdf.pages) == 1


def test_dicom_copies_keep_series_together_across_the_files_of_a_case(client, app, storage):
    series = dicom_files.ct_series(2)
    case = submit(client, files=[upload(series[0], "slice1.dcm"), upload(series[1], "slice2.dcm")])
    run_worker(app)
    originals = [pydicom.dcmread(io.BytesIO(data)) for data in series]
    copies = [pydicom.dcmread(io.BytesIO(stored(storage, rows_of(a)[(Purpose.CLINIC_COPY, "")])))
              for a in case.attachments]
    for original, copy in zip(originals, copies):
        assert str(copy.PatientName) == case.reference
        assert copy.get("PatientBirthDate", "") == ""
        assert copy.PatientID != original.PatientID
        assert copy.StudyInstanceUID != original.StudyInstanceUID
        assert copy.SOPInstanceUID != original.SOPInstanceUID
    assert copies[0].StudyInstanceUID == copies[1].StudyInstanceUID
    assert copies[0].SeriesInstanceUID == copies[1].SeriesInstanceUID
    assert copies[0].SOPInstanceUID != copies[1].SOPInstanceUID
    # Another case maps the same originals elsewhere.
    salt = derivatives.uid_salt(app.config["SECRET_KEY"], case.id)
    assert salt != derivatives.uid_salt(app.config["SECRET_KEY"], case.id + 1)


def test_an_ultrasound_is_flagged_to_staff_for_burned_in_text(client, app, storage):
    case = submit(client, files=[upload(dicom_files.dicom_bytes(dicom_files.us_image()), "us.dcm")])
    run_worker(app)
    [us] = case.attachments
    copy = rows_of(us)[(Purpose.CLINIC_COPY, "")]
    assert copy.state == State.READY and BURNED_IN in copy.flags
    assert derivatives.file_view(us).flags == [derivatives.FLAG_LABELS[BURNED_IN]]


def disc_zip(tmp_path) -> bytes:
    study = pydicom.uid.generate_uid()
    first = dicom_files.ct_series(20, study_uid=study, series_number=1)
    second = dicom_files.ct_series(20, study_uid=study, series_number=2)
    folder = tmp_path / "disc"
    dicom_files.dicomdir(folder, {
        **{f"IVANOVA/S1/I{n:03d}": data for n, data in enumerate(first)},
        **{f"IVANOVA/S2/I{n:03d}": data for n, data in enumerate(second)},
    })
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        archive.writestr("autorun.inf", "[autorun]\nopen=viewer.exe\n")
    return out.getvalue()


def test_a_disc_is_summarised_with_a_preview_per_series_and_copied_member_by_member(client, app, storage, tmp_path):
    case = submit(client, files=[upload(disc_zip(tmp_path), "ct-disc.zip")])
    run_worker(app)
    [disc] = case.attachments
    assert disc.content_type == "application/zip"
    view = derivatives.file_view(disc)
    [study] = view.studies
    assert study.label == "CT · 2024-03-02 · 2 series · 40 images"
    assert [s.preview is not None for s in study.series] == [True, True]
    assert any(path == "autorun.inf" for path, _why in view.ignored)
    copy = rows_of(disc)[(Purpose.CLINIC_COPY, "")]
    assert copy.state == State.READY
    with zipfile.ZipFile(io.BytesIO(stored(storage, copy))) as archive:
        members = [name for name in archive.namelist() if not name.endswith("/")]
        assert members and not any("IVANOVA" in name.upper() for name in members)
        datasets = [pydicom.dcmread(io.BytesIO(archive.read(name))) for name in members]
    assert len(datasets) == 40
    assert {str(ds.PatientName) for ds in datasets} == {case.reference}
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 2


def test_a_file_whose_copy_cannot_be_made_is_withheld_with_the_reason(client, app, storage, tmp_path):
    index_path = dicom_files.dicomdir(tmp_path / "d", {"S1/I001": dicom_files.ct_series(1)[0]})
    case = submit(client, files=[upload(index_path.read_bytes(), "DICOMDIR.dcm")])
    run_worker(app)
    [index] = case.attachments
    copy = rows_of(index)[(Purpose.CLINIC_COPY, "")]
    assert copy.state == State.FAILED and copy.storage_key is None and copy.reason
    view = derivatives.file_view(index)
    assert view.withheld == copy.reason and view.clinic_note == derivatives.WITHHELD
    [withheld] = db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.FILE_WITHHELD))
    assert withheld.details["reason"] == copy.reason
    [clinic_file] = derivatives.clinic_files([index])
    assert clinic_file.storage_key == "" and clinic_file.withheld == derivatives.WITHHELD


def test_a_file_not_derived_yet_is_not_served_to_clinics(client, app, storage):
    case = submit(client, files=[upload(photos.gps_jpeg(), "home.jpg")])
    [photo] = case.attachments
    [clinic_file] = derivatives.clinic_files([photo])
    assert clinic_file.storage_key == "" and clinic_file.withheld == derivatives.PREPARING


def test_a_stored_file_that_does_not_match_its_hash_gets_no_copy(client, app, storage):
    case = submit(client, files=[upload(photos.gps_jpeg(), "home.jpg")])
    [photo] = case.attachments
    storage.put(photo.storage_key, io.BytesIO(b"\xff\xd8 not the patient's file"), content_type="image/jpeg",
                filename="home.jpg")
    run_worker(app)
    copy = rows_of(photo)[(Purpose.CLINIC_COPY, "")]
    assert copy.state == State.FAILED and "SHA-256" in copy.reason


def test_erasure_deletes_previews_and_copies(client, app, storage):
    case = submit(client, files=[upload(photos.gps_jpeg(), "home.jpg")])
    run_worker(app)
    [photo] = case.attachments
    keys = [row.storage_key for row in rows_of(photo).values()]
    assert keys and all(storage.exists(key) for key in keys)
    erasure.erase(case, storage)
    db.session.commit()
    assert not any(storage.exists(key) for key in keys)
    assert db.session.scalar(select(DerivedFile.id).where(DerivedFile.storage_key.in_(keys))) is None


@pytest.mark.parametrize("name, content_type, expected", [
    ("IMG_0042.HEIC", "image/jpeg", "IMG_0042.jpg"),
    ("scan.jpeg", "image/jpeg", "scan.jpeg"),
    ("report.pdf", "application/pdf", "report.pdf"),
    ("MT-2026-000001-file-3", "application/zip", "MT-2026-000001-file-3.zip"),
])
def test_a_copy_is_named_for_its_own_type(name, content_type, expected):
    assert derivatives.copy_filename(name, content_type) == expected


def test_the_dossier_shows_previews_and_a_disc_by_series_and_links_only_to_copies(client, app, storage, tmp_path):
    from pypdf import PdfReader

    from service.cases.paperwork_store import DOSSIER
    from service.models import Document

    case = submit(client, files=[upload(photos.heic(), "IMG_0042.HEIC"), upload(disc_zip(tmp_path), "ct-disc.zip"),
                                 upload(dicom_files.dicom_bytes(dicom_files.ct_dataset()), "slice.dcm")])
    run_worker(app)
    dossier = db.session.scalars(select(Document).where(Document.case_id == case.id, Document.kind == DOSSIER)).first()
    assert dossier is not None
    with storage.open(dossier.storage_key) as stream:
        reader = PdfReader(io.BytesIO(stream.read()))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert "CT · 2024-03-02 · 2 series · 40 images" in text
    assert "Figure 1" in text and "Figure 4" in text  # the photo, two series, the slice
    assert "Series 1 · CT" in text and "Series 2 · CT" in text
    assert "Ivanova" not in text and "IVANOVA" not in text
    images = sum(len([x for x in (page.get("/Resources") or {}).get("/XObject", {}).values()
                      if x.get_object().get("/Subtype") == "/Image"]) for page in reader.pages)
    assert images >= 4
    # Every link in the dossier is to a clean copy, never an original.
    originals = {a.storage_key for a in case.attachments}
    copies = {rows_of(a)[(Purpose.CLINIC_COPY, "")].storage_key for a in case.attachments}
    links = [annot.get_object()["/A"]["/URI"] for page in reader.pages for annot in page.get("/Annots") or []
             if "/A" in annot.get_object() and "/URI" in annot.get_object()["/A"]]
    linked = [storage.read_token(link.rsplit("/files/", 1)[1])[0] for link in links if "/files/" in link]
    assert sorted(linked) == sorted(copies) and not set(linked) & originals
