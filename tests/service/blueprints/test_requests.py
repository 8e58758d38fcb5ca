"""The request form: success, every refusal with its message, nothing typed lost."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from service import limits, uploads
from service.extensions import db
from service.models import Attachment, Case, CaseEvent
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


# The form re-renders in the language the patient picked (valid_request's is "ru"):
# the tests of its English messages post language "en" (test_requests_i18n.py has the Russian).
def _post(client, data):
    return client.post("/requests/new", data=data, content_type="multipart/form-data")


def test_index_links_to_the_form(client):
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/requests/new"' in page.text
    assert "Osseointegrated" in page.text


def test_form_shows_limits_before_anything_is_picked(client):
    page = client.get("/requests/new")
    assert page.status_code == 200
    assert f"Up to {limits.MAX_FILES} files, 10 MB each: {uploads.accepted_labels()}" in page.text
    assert f"{limits.MAX_FILES} of {limits.MAX_FILES} files left" in page.text
    for name in ("full_name", "email", "phone", "country", "date_of_birth", "language", "treatment",
                 "preferred_clinic", "description", "travel_window", "budget", "budget_currency",
                 "medications", "allergies", "conditions", "consent", "files"):
        assert f'name="{name}"' in page.text, name


def test_treatment_can_be_preselected_from_the_catalogue_link(client):
    page = client.get("/requests/new?treatment=knee-replacement")
    assert re.search(r'<option selected value="knee-replacement">|<option value="knee-replacement" selected>', page.text)


def test_submission_with_three_files_records_case_and_redirects_to_status(client, storage):
    before = _cases()
    payload = {"pdf": files.pdf(), "jpg": files.jpeg(), "heic": files.heic()}
    data = valid_request(files=[
        upload(payload["pdf"], "МРТ колена.pdf"),
        upload(payload["jpg"], "photo.jpg"),
        upload(payload["heic"], "IMG_0042.HEIC"),
    ])
    response = _post(client, data)
    assert response.status_code == 303
    assert re.fullmatch(r"http://medtour\.test/s/[A-Za-z0-9_-]{43}", response.location) or \
        re.fullmatch(r"/s/[A-Za-z0-9_-]{43}", response.location)
    assert _cases() == before + 1
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert re.fullmatch(r"MT-\d{4}-\d{6}", case.reference)
    assert case.status == "submitted" and case.source == "web"
    assert case.phone == "+79123456789"
    assert case.medications == "none known" and case.allergies is None
    stored = {a.filename: a for a in case.attachments}
    assert set(stored) == {"МРТ колена.pdf", "photo.jpg", "IMG_0042.HEIC"}
    for name, key in (("МРТ колена.pdf", "pdf"), ("photo.jpg", "jpg"), ("IMG_0042.HEIC", "heic")):
        attachment = stored[name]
        assert attachment.sha256 == hashlib.sha256(payload[key]).hexdigest()
        assert attachment.size == len(payload[key])
        assert re.fullmatch(rf"cases/{case.id}/attachments/[0-9a-f-]{{36}}", attachment.storage_key)
        with storage.open(attachment.storage_key) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == attachment.sha256
    assert stored["IMG_0042.HEIC"].content_type == "image/heic"
    kinds = [e.kind for e in case.events]
    assert kinds == ["case_submitted"]

    status_page = client.get(response.location)
    assert status_page.status_code == 200
    assert case.reference in status_page.text
    assert "МРТ колена.pdf" in status_page.text
    assert "Осталось файлов: 7 из 10" in status_page.text  # the patient asked for Russian


def test_the_token_is_stored_only_as_a_hash(client):
    response = _post(client, valid_request())
    token = response.location.rsplit("/", 1)[1]
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.token_hash == hashlib.sha256(token.encode()).hexdigest()
    for column in Case.__table__.columns:
        assert getattr(case, column.key) != token


def test_submission_without_files_is_fine(client):
    response = _post(client, valid_request())
    assert response.status_code == 303
    assert "Осталось файлов: 10 из 10" in client.get(response.location).text  # a Russian case's page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("full_name", "", "Enter your full name."),
        ("email", "not-an-email", "Enter a valid email address"),
        ("phone", "call me", "Enter the phone number with its country code"),
        ("phone", "+44 12", "This is not a valid phone number"),
        ("country", "XX", "Select a country from the list"),
        ("country", "", "Select the country you live in."),
        ("language", "xx", "Select a language from the list"),
        ("treatment", "brain-transplant", "Select a treatment from the list."),
        ("description", "too short", "Write between 20 and 5000 characters (you wrote 9)."),
        ("description", "x" * 5001, "Write between 20 and 5000 characters (you wrote 5001)."),
        ("budget", "-5", "Enter an amount between 1 and 10,000,000."),
        ("budget_currency", "", "Select the currency of your budget."),
        ("budget_currency", "XYZ", "Select a currency from the list"),
        ("date_of_birth", "2999-01-01", "The date of birth must be in the past."),
        ("website", "http://spam.example", "Leave this field empty."),
    ],
)
def test_each_invalid_field_is_refused_with_its_message_and_typed_values_kept(client, field, value, message):
    before = _cases()
    data = valid_request(**{"language": "en", field: value})
    page = _post(client, data)
    assert page.status_code == 422
    assert message in page.text
    assert 'class="error-summary"' in page.text
    assert f'href="#{field}"' in page.text
    assert _cases() == before
    assert 'value="Amina Petrova"' in page.text or field == "full_name"
    assert "osseointegrated implant" in page.text or field == "description"


def test_consent_is_required(client):
    data = valid_request(language="en")
    del data["consent"]
    page = _post(client, data)
    assert page.status_code == 422
    assert "You must consent before we can process your request." in page.text


def test_preferred_clinic_must_offer_the_treatment(client):
    from service.models import Clinic, Treatment

    clinic = db.session.scalars(select(Clinic).order_by(Clinic.slug)).first()
    treatment = next(
        t for t in db.session.scalars(select(Treatment).order_by(Treatment.slug))
        if not clinic.offers_treatment(t.id)
    )
    before = _cases()
    page = _post(client, valid_request(language="en", treatment=treatment.slug, preferred_clinic=clinic.slug))
    assert page.status_code == 422
    assert f"{clinic.name} does not offer {treatment.name}" in page.text
    assert _cases() == before


def test_preferred_clinic_is_recorded(client, app):
    from service.models import Clinic

    clinic = db.session.scalars(
        select(Clinic).where(Clinic.offers.any())
    ).first()
    treatment = clinic.offers[0].treatment
    response = _post(client, valid_request(treatment=treatment.slug, preferred_clinic=clinic.slug))
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.preferred_clinic_id == clinic.id


def test_none_known_is_distinct_from_blank(client):
    _post(client, valid_request(medications="none known", allergies="", conditions="  "))
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.medications == "none known"
    assert case.allergies is None and case.conditions is None


@pytest.mark.parametrize(
    "parts, message",
    [
        ([(b"", "blank.pdf")], "blank.pdf: the file is empty (0 bytes)."),
        ([(files.zip_archive(), "scan.zip")],
         "scan.zip: a ZIP is accepted only for the content of a CT or MRI disc (DICOM files); this one holds none."),
        ([(files.elf_executable(), "setup.zip")],
         "setup.zip: this type is not accepted; use PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP."),
        ([(files.zip_archive(), "renamed.pdf")], "renamed.pdf: a ZIP is accepted only for the content of a CT"),
        ([(files.pdf() + b"\0" * limits.MAX_FILE_BYTES, "huge.pdf")],
         "huge.pdf: the file is just over 10 MB"),
        ([(files.png(), f"p{i}.png") for i in range(11)],
         "You picked 11 files; at most 10 files can be attached."),
    ],
)
def test_file_refusals_name_the_file_and_rule_and_store_nothing(client, storage, parts, message):
    before = _cases()
    attachments_before = db.session.scalar(select(func.count(Attachment.id)))
    page = _post(client, valid_request(language="en", files=[upload(content, name) for content, name in parts]))
    assert page.status_code == 422
    assert message in page.text
    assert 'href="#files"' in page.text
    assert _cases() == before
    assert db.session.scalar(select(func.count(Attachment.id))) == attachments_before
    assert 'value="Amina Petrova"' in page.text


def test_every_bad_file_is_reported_at_once(client):
    page = _post(client, valid_request(language="en", files=[
        upload(b"", "empty.pdf"), upload(files.zip_archive(), "a.zip"), upload(files.png(), "ok.png"),
        upload(files.elf_executable(), "b.pdf"),
    ]))
    assert "empty.pdf: the file is empty" in page.text
    assert "a.zip: a ZIP is accepted only for the content of a CT or MRI disc" in page.text
    assert "b.pdf: this type is not accepted" in page.text


def test_valid_files_must_be_picked_again_after_a_text_error_and_the_page_says_so(client):
    page = _post(client, valid_request(language="en", full_name="", files=[upload(files.pdf(), "lab.pdf")]))
    assert page.status_code == 422
    assert "lab.pdf" in page.text and "pick them again" in page.text


def test_ten_files_are_accepted(client):
    response = _post(client, valid_request(files=[upload(files.png(i), f"p{i}.png") for i in range(10)]))
    assert response.status_code == 303
    assert "Осталось файлов: 0 из 10" in client.get(response.location).text  # a Russian case's page


def test_request_over_the_total_limit_is_cut_off_with_413_before_reading(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    before = _cases()
    response = client.post(
        "/requests/new",
        data=b"x" * 16,
        content_type="multipart/form-data; boundary=abc",
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)},
    )
    assert response.status_code == 413
    assert "at most 10 files of 10 MB each" in response.text
    assert _cases() == before


def test_csrf_is_enforced(app, db_session):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        refused = client.post("/requests/new", data=valid_request())
        assert refused.status_code == 400
        page = client.get("/requests/new")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        accepted = client.post("/requests/new", data=valid_request(csrf_token=token))
        assert accepted.status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_timeline_event_rows_are_append_only(client):
    from service.models.case import AppendOnlyError

    _post(client, valid_request())
    event = db.session.scalars(select(CaseEvent).order_by(CaseEvent.id.desc())).first()
    event.kind = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


# -- files already uploaded with the resumable upload (tus) ------------------

from service.cases import staging as _staging
from service.models import StagedUpload
from tests.service.blueprints.test_tus import (
    created,
    patch,
    stored_keys,
    upload_id,
)


def _staged(client, content: bytes, name: str) -> str:
    """Upload ``content`` through /uploads in two chunks; the id of the completed upload."""
    location = created(client, len(content), name)
    half = len(content) // 2
    assert patch(client, location, 0, content[:half]).status_code == 204
    assert patch(client, location, half, content[half:]).status_code == 204
    return upload_id(location)


@pytest.fixture(params=["file", "s3"])
def any_store(request, storage):
    return storage if request.param == "file" else request.getfixturevalue("s3_storage")


def test_upload_ids_become_the_cases_attachments_and_leave_staging(client, any_store):
    payload = {"МРТ колена.pdf": files.pdf(), "IMG_0042.HEIC": files.heic()}
    ids = [_staged(client, content, name) for name, content in payload.items()]
    response = _post(client, valid_request(upload_ids=ids))
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    stored = {a.filename: a for a in case.attachments}
    assert set(stored) == set(payload)
    for name, content in payload.items():
        attachment = stored[name]
        assert attachment.sha256 == hashlib.sha256(content).hexdigest()
        assert attachment.size == len(content)
        assert re.fullmatch(rf"cases/{case.id}/attachments/[0-9a-f-]{{36}}", attachment.storage_key)
        with any_store.open(attachment.storage_key) as stream:
            assert stream.read() == content
    assert stored["IMG_0042.HEIC"].content_type == "image/heic"
    assert [(e.kind, e.details["files"]) for e in case.events] == [("case_submitted", 2)]
    db.session.expire_all()
    assert db.session.scalars(select(StagedUpload).where(StagedUpload.id.in_(ids))).all() == []
    for staged_id in ids:
        assert stored_keys(any_store, staged_id) == []


def test_plain_files_and_upload_ids_together(client, storage):
    staged_id = _staged(client, files.pdf("staged"), "staged.pdf")
    response = _post(client, valid_request(upload_ids=[staged_id], files=[upload(files.jpeg(), "photo.jpg")]))
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert sorted(a.filename for a in case.attachments) == ["photo.jpg", "staged.pdf"]
    assert case.events[0].details["files"] == 2


def test_the_file_limit_counts_picked_and_uploaded_files_together(client, storage):
    ids = [_staged(client, files.pdf(f"n{n}"), f"staged-{n}.pdf") for n in range(limits.MAX_FILES - 1)]
    before = _cases()
    picked = [upload(files.jpeg(), "photo-1.jpg"), upload(files.jpeg(), "photo-2.jpg")]
    response = _post(client, valid_request(language="en", upload_ids=ids, files=picked))
    assert response.status_code == 422
    assert "You picked 11 files; at most 10 files can be attached." in response.text
    assert _cases() == before
    # The uploads are kept and listed; one picked file fits.
    for staged_id in ids:
        assert f'name="upload_ids" value="{staged_id}"' in response.text
    response = _post(client, valid_request(language="en", upload_ids=ids, files=[upload(files.jpeg(), "photo-1.jpg")]))
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert len(case.attachments) == limits.MAX_FILES


def test_a_failing_form_keeps_the_staged_uploads_and_lists_them(client, storage):
    staged_id = _staged(client, files.pdf(), "МРТ колена.pdf")
    response = _post(client, valid_request(language="en", full_name="", upload_ids=[staged_id]))
    assert response.status_code == 422
    assert "Enter your full name." in response.text
    assert f'<input type="hidden" name="upload_ids" value="{staged_id}">' in response.text
    assert "МРТ колена.pdf" in response.text and "already uploaded and kept" in response.text
    assert "pick them again" not in response.text  # the reload notice is for picked files only
    db.session.expire_all()
    upload_row = db.session.get(StagedUpload, staged_id)
    assert upload_row is not None and upload_row.complete
    assert storage.exists(_staging.file_key(staged_id))
    # Sent again as the page now stands, the request goes through with the file.
    response = _post(client, valid_request(language="en", upload_ids=[staged_id]))
    assert response.status_code == 303


def test_reopening_the_form_lists_the_files_already_uploaded(client, storage):
    """A reload (or coming back later the same day) does not ask for them again; an
    unfinished upload is not offered, another browser's never."""
    done = _staged(client, files.pdf(), "МРТ колена.pdf")
    unfinished = created(client, 1000, "half.pdf")
    page = client.get("/requests/new?lang=en").text
    assert f'name="upload_ids" value="{done}"' in page and "МРТ колена.pdf" in page
    assert "already uploaded and kept" in page
    assert upload_id(unfinished) not in page and "half.pdf" not in page
    stranger = client.application.test_client()
    assert "МРТ колена.pdf" not in stranger.get("/requests/new").text


