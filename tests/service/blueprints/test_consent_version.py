"""The consent's version travels with the case: recorded by the form and by the API
(service.trust.CONSENT_VERSION, through the form's request data), shown in the staff
case file."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service import trust
from service.extensions import db
from service.models import Case
from tests.fixtures.cases import post_request, submit
from tests.fixtures.forms import valid_request
from tests.fixtures.staff import sign_in


def test_the_form_records_the_version_of_the_consent_it_showed(client):
    case, _ = post_request(client, email="consent.form@example.org")
    assert case.consent_version == trust.CONSENT_VERSION
    assert case.consent_at is not None


def test_the_api_records_the_version_too(client):
    response = client.post("/api/v1/requests", data=valid_request(email="consent.api@example.org"),
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.text
    case = db.session.scalars(select(Case).where(Case.reference == response.get_json()["reference"])).one()
    assert case.consent_version == trust.CONSENT_VERSION


def test_a_new_version_is_what_new_cases_record(client, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(trust, "CONSENT_VERSION", "2027-03")
    assert submit(client, email="consent.next@example.org").consent_version == "2027-03"


def test_the_case_file_shows_the_version_and_when_consent_was_given(client, coordinator):
    case = submit(client, email="consent.staff@example.org")
    sign_in(client, coordinator)
    page = client.get(f"/staff/cases/{case.reference}")
    assert page.status_code == 200
    assert "<dt>Consent</dt>" in page.text
    dd = page.text.split("<dt>Consent</dt>", 1)[1].split("</dd>", 1)[0]
    assert f"<dd>{trust.CONSENT_VERSION}, given " in dd
    case.consent_version = None  # a case recorded before the wording was versioned
    db.session.commit()
    dd = client.get(f"/staff/cases/{case.reference}").text.split("<dt>Consent</dt>", 1)[1].split("</dd>", 1)[0]
    assert "wording version not recorded, given " in dd


def test_the_api_contract_names_the_version_consent_is_given_to(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    consent = spec["paths"]["/api/v1/requests"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert trust.CONSENT_VERSION in consent["properties"]["consent"]["description"]
