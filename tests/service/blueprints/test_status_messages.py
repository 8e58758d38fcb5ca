"""The status page's Messages section: writing with files, all-or-nothing, both languages."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from service.cases.tokens import new_token
from service.extensions import db
from service.models import Attachment, CaseMessage
from tests.fixtures import files
from tests.fixtures.cases import make_case
from tests.fixtures.forms import upload


def _case(**overrides):
    token, token_hash = new_token()
    case = make_case(token_hash=token_hash, **overrides)
    db.session.commit()
    return case, token


def test_a_message_with_a_pdf_lands_in_the_thread_with_its_sha256(client):
    case, token = _case()
    data = files.pdf("Blood test")
    response = client.post(f"/s/{token}/messages", data={
        "message-body": "My latest blood test.", "message-files": [upload(data, "bloods.pdf")],
    }, content_type="multipart/form-data")
    assert response.status_code == 303
    message = db.session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id)).one()
    stored = db.session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    page = client.get(f"/s/{token}").text
    assert "My latest blood test." in page and "bloods.pdf" in page


def test_an_eleventh_file_refuses_the_whole_message_naming_the_limit_and_keeps_the_body(client):
    case, token = _case()
    parts = [upload(files.pdf(f"n{i}"), f"f{i}.pdf") for i in range(11)]
    response = client.post(f"/s/{token}/messages", data={
        "message-body": "Eleven files, sorry.", "message-files": parts,
    }, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "at most 10 files" in response.text and "Eleven files, sorry." in response.text
    assert db.session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id)).all() == []
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []


def test_one_bad_file_refuses_the_message_naming_the_file(client):
    case, token = _case()
    response = client.post(f"/s/{token}/messages", data={
        "message-body": "Two files", "message-files": [upload(files.pdf(), "ok.pdf"), upload(files.zip_archive(), "bad.zip")],
    }, content_type="multipart/form-data")
    assert response.status_code == 422 and "bad.zip" in response.text and "Two files" in response.text
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []


def test_the_messages_section_speaks_russian_for_a_russian_case(client):
    _case_row, token = _case(language="ru")
    response = client.post(f"/s/{token}/messages", data={"message-body": ""}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Сообщения" in response.text and "Напишите сообщение или выберите файл для отправки." in response.text