def test_without_staged_uploads_the_page_lists_none(client):
    page = client.get("/requests/new")
    assert 'name="upload_ids"' not in page.text
    assert "already uploaded and kept" not in page.text


def test_unknown_incomplete_and_foreign_upload_ids_are_refused_by_name(app, client, storage):
    before = _cases()
    stranger = app.test_client()
    foreign = _staged(stranger, files.pdf(), "theirs.pdf")
    location = created(client, 1000, "half.pdf")
    assert patch(client, location, 0, files.pdf()[:100]).status_code == 204
    incomplete = upload_id(location)
    response = _post(client, valid_request(language="en", upload_ids=["nonexistent-id", foreign, incomplete]))
    assert response.status_code == 422
    text = response.text
    assert "half.pdf: the upload did not finish (100 bytes of 1000 bytes); pick the file again." in text
    errors = re.search(r'<ul class="field-errors" id="upload_ids-error">(.*?)</ul>', text, re.DOTALL).group(1)
    assert errors.count("A file you uploaded earlier is no longer available") == 2  # the unknown and the foreign
    assert 'href="#upload_ids"' in text  # the error summary links to the list
    assert "theirs.pdf" not in text  # someone else's file is not even named
    assert _cases() == before
    db.session.expire_all()
    assert db.session.get(StagedUpload, foreign) is not None


