"""Hostile text typed into the request form: shown escaped in the staff console, the
clinic portal and every PDF made from it, pulling nothing into a PDF; each oversized
field refused with its own limit named, on the form (in the patient's language) and the API."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from service import limits
from service.accounts.roles import CLINIC
from service.extensions import db
from service.limits import EMAIL_MAX, FREE_TEXT_MAX, NAME_MAX, TRAVEL_WINDOW_MAX
from service.models import Case, Document, Referral
from service.paperwork import render
from tests.fixtures import files, hostile
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.staff import make_user, sign_in
from tests.service.paperwork.pdfs import page_texts, squeeze

# Each field gets markup of its own, so a page that escapes one field but not another shows it.
TEXT_FIELDS = ("full_name", "travel_window", "description", "medications", "allergies", "conditions")
MARKUP = {field: f'<script>alert("{field}")</script><b onclick="x()">{field}</b>' for field in TEXT_FIELDS}
MARKUP["description"] = f"Knee pain for years. {MARKUP['description']} {hostile.FETCHES}"
FILENAME = "<img src=x onerror=alert(1)>.pdf"  # a quote would end the multipart filename
RAW = [f'<script>alert("{field}")' for field in TEXT_FIELDS] + ["<img src=x onerror"]


@pytest.fixture
def hostile_case(client) -> Case:
    response = client.post(
        "/requests/new",
        data=valid_request(**MARKUP, files=[upload(files.pdf(), FILENAME)]),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text
    return db.session.scalars(select(Case).order_by(Case.id.desc())).first()


def _assert_escaped(html: str, fields: tuple[str, ...]) -> None:
    for field in fields:
        assert str(escape(MARKUP[field])) in html, field
    for raw in RAW:
        assert raw not in html, raw


def test_the_values_are_stored_as_typed(hostile_case):
    for field in TEXT_FIELDS:
        assert getattr(hostile_case, field) == MARKUP[field]
    assert hostile_case.attachments[0].filename == FILENAME


def test_the_staff_case_page_and_queue_show_markup_as_text(client, coordinator, hostile_case):
    sign_in(client, coordinator)
    page = client.get(f"/staff/cases/{hostile_case.reference}").text
    _assert_escaped(page, TEXT_FIELDS)
    assert str(escape(FILENAME)) in page
    queue = client.get("/staff/cases").text
    _assert_escaped(queue, ("full_name",))


def test_the_clinic_portal_shows_markup_as_text(app, client, hostile_case):
    from workers import jobs

    with app.app_context():
        jobs.route_case(hostile_case.id)
        db.session.commit()
    referral = db.session.scalars(select(Referral).where(Referral.case_id == hostile_case.id)).first()
    referral.contact_released_at = datetime.now(timezone.utc)  # the name too
    db.session.commit()
    portal = app.test_client()
    sign_in(portal, make_user(CLINIC, clinic_id=referral.clinic_id))
    page = portal.get(f"/clinic/referrals/{referral.id}").text
    _assert_escaped(page, TEXT_FIELDS)
    assert str(escape(FILENAME)) in page


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """Every URL any document asked the sandbox for; WeasyPrint's own fetcher must never run."""
    from weasyprint.urls import URLFetcher

    asked: list[str] = []
    sandboxed = render.SandboxedFetcher.fetch

    def spy(self, url, headers=None):
        asked.append(url)
        return sandboxed(self, url, headers)

    def forbidden(self, url, headers=None):
        raise AssertionError(f"default fetcher called for {url}")

    monkeypatch.setattr(render.SandboxedFetcher, "fetch", spy)
    monkeypatch.setattr(URLFetcher, "fetch", forbidden)
    return asked


def test_every_pdf_from_intake_shows_markup_as_text_and_fetches_nothing(app, storage, hostile_case, fetched):
    from workers import jobs

    with app.app_context():
        jobs.route_case(hostile_case.id)
        jobs.render_confirmation(hostile_case.id)
        for referral_id in db.session.scalars(select(Referral.id).where(Referral.case_id == hostile_case.id)):
            jobs.render_dossier(hostile_case.id, referral_id)
        db.session.commit()
        documents = list(db.session.scalars(select(Document).where(Document.case_id == hostile_case.id)))
        texts = {}
        for document in documents:
            with storage.open(document.storage_key) as stream:
                texts[document.slot] = squeeze(" ".join(page_texts(stream.read())))
    assert "confirmation" in texts and any(slot.startswith("dossier") for slot in texts), sorted(texts)
    for slot, text in texts.items():
        assert squeeze(FILENAME) in text, slot  # every document lists the files
        assert "root:x:0:0" not in text
        if slot.startswith("dossier"):
            for field in ("travel_window", "description", "medications", "allergies", "conditions"):
                assert squeeze(MARKUP[field]) in text, (slot, field)
    # Only our own fonts were asked for: not file:///etc/passwd, not the metadata service.
    assert fetched and all(url.startswith("medtour-static:fonts/") for url in fetched), fetched


