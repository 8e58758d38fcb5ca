"""Bad files through both doors, the request form and the API: each refusal names the
file and the rule, keeps the rest of the input and stores nothing; hostile filenames are
stored under a safe display name; a PDF with scripts is accepted but flagged, never shown
inline and withheld from the dossier."""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from pathlib import Path

import pydyf
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject
from sqlalchemy import func, select

from service import i18n, limits, uploads
from service.extensions import db
from service.models import Attachment, Case, Document, Referral
from service.paperwork.documents import WITHHELD_ACTIVE
from tests.fixtures import broken_pdfs, files, hostile
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.staff import sign_in
from tests.service.paperwork.pdfs import flat, page_texts

FORM, API = "/requests/new", "/api/v1/requests"


def _objects(storage) -> set[Path]:
    return {p for p in Path(storage.root).rglob("*") if p.is_file()}


def _counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Case.id))), db.session.scalar(select(func.count(Attachment.id)))


def _post(client, path: str, parts: list[tuple[bytes, str]], **overrides):
    data = valid_request(language="en", files=[upload(content, name) for content, name in parts], **overrides)
    return client.post(path, data=data, content_type="multipart/form-data")


def _latest_case() -> Case:
    return db.session.scalars(select(Case).order_by(Case.id.desc())).first()


# ---------------------------------------------------------------- refused files

# (parts, the words the message must contain, the API's status). The form answers 422
# for every one; the API says 413 for size and 415 for type, as its contract documents.
REFUSED = {
    "empty": (lambda: [(b"", "blank.pdf")], ["blank.pdf", "empty (0 bytes)"], 422),
    "one-byte-over": (
        lambda: [(files.pdf() + b"\0" * (limits.MAX_FILE_BYTES + 1 - len(files.pdf())), "huge.pdf")],
        ["huge.pdf", i18n.human_size(limits.MAX_FILE_BYTES), f"{limits.MAX_FILE_BYTES + 1:,} bytes"],
        413,
    ),
    "eleven-files": (
        lambda: [(files.png(), f"p{i}.png") for i in range(limits.MAX_FILES + 1)],
        [f"You picked {limits.MAX_FILES + 1} files", f"at most {limits.MAX_FILES} files"],
        422,
    ),
    "executable-named-pdf": (lambda: [(files.windows_executable(), "report.pdf")],
                             ["report.pdf", "this type is not accepted", "PDF, JPEG"], 415),
    "zip-named-pdf": (lambda: [(files.zip_archive(), "scan.pdf")],
                      ["scan.pdf", "a ZIP is accepted only for the content of a CT or MRI disc"], 422),
    "elf-named-pdf": (lambda: [(files.elf_executable(), "scan.pdf")], ["scan.pdf", "this type is not accepted"], 415),
    "decompression-bomb": (
        lambda: [(hostile.png_declaring(20_000, 20_000), "xray.png")],
        ["xray.png", "too many pixels", f"the limit is {Image.MAX_IMAGE_PIXELS:,} pixels"],
        422,
    ),
    "bomb-under-pillows-error-limit": (
        lambda: [(hostile.png_declaring(10_000, 10_000), "scan.png")], ["scan.png", "too many pixels"], 422,
    ),
    "pdf-no-reader-opens": (lambda: [(broken_pdfs.garbage(), "lab.pdf")], ["lab.pdf", "cannot be read", "damaged"], 422),
    "password-pdf": (lambda: [(hostile.locked_pdf(), "locked.pdf")], ["locked.pdf", "locked with a password"], 422),
}


@pytest.mark.parametrize("door", [FORM, API])
@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_refused_file_is_named_with_its_problem_and_nothing_is_stored(client, storage, door, kind):
    make, words, api_status = REFUSED[kind]
    before, objects = _counts(), _objects(storage)
    # A good file beside the bad one is not stored either: the request is refused whole.
    parts = make() if kind == "eleven-files" else [*make(), (files.png(), "fine.png")]
    response = _post(client, door, parts)
    assert _counts() == before
    assert _objects(storage) == objects
    if door == FORM:
        assert response.status_code == 422
        text = response.text.replace("&#39;", "'")
        assert 'href="#files"' in text
        assert 'value="Amina Petrova"' in text and "osseointegrated implant" in text  # the rest is kept
        messages = [text]
    else:
        assert response.status_code == api_status
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["status"] == api_status
        messages = body["errors"]["files"]
        assert set(body["errors"]) == {"files"}  # the other fields were fine
    for word in words:
        assert any(word in m for m in messages), (word, messages)