def test_when_the_store_fails_the_case_is_kept_and_the_uploads_stay_staged(client, storage, monkeypatch):
    from storage import StorageUnavailable

    staged_id = _staged(client, files.pdf(), "scan.pdf")

    def down(*args, **kwargs):
        raise StorageUnavailable("store down")

    monkeypatch.setattr(type(storage), "put", down)
    response = _post(client, valid_request(upload_ids=[staged_id]))
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case.attachments == []
    assert [e.kind for e in case.events] == ["case_submitted", "files_not_stored"]
    db.session.expire_all()
    assert db.session.get(StagedUpload, staged_id) is not None
    assert storage.exists(_staging.file_key(staged_id))


# -- the same form sent twice ------------------------------------------------------


def _submission_token(page_text: str) -> str:
    match = re.search(r'<input[^>]*name="submission_token"[^>]*value="([^"]+)"', page_text)
    assert match, "the form carries a submission token"
    return match.group(1)


def test_each_rendered_form_carries_its_own_submission_token(client):
    first = _submission_token(client.get("/requests/new").text)
    second = _submission_token(client.get("/requests/new").text)
    assert len(first) >= 43 and first != second


def test_the_form_sent_twice_makes_one_case_and_both_lead_to_its_status_page(client):
    token = _submission_token(client.get("/requests/new").text)
    before = _cases()
    first = _post(client, valid_request(submission_token=token))
    second = _post(client, valid_request(submission_token=token))  # double click / back and resend
    assert first.status_code == second.status_code == 303
    assert second.location == first.location
    assert "/s/" in second.location
    assert _cases() == before + 1
    assert client.get(second.location).status_code == 200


