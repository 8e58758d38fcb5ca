"""ZIPs at intake: accepted only as a CT/MRI disc's content, refused with a message naming
the file and the rule; real HEIC photos held to the same pixel limit as other images."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image

from service import i18n, limits, uploads
from service.files import studies
from service.uploads import FileProblem, IncomingFile, Problem, inspect
from tests.fixtures import discs, files, photos


def test_a_disc_zip_is_accepted_as_application_zip(tmp_path: Path):
    disc = discs.ct_disc(tmp_path)
    assert len(disc.data) <= limits.MAX_FILE_BYTES
    result = inspect("CT disc.zip", io.BytesIO(disc.data), limits.MAX_FILE_BYTES)
    assert isinstance(result, IncomingFile)
    assert result.content_type == "application/zip" and result.filename == "CT disc.zip"
    assert result.stream.tell() == 0


def test_a_zip_without_dicom_is_refused_saying_what_zips_are_for():
    result = inspect("scan.zip", io.BytesIO(discs.no_dicom()), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.DISC
    assert result.message == (
        "scan.zip: a ZIP is accepted only for the content of a CT or MRI disc (DICOM files); this one holds none."
    )


def test_a_zip_disc_over_10_mb_is_refused_by_size_like_any_file():
    big = discs.zip_of({"CT/1.dcm": discs.small_disc(), "pad.bin": b"\0" * (limits.MAX_FILE_BYTES + 1)},
                       compression=0)
    result = inspect("disc.zip", io.BytesIO(big), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.TOO_LARGE


@pytest.mark.parametrize("make, message", [
    (lambda tmp: discs.many_entries(limits.DISC_MAX_ENTRIES + 1),
     "disc.zip: the ZIP holds more than 2,000 files; a disc's content is accepted up to 2,000 files. "
     "Send each study in its own ZIP."),
    (lambda tmp: discs.bomb(tmp / "b.zip", expanded=600 * limits.MIB).read_bytes(),
     "disc.zip: the ZIP expands to more than 512 MB; a disc's content is accepted up to 512 MB once expanded. "
     "Send each study in its own ZIP."),
    (lambda tmp: discs.bomb(tmp / "r.zip", expanded=300 * limits.MIB).read_bytes(),
     "disc.zip: a file in this ZIP expands more than 200 times, which no disc's images do; the ZIP is refused."),
    (lambda tmp: discs.encrypted_flag(discs.small_disc()),
     "disc.zip: this ZIP is protected with a password, so the clinics could not open it; "
     "make it again without a password and send that."),
    (lambda tmp: discs.small_disc()[:-30],
     "disc.zip: this ZIP cannot be opened (it is damaged or incomplete); "
     "make it again from the disc and send the new file."),
])
def test_each_disc_limit_is_refused_with_its_message(tmp_path: Path, make, message):
    result = inspect("disc.zip", io.BytesIO(make(tmp_path)), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.DISC
    assert result.message == message


def test_the_refusals_read_in_russian(app: Flask):
    with app.test_request_context():
        i18n.use_language("ru")
        none = inspect("снимки.zip", io.BytesIO(discs.no_dicom()), limits.MAX_FILE_BYTES)
        many = inspect("диск.zip", io.BytesIO(discs.many_entries(limits.DISC_MAX_ENTRIES + 1)),
                       limits.MAX_FILE_BYTES)
        assert none.message == ("снимки.zip: ZIP-архив принимается только с содержимым диска КТ или МРТ "
                                "(файлами DICOM); в этом архиве их нет.")
        assert many.message.startswith("диск.zip: в ZIP-архиве больше 2\u00a0000 файлов")
        assert uploads.accepted_labels() == "PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM или ZIP"
        for problem in studies.DiscProblem:  # every refusal has its Russian words
            message = uploads.disc_problem("диск.zip", problem).message
            assert "ZIP-архив" in message and "ZIP is" not in message and "the ZIP" not in message, problem


def test_zip_is_listed_among_the_accepted_types_and_in_the_picker():
    assert limits.ACCEPTED_TYPES["application/zip"] == "ZIP"
    assert ".zip" in limits.ACCEPT_ATTRIBUTE.split(",") and "application/zip" in limits.ACCEPT_ATTRIBUTE.split(",")
    assert uploads.accepted_labels() == "PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP"


def test_office_documents_are_not_taken_for_zips():
    """A .docx is a ZIP inside; filetype names it for what it is, which we do not accept."""
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    result = inspect("letter.docx", io.BytesIO(out.getvalue()), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.TYPE


def test_a_real_heic_is_held_to_the_pixel_limit(monkeypatch):
    heic = photos.heic(size=(64, 48))
    assert isinstance(inspect("IMG_0001.HEIC", io.BytesIO(heic), limits.MAX_FILE_BYTES), IncomingFile)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    result = inspect("IMG_0001.HEIC", io.BytesIO(heic), limits.MAX_FILE_BYTES)
    assert isinstance(result, FileProblem) and result.problem is Problem.PIXELS


def test_the_header_only_heic_of_the_other_tests_is_still_accepted():
    """files.heic() is an ISO-BMFF header with no image: stored, previewed as "no preview"."""
    assert isinstance(inspect("x.heic", io.BytesIO(files.heic()), limits.MAX_FILE_BYTES), IncomingFile)