# ---------------------------------------------------------------- oversized fields

OVERSIZED = {
    "full_name": NAME_MAX,
    "email": EMAIL_MAX,
    "travel_window": TRAVEL_WINDOW_MAX,
    "description": limits.DESCRIPTION_MAX,
    "medications": FREE_TEXT_MAX,
    "allergies": FREE_TEXT_MAX,
    "conditions": FREE_TEXT_MAX,
}


def _too_long(field: str, limit: int) -> str:
    if field == "email":
        return "a" * (limit + 1 - len("@example.org")) + "@example.org"
    return "x" * (limit + 1)


def _message(field: str, limit: int, language: str) -> str:
    if field == "description":
        return {"en": f"Write between {limits.DESCRIPTION_MIN} and {limit} characters (you wrote {limit + 1}).",
                "ru": f"Напишите от {limits.DESCRIPTION_MIN} до {limit} символов (сейчас {limit + 1})."}[language]
    return {"en": f"Write at most {limit} characters (you wrote {limit + 1}).",
            "ru": f"Напишите не больше {limit} символов (сейчас {limit + 1})."}[language]


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("field", list(OVERSIZED))
def test_an_oversized_field_is_refused_on_the_form_with_its_limit(client, field, language):
    limit = OVERSIZED[field]
    before = _cases()
    page = client.post("/requests/new", data=valid_request(language=language, **{field: _too_long(field, limit)}),
                       content_type="multipart/form-data")
    assert page.status_code == 422
    assert _message(field, limit, language) in page.text
    assert f'href="#{field}"' in page.text
    assert _cases() == before


@pytest.mark.parametrize("field", list(OVERSIZED))
def test_an_oversized_field_is_refused_by_the_api_with_its_limit(client, field):
    limit = OVERSIZED[field]
    before = _cases()
    response = client.post("/api/v1/requests", data=valid_request(**{field: _too_long(field, limit)}),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert list(errors) == [field]
    assert _message(field, limit, "en") in errors[field]
    assert _cases() == before


def test_the_contract_states_the_same_limits(client):
    schema = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/requests"]["post"]["requestBody"]
    properties = schema["content"]["multipart/form-data"]["schema"]["properties"]
    assert {field: properties[field]["maxLength"] for field in OVERSIZED} == OVERSIZED


def test_control_characters_are_dropped_from_text_not_stored(client):
    response = client.post(
        "/requests/new",
        data=valid_request(full_name="Amina\x00 Petrova\x1b", travel_window="May\x07 2027",
                           medications="line one\nline\ttwo\x00"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    case = db.session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert (case.full_name, case.travel_window, case.medications) == ("Amina Petrova", "May 2027", "line one\nline\ttwo")


@pytest.mark.parametrize("name", ["   ", "\x00", "\x00 \x1b\t"])
def test_a_name_of_spaces_or_control_characters_alone_is_no_name(client, name):
    before = _cases()
    page = client.post("/requests/new", data=valid_request(language="en", full_name=name),
                       content_type="multipart/form-data")
    assert page.status_code == 422
    assert "Enter your full name." in page.text
    assert _cases() == before


@pytest.mark.parametrize("upload_id", ["\x00", "abc\x00def", "a b", "../x"])
def test_a_malformed_upload_id_is_named_as_unavailable_not_looked_up(client, upload_id):
    """PostgreSQL refuses a NUL in a query parameter outright (a 500 before this)."""
    before = _cases()
    page = client.post("/requests/new", data=valid_request(language="en", upload_ids=[upload_id]),
                       content_type="multipart/form-data")
    assert page.status_code == 422
    assert "A file you uploaded earlier is no longer available" in page.text
    assert _cases() == before
    assert client.head(f"/uploads/{upload_id}", headers={"Tus-Resumable": "1.0.0"}).status_code == 404
