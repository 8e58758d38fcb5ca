"""/staff/templates: admins list, create, edit and delete the reply templates (English
and Russian, question or reply); every refusal names its field; nobody else gets in."""
from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from service.accounts.roles import ADMIN
from service.cases import reply_templates
from service.extensions import db
from service.models import ReplyTemplate
from tests.fixtures.staff import make_user, sign_in

SEEDED = ("missing-xray", "recent-blood-tests", "travel-dates", "passport-copy", "companion", "files-received")


def valid(**changes: str) -> dict[str, str]:
    data = {
        "key": "insurance", "title": "Insurance details", "kind": "question",
        "body_en": "Dear {patient_first_name}, which insurer covers {reference}?",
        "body_ru": "Здравствуйте, {patient_first_name}! Какая страховка покрывает {reference}?",
    }
    data.update(changes)
    return data


@pytest.fixture
def admin_client(client, db_session):
    sign_in(client, make_user(ADMIN))
    return client


def count() -> int:
    return db.session.scalar(select(func.count(ReplyTemplate.id)))


def test_admins_see_every_template_and_a_nav_link(admin_client):
    page = admin_client.get("/staff/templates")
    assert page.status_code == 200
    for key in SEEDED:
        assert f'id="template-{key}"' in page.text
    assert "Здравствуйте" in page.text
    assert 'href="/staff/templates" aria-current="page">Reply templates</a>' in page.text


def test_an_admin_creates_a_template_and_coordinators_can_pick_it(admin_client):
    assert admin_client.get("/staff/templates/new").status_code == 200
    response = admin_client.post("/staff/templates/new", data=valid())
    assert response.status_code == 303 and response.location.endswith("/staff/templates#template-insurance")
    saved = reply_templates.by_key("insurance")
    assert (saved.title, saved.kind, saved.body_ru) == (
        "Insurance details", "question", "Здравствуйте, {patient_first_name}! Какая страховка покрывает {reference}?")
    assert "Insurance details" in admin_client.get("/staff/templates").text


def test_an_admin_edits_a_template(admin_client):
    template = reply_templates.by_key("companion")
    form = admin_client.get(f"/staff/templates/{template.id}")
    assert form.status_code == 200 and str(escape(template.body_ru)) in form.text
    response = admin_client.post(f"/staff/templates/{template.id}", data=valid(
        key="companion", title="Companion", kind="reply", body_en="Bring a companion to {clinic}.",
        body_ru="Возьмите сопровождающего в {clinic}."))
    assert response.status_code == 303
    db.session.expire_all()
    edited = reply_templates.by_key("companion")
    assert (edited.id, edited.title, edited.kind, edited.body_en) == (
        template.id, "Companion", "reply", "Bring a companion to {clinic}.")


def test_an_admin_deletes_a_template(admin_client):
    template = reply_templates.by_key("files-received")
    before = count()
    response = admin_client.post(f"/staff/templates/{template.id}/delete")
    assert response.status_code == 303
    assert reply_templates.by_key("files-received") is None and count() == before - 1
    assert admin_client.post(f"/staff/templates/{template.id}/delete").status_code == 404
    assert admin_client.get(f"/staff/templates/{template.id}").status_code == 404


@pytest.mark.parametrize("changes, field, message", [
    ({"key": ""}, "key", "Key: enter a key."),
    ({"key": "Missing X-ray"}, "key", "Key: use lower-case letters, digits and hyphens, e.g. missing-xray."),
    ({"key": "missing-xray"}, "key", "Key: another template already uses missing-xray."),
    ({"title": ""}, "title", "Title: enter a title."),
    ({"kind": "shout"}, "kind", "Kind: choose question or reply."),
    ({"body_en": ""}, "body_en", "English text: write the text."),
    ({"body_ru": ""}, "body_ru", "Russian text: write the text."),
    ({"body_ru": "Здравствуйте, {name}!"}, "body_ru",
     "Russian text: {name} is not a placeholder; use {reference}, {clinic}, {patient_first_name}."),
    ({"body_en": "x" * 5001}, "body_en", "English text: at most 5,000 characters."),
])
def test_a_refused_template_names_its_field_keeps_the_text_and_saves_nothing(admin_client, changes, field, message):
    before = count()
    response = admin_client.post("/staff/templates/new", data=valid(**changes))
    assert response.status_code == 422
    # Under its field, and in the summary linking to it.
    assert f'<ul class="field-errors" id="{field}-error">' in response.text
    assert str(escape(message)) in response.text
    assert f'href="#{field}"' in response.text
    if field != "title":
        assert "Insurance details" in response.text
    assert count() == before


def test_non_admins_are_refused_and_change_nothing(app, client, db_session):
    template = reply_templates.by_key("companion")
    before = count()
    coordinator = app.test_client()
    sign_in(coordinator, make_user())
    for method, path, data in (
        ("GET", "/staff/templates", None), ("GET", "/staff/templates/new", None),
        ("POST", "/staff/templates/new", valid()), ("GET", f"/staff/templates/{template.id}", None),
        ("POST", f"/staff/templates/{template.id}", valid(key="companion")),
        ("POST", f"/staff/templates/{template.id}/delete", None),
    ):
        assert coordinator.open(path, method=method, data=data).status_code == 403, path
        anonymous = client.open(path, method=method, data=data)
        assert anonymous.status_code == 302 and "/staff/login" in anonymous.location, path
    assert count() == before and reply_templates.by_key("companion").title == "Travelling companion"
    assert "Reply templates" not in coordinator.get("/staff/cases").text