def test_a_failed_submission_keeps_its_token_and_can_then_be_sent(client):
    token = _submission_token(client.get("/requests/new").text)
    refused = _post(client, valid_request(submission_token=token, consent=""))
    assert refused.status_code == 422
    assert _submission_token(refused.text) == token
    before = _cases()
    assert _post(client, valid_request(submission_token=token)).status_code == 303
    assert _cases() == before + 1


def test_another_session_with_the_token_gets_a_fresh_form_not_the_case(app, client):
    token = _submission_token(client.get("/requests/new").text)
    first = _post(client, valid_request(submission_token=token))
    assert first.status_code == 303
    before = _cases()
    other = app.test_client()
    other.get("/requests/new")
    replay = _post(other, valid_request(submission_token=token))
    assert replay.status_code == 303
    assert replay.location != first.location and "/s/" not in replay.location
    assert replay.location.endswith("/requests/new")
    assert _cases() == before
    # A client with no session at all is no better off: the token is not honoured, so it
    # never sees the first case's link (its own POST is judged as a new request).
    blind = _post(app.test_client(), valid_request(submission_token=token))
    assert blind.location != first.location


def test_resumable_uploads_sent_twice_with_one_token_stay_on_the_one_case(client, storage):
    token = _submission_token(client.get("/requests/new").text)
    ids = [_staged(client, files.pdf(), "scan.pdf")]
    before = _cases()
    first = _post(client, valid_request(submission_token=token, upload_ids=ids))
    second = _post(client, valid_request(submission_token=token, upload_ids=ids))
    assert first.status_code == second.status_code == 303
    assert second.location == first.location
    assert _cases() == before + 1
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert [a.filename for a in case.attachments] == ["scan.pdf"]