def test_pillows_own_bomb_limit_is_not_reached_by_decoding(client, storage, monkeypatch):
    """The check reads the header only: decoding the declared pixels would take gigabytes."""
    from PIL import ImageFile

    def never(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    response = _post(client, API, [(hostile.png_declaring(20_000, 20_000), "xray.png")])
    assert response.status_code == 422


def test_a_readable_pdf_and_an_ordinary_image_still_pass(client):
    parts = [(files.pdf(), "lab.pdf"), (hostile.png_declaring(9_000, 9_000), "big.png"),
             (hostile.locked_pdf(user_password=""), "no-printing.pdf")]
    response = _post(client, API, parts)
    assert response.status_code == 201, response.get_json()
    assert [a["filename"] for a in response.get_json()["attachments"]] == ["lab.pdf", "big.png", "no-printing.pdf"]


# ---------------------------------------------------------------- broken PDFs viewers open

# Every broken shape, and a download cut part way through its content (what survives is shown).
BROKEN_PDFS = {**{f"{shape}.pdf": make for shape, make in broken_pdfs.SHAPES.items()},
               "cut-part-way.pdf": hostile.truncated_pdf}


@pytest.mark.parametrize("door", [FORM, API])
def test_broken_pdfs_viewers_open_are_accepted_and_stored_byte_for_byte(client, storage, door):
    """The checks read qpdf's repaired copy; what is stored is what the patient sent."""
    payload = {name: make() for name, make in BROKEN_PDFS.items()}
    response = _post(client, door, list((content, name) for name, content in payload.items()))
    assert response.status_code == (303 if door == FORM else 201), response.text
    stored = {a.filename: a for a in _latest_case().attachments}
    assert set(stored) == set(payload)
    for name, content in payload.items():
        attachment = stored[name]
        assert (attachment.content_type, attachment.size) == ("application/pdf", len(content))
        assert attachment.sha256 == hashlib.sha256(content).hexdigest(), name
        with storage.open(attachment.storage_key) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == hashlib.sha256(content).hexdigest(), name


def test_a_resumable_upload_of_a_broken_pdf_is_accepted_as_sent(client, storage):
    content = broken_pdfs.no_xref()
    location, sent = _tus_upload(client, content, "scan.pdf")
    assert sent.status_code == 204
    response = client.post("/requests/new", data=valid_request(upload_ids=[location.rsplit("/", 1)[1]]),
                           content_type="multipart/form-data")
    assert response.status_code == 303
    [attachment] = _latest_case().attachments
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    with storage.open(attachment.storage_key) as stream:
        assert stream.read() == content


# ---------------------------------------------------------------- filenames

HOSTILE_NAMES = {
    "path": "../../../etc/passwd.pdf",
    "windows-path": "..\\..\\Windows\\system32\\scan.pdf",
    "nul": "scan\x00.pdf",
    "controls": "lab\x01\x07\x1b[31mresult\x7f.pdf",
    "long": "a" * 1000 + ".pdf",
    "rtl-override": "report\u202efdp.exe",
}


def _assert_safe(name: str) -> None:
    assert name and len(name) <= uploads.MAX_NAME_CHARS
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name), ascii(name)


@pytest.mark.parametrize("door", [FORM, API])
@pytest.mark.parametrize("kind", list(HOSTILE_NAMES))
def test_a_hostile_filename_is_stored_under_a_safe_display_name(client, storage, door, kind):
    response = _post(client, door, [(files.pdf(), HOSTILE_NAMES[kind])])
    assert response.status_code == (303 if door == FORM else 201), response.text
    [attachment] = _latest_case().attachments
    _assert_safe(attachment.filename)
    if kind == "windows-path":
        # Werkzeug reads a backslash in the quoted filename as an escape, so it arrives
        # without them ("....Windowssystem32scan.pdf"): no separator left to follow.
        assert attachment.filename.endswith("scan.pdf")
    else:
        assert attachment.filename == uploads.safe_filename(HOSTILE_NAMES[kind])
    # The object's key is the server's own, never derived from the name.
    assert re.fullmatch(rf"cases/{attachment.case_id}/attachments/[0-9a-f-]{{36}}", attachment.storage_key)
    assert storage.path_for(attachment.storage_key).is_file()
    if door == API:
        assert response.get_json()["attachments"][0]["filename"] == attachment.filename


def test_safe_names_keep_only_the_last_path_part_and_the_extension():
    assert uploads.safe_filename(HOSTILE_NAMES["path"]) == "passwd.pdf"
    assert uploads.safe_filename(HOSTILE_NAMES["windows-path"]) == "scan.pdf"
    assert uploads.safe_filename(HOSTILE_NAMES["long"]).endswith(".pdf")
    assert uploads.safe_filename(HOSTILE_NAMES["rtl-override"]) == "reportfdp.exe"


