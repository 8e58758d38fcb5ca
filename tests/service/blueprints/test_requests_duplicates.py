"""The same file (same SHA-256) twice in one request is pointed out, naming both files,
whether picked twice, or picked again after it went up with the resumable upload; the
rest of the form and the uploads already staged are kept."""
from __future__ import annotations

from sqlalchemy import func, select

from service.extensions import db
from service.models import Case, StagedUpload
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request
from tests.service.blueprints.test_requests import _post, _staged


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def test_the_same_file_picked_twice_is_refused_naming_both(client, storage):
    scan = files.pdf("Knee MRI")
    before = _cases()
    response = _post(client, valid_request(language="en", files=[
        upload(scan, "mri.pdf"), upload(files.jpeg(), "photo.jpg"), upload(scan, "mri (1).pdf"),
    ]))
    assert response.status_code == 422
    message = "mri (1).pdf and mri.pdf are the same file (identical contents); remove one of them."
    assert message in response.text
    assert 'href="#files"' in response.text
    assert 'value="Amina Petrova"' in response.text  # the other input kept
    assert _cases() == before


def test_a_file_picked_again_after_it_was_uploaded_is_refused_and_the_upload_kept(client, storage):
    scan = files.pdf("Knee MRI")
    staged_id = _staged(client, scan, "МРТ.pdf")
    response = _post(client, valid_request(language="en", upload_ids=[staged_id], files=[upload(scan, "again.pdf")]))
    assert response.status_code == 422
    assert "again.pdf and МРТ.pdf are the same file (identical contents)" in response.text
    assert f'<input type="hidden" name="upload_ids" value="{staged_id}">' in response.text
    db.session.expire_all()
    assert db.session.get(StagedUpload, staged_id).complete  # nothing accepted is lost
    # Sent without the copy, the request goes through with the upload.
    assert _post(client, valid_request(language="en", upload_ids=[staged_id])).status_code == 303


def test_two_uploads_of_the_same_contents_are_refused_by_name(client, storage):
    scan = files.pdf("Knee MRI")
    first, second = _staged(client, scan, "scan.pdf"), _staged(client, scan, "scan-copy.pdf")
    response = _post(client, valid_request(language="en", upload_ids=[first, second]))
    assert response.status_code == 422
    assert "scan-copy.pdf and scan.pdf are the same file (identical contents)" in response.text
    assert 'href="#upload_ids"' in response.text
    for kept in (first, second):
        assert f'name="upload_ids" value="{kept}"' in response.text
        assert "data-upload-sha256=\"" in response.text
    assert _post(client, valid_request(language="en", upload_ids=[first])).status_code == 303


def test_the_russian_page_names_them_in_russian(client, storage):
    scan = files.pdf("Knee MRI")
    response = _post(client, valid_request(files=[upload(scan, "a.pdf"), upload(scan, "b.pdf")]))
    assert response.status_code == 422
    assert "b.pdf и a.pdf — один и тот же файл (одинаковое содержимое); уберите один из них." in response.text


def test_a_field_fixed_on_the_second_post_shows_no_stale_error(client):
    first = _post(client, valid_request(language="en", email="amina-at-example.org", full_name=""))
    assert first.status_code == 422
    assert "Enter a valid email address" in first.text and "Enter your full name." in first.text
    second = _post(client, valid_request(language="en", full_name=""))
    assert second.status_code == 422
    assert "Enter your full name." in second.text
    assert "Enter a valid email address" not in second.text
    assert 'id="email-error"' not in second.text
    assert 'aria-describedby="email-error"' not in second.text
