"""The private status page: what it shows, adding files later, downloads, privacy."""
from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import func, select

from service.extensions import db
from service.models import Attachment, Case
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request


def _submit(client, parts=()):
    # An English case: these tests read the page's English; test_status_i18n.py reads Russian.
    response = client.post(
        "/requests/new",
        data=valid_request(language="en", files=[upload(c, n) for c, n in parts]),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text
    return response.location.rsplit("/", 1)[1]


def _add(client, token, parts):
    return client.post(
        f"/s/{token}/files", data={"files": [upload(c, n) for c, n in parts]}, content_type="multipart/form-data"
    )


def test_status_page_shows_reference_status_files_timeline_and_is_private(client):
    token = _submit(client, [(files.pdf(), "bloods.pdf")])
    page = client.get(f"/s/{token}")
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert page.status_code == 200
    assert case.reference in page.text
    assert "Received" in page.text
    assert "bloods.pdf" in page.text
    assert "Request received" in page.text
    assert "9 of 10 files left" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_unknown_or_malformed_token_is_404(client):
    assert client.get("/s/not-a-real-token").status_code == 404
    assert client.get("/s/" + "a" * 500).status_code == 404


def test_patient_adds_files_later_within_the_same_limit(client):
    token = _submit(client, [(files.png(i), f"p{i}.png") for i in range(7)])
    response = _add(client, token, [(files.jpeg(), "later.jpg"), (files.dicom(), "ct.dcm")])
    assert response.status_code == 303
    page = client.get(f"/s/{token}")
    assert "later.jpg" in page.text and "ct.dcm" in page.text
    assert "1 of 10 files left" in page.text
    assert "2 files added" in page.text

    refused = _add(client, token, [(files.png(), "a.png"), (files.png(), "b.png")])
    assert refused.status_code == 422
    assert "You picked 2 files but only 1 of 10 can still be added (9 already attached)." in refused.text
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert len(case.attachments) == 9


def test_adding_files_refuses_bad_ones_by_name(client):
    token = _submit(client)
    refused = _add(client, token, [(files.elf_executable(), "notes.pdf")])
    assert refused.status_code == 422
    assert "notes.pdf: this type is not accepted" in refused.text
    assert _add(client, token, []).status_code == 422


def test_full_case_shows_no_upload_form(client):
    token = _submit(client, [(files.png(i), f"p{i}.png") for i in range(10)])
    page = client.get(f"/s/{token}")
    assert "0 of 10 files left" in page.text
    assert f'action="/s/{token}/files"' not in page.text


def test_download_goes_through_a_short_lived_link_with_the_same_bytes(client):
    content = files.pdf("Knee MRI")
    token = _submit(client, [(content, "МРТ колена.pdf")])
    attachment = db.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    redirect = client.get(f"/s/{token}/files/{attachment.id}")
    assert redirect.status_code == 303
    download = client.get(redirect.location)
    assert download.status_code == 200
    assert hashlib.sha256(download.data).hexdigest() == hashlib.sha256(content).hexdigest()
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "%D0%9C%D0%A0%D0%A2" in download.headers["Content-Disposition"]


def test_attachment_of_another_case_is_not_reachable(client):
    token_a = _submit(client, [(files.pdf(), "a.pdf")])
    _submit(client, [(files.pdf(), "b.pdf")])
    other = db.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    assert client.get(f"/s/{token_a}/files/{other.id}").status_code == 404
    assert db.session.scalar(select(func.count(Attachment.id))) >= 2


def test_every_status_response_is_private(client):
    """Pages, refusals, 404s and download redirects alike: never cached, no referrer."""
    token = _submit(client, [(files.pdf(), "a.pdf")])
    attachment = db.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    responses = [
        client.get(f"/s/{token}"),
        client.get(f"/s/{token}/files/{attachment.id}"),
        client.get(f"/s/{token}/documents/confirmation"),
        client.get(f"/s/{token}/withdraw"),
        client.post(f"/s/{token}/erase", data={"reference": "wrong"}),
        client.get("/s/not-a-real-token"),
        client.get("/s/erased"),
    ]
    assert [r.status_code for r in responses] == [200, 303, 404, 200, 422, 404, 200]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", response.request.path
        assert response.headers["Referrer-Policy"] == "no-referrer", response.request.path


def test_the_token_is_found_by_its_hash_then_compared_in_constant_time(client, monkeypatch):
    from service.cases import lookup

    token = _submit(client)
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(lookup, "compare_digest", spy)
    assert client.get(f"/s/{token}").status_code == 200
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert compared == [(case.token_hash, digest)] and case.token_hash == digest
    # The comparison decides: a row found by the hash is still refused if it says no.
    monkeypatch.setattr(lookup, "compare_digest", lambda a, b: False)
    assert client.get(f"/s/{token}").status_code == 404