# ---------------------------------------------------------------- active content


@pytest.mark.parametrize("where", hostile.SCRIPT_PLACES)
def test_scripts_anywhere_in_a_pdf_are_found(where):
    data = hostile.pdf_with_script(where)
    assert uploads.has_active_content(PdfReader(io.BytesIO(data))) is True


def test_a_plain_pdf_has_no_active_content():
    assert uploads.has_active_content(PdfReader(io.BytesIO(files.pdf()))) is False


def test_a_script_inside_a_compressed_object_stream_is_found():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(hostile.pdf_with_script("open_action"))))
    writer.compress_identical_objects()
    for page in writer.pages:
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    assert uploads.has_active_content(PdfReader(io.BytesIO(out.getvalue()))) is True


def test_a_script_in_a_real_object_stream_is_found():
    """pydyf (WeasyPrint's writer) packs every dictionary into a compressed object stream:
    the script is nowhere in the file's bytes as text."""
    pdf = pydyf.PDF()
    action = pydyf.Dictionary({"Type": "/Action", "S": "/JavaScript", "JS": pydyf.String('app.alert("pwned")')})
    pdf.add_object(action)
    pdf.catalog["OpenAction"] = action.reference
    content = pydyf.Stream()
    content.begin_text()
    content.show_text(pydyf.String("Scripted"))
    content.end_text()
    pdf.add_object(content)
    pdf.add_page(pydyf.Dictionary({"Type": "/Page", "Parent": pdf.pages.reference,
                                   "MediaBox": pydyf.Array([0, 0, 612, 792]), "Contents": content.reference}))
    out = io.BytesIO()
    pdf.write(out, version=b"1.7", compress=True)
    data = out.getvalue()
    assert b"/ObjStm" in data and b"JavaScript" not in data
    assert uploads.check_content("scripted.pdf", io.BytesIO(data), "application/pdf") is True


def _action(kind: str) -> DictionaryObject:
    if kind == "/Launch":
        return DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")})
    return DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1)")})


def _pdf_acting_from(where: str) -> bytes:
    """``files.pdf``'s page with an action in one more place a viewer runs actions from."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf())))
    page = writer.pages[0]
    if where == "outline":
        item = writer.add_outline_item(title="Results", page_number=0)
        item.get_object()[NameObject("/A")] = writer._add_object(_action("/JavaScript"))
    elif where == "form-field":
        field = DictionaryObject({
            NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject("name"),
            NameObject("/AA"): DictionaryObject({NameObject("/K"): writer._add_object(_action("/JavaScript"))}),
        })
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
            {NameObject("/Fields"): ArrayObject([writer._add_object(field)])}
        )
    elif where == "page-open":
        page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): _action("/JavaScript")})
    elif where == "next-action":
        goto = DictionaryObject({
            NameObject("/S"): NameObject("/GoTo"),
            NameObject("/D"): ArrayObject([page.indirect_reference, NameObject("/Fit")]),
            NameObject("/Next"): ArrayObject([writer._add_object(_action("/JavaScript"))]),
        })
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(goto)
    elif where == "launch-link":
        annotation = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (72, 72, 200, 100)]),
            NameObject("/A"): _action("/Launch"),
        })
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    else:
        raise ValueError(where)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("where", ["outline", "form-field", "page-open", "next-action", "launch-link"])
def test_actions_wherever_a_viewer_runs_them_are_found(where):
    """The check follows only the entries that lead to actions; each of these is one of them."""
    assert uploads.check_content("acting.pdf", io.BytesIO(_pdf_acting_from(where)), "application/pdf") is True


@pytest.mark.parametrize("door", [FORM, API])
def test_a_pdf_with_scripts_is_accepted_and_flagged(client, door):
    response = _post(client, door, [(hostile.pdf_with_script("open_action"), "scripted.pdf"),
                                    (files.pdf(), "plain.pdf")])
    assert response.status_code == (303 if door == FORM else 201)
    flagged, plain = _latest_case().attachments
    assert (flagged.filename, flagged.active_content) == ("scripted.pdf", True)
    assert (plain.filename, plain.active_content) == ("plain.pdf", False)


@pytest.fixture
def scripted_case(client, coordinator) -> Case:
    _post(client, FORM, [(hostile.pdf_with_script("annotation", "Scripted page"), "scripted.pdf"),
                         (files.pdf("Honest page"), "plain.pdf")])
    sign_in(client, coordinator)
    return _latest_case()


def test_staff_see_a_warning_and_the_flagged_pdf_is_never_inlined(client, scripted_case):
    flagged, plain = scripted_case.attachments
    page = client.get(f"/staff/cases/{scripted_case.reference}").text
    item = page.split(f"attachments/{flagged.id}", 1)[1].split("</li>", 1)[0]
    assert "Warning: this PDF contains active content" in item
    assert "<iframe" not in item
    other = page.split(f"attachments/{plain.id}", 1)[1].split("</li>", 1)[0]
    assert "<iframe" in other and "active content" not in other
    preview = f"/staff/cases/{scripted_case.reference}/attachments/{{}}/preview"
    refused = client.get(preview.format(flagged.id))
    assert refused.status_code == 404 and refused.mimetype != "application/pdf"
    assert client.get(preview.format(plain.id)).status_code == 200


def test_a_flagged_pdf_downloads_as_an_attachment_only(client, scripted_case):
    flagged = scripted_case.attachments[0]
    link = client.get(f"/staff/cases/{scripted_case.reference}/attachments/{flagged.id}")
    assert link.status_code == 303
    download = client.get(link.location)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.data == hostile.pdf_with_script("annotation", "Scripted page")


def test_the_dossier_withholds_a_flagged_pdf_and_carries_no_script(app, client, storage, scripted_case):
    from workers import jobs

    with app.app_context():
        for attachment in scripted_case.attachments:  # the worker's files queue comes first
            jobs.derive_file(scripted_case.id, attachment.id)
        jobs.route_case(scripted_case.id)
        db.session.commit()
        referral = db.session.scalars(select(Referral).where(Referral.case_id == scripted_case.id)).first()
        jobs.render_dossier(scripted_case.id, referral.id)
        db.session.commit()
        dossier = db.session.scalars(select(Document).where(Document.referral_id == referral.id)).one()
        with storage.open(dossier.storage_key) as stream:
            data = stream.read()
    text = flat(" ".join(page_texts(data)))
    assert "scripted.pdf" in text and flat(WITHHELD_ACTIVE) in text
    assert "Honest page" in text            # the plain PDF is an exhibit
    assert "Scripted page" not in text      # the flagged one's pages are not
    assert uploads.has_active_content(PdfReader(io.BytesIO(data))) is False


def test_the_clinic_portal_warns_about_a_flagged_pdf(app, client, storage, scripted_case):
    from service.accounts.roles import CLINIC
    from tests.fixtures.staff import make_user
    from workers import jobs

    with app.app_context():
        jobs.route_case(scripted_case.id)
        db.session.commit()
    referral = db.session.scalars(select(Referral).where(Referral.case_id == scripted_case.id)).first()
    portal = app.test_client()
    sign_in(portal, make_user(CLINIC, clinic_id=referral.clinic_id))
    page = portal.get(f"/clinic/referrals/{referral.id}").text
    assert page.count("Warning: this PDF contains active content") == 1
    warned = page.split("Warning: this PDF contains active content", 1)[0].rsplit("<li>", 1)[1]
    assert "PDF" in warned and "plain" not in warned


# ---------------------------------------------------------------- the resumable upload


def _tus_upload(client, content: bytes, name: str):
    import base64

    tus = {"Tus-Resumable": "1.0.0"}
    meta = f"filename {base64.b64encode(name.encode()).decode()}"
    created = client.post("/uploads", headers={**tus, "Upload-Length": str(len(content)), "Upload-Metadata": meta})
    assert created.status_code == 201, created.get_data(as_text=True)
    location = created.headers["Location"]
    sent = client.patch(location, data=content, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
    })
    return location, sent


@pytest.mark.parametrize("kind", ["decompression-bomb", "pdf-no-reader-opens"])
def test_a_resumable_upload_gets_the_same_look_inside_once_complete(client, storage, kind):
    from service.models import StagedUpload

    make, words, _ = REFUSED[kind]
    [(content, name)] = make()
    objects = _objects(storage)
    location, sent = _tus_upload(client, content, name)
    assert sent.status_code == 422
    assert sent.mimetype == "application/problem+json"
    for word in words:
        assert word in sent.get_json()["detail"]
    assert db.session.get(StagedUpload, location.rsplit("/", 1)[1]) is None
    assert _objects(storage) == objects


def test_a_resumable_upload_with_scripts_is_flagged_on_its_case(client):
    location, sent = _tus_upload(client, hostile.pdf_with_script("names"), "scripted.pdf")
    assert sent.status_code == 204
    response = client.post("/requests/new", data=valid_request(upload_ids=[location.rsplit("/", 1)[1]]),
                           content_type="multipart/form-data")
    assert response.status_code == 303
    [attachment] = _latest_case().attachments
    assert (attachment.filename, attachment.active_content) == ("scripted.pdf", True)
