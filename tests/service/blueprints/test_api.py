"""The JSON API: created responses, problem+json refusals, status, the OpenAPI document
and every response checked against it."""
from __future__ import annotations

import hashlib

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import func, select

from service import limits
from service.extensions import db
from service.models import Case
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request


@pytest.fixture
def spec(client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate_spec(document)
    return document


def _check(spec, payload, schema_name):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    Draft202012Validator(schema).validate(payload)


def _post(client, data):
    return client.post("/api/v1/requests", data=data, content_type="multipart/form-data")


def test_openapi_document_is_valid_3_1_and_reads_the_limits(spec):
    assert spec["openapi"] == "3.1.0"
    body = spec["paths"]["/api/v1/requests"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["files"]["maxItems"] == limits.MAX_FILES
    assert set(spec["components"]["schemas"]["Attachment"]["properties"]["content_type"]["enum"]) == set(
        limits.ACCEPTED_TYPES
    )


def test_create_returns_201_with_reference_status_url_and_attachments(client, spec):
    content = files.pdf()
    response = _post(client, valid_request(files=[upload(content, "scan.pdf"), upload(files.heic(), "x.heic")]))
    assert response.status_code == 201
    body = response.get_json()
    _check(spec, body, "Created")
    assert body["status_url"].startswith("http://medtour.test/s/")
    assert body["attachments"][0] == {
        "filename": "scan.pdf", "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(), "content_type": "application/pdf",
    }
    assert body["attachments"][1]["content_type"] == "image/heic"
    assert "Set-Cookie" not in response.headers
    case = db.session.scalars(select(Case).where(Case.reference == body["reference"])).one()
    assert case.source == "api"

    token = body["status_url"].rsplit("/", 1)[1]
    status = client.get(f"/api/v1/requests/{token}")
    assert status.status_code == 200
    _check(spec, status.get_json(), "Status")
    assert status.get_json()["reference"] == body["reference"]
    assert status.get_json()["files_left"] == limits.MAX_FILES - 2
    assert response.headers["Location"].endswith(f"/api/v1/requests/{token}")


def test_api_needs_no_csrf_token(app, db_session, spec):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = _post(app.test_client(), valid_request())
        assert response.status_code == 201
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize(
    "make_overrides, status, field, message",
    [
        (lambda: {"email": "nope"}, 422, "email", "Enter a valid email address"),
        (lambda: {"description": "short"}, 422, "description", "Write between 20 and 5000"),
        (lambda: {"files": [upload(b"", "empty.pdf")]}, 422, "files", "empty.pdf: the file is empty (0 bytes)."),
        (lambda: {"files": [upload(files.png(), f"{i}.png") for i in range(11)]}, 422, "files",
         "You picked 11 files; at most 10 files can be attached."),
        (lambda: {"files": [upload(files.elf_executable(), "report.pdf")]}, 415, "files",
         "report.pdf: this type is not accepted; use PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP."),
        (lambda: {"files": [upload(files.pdf() + b"\0" * limits.MAX_FILE_BYTES, "big.pdf")]}, 413, "files",
         "big.pdf: the file is just over 10 MB"),
        # PostgreSQL refuses a NUL in a query parameter: a tampered select names nothing.
        (lambda: {"treatment": "\x00knee"}, 422, "treatment", "Select a treatment from the list."),
        (lambda: {"preferred_clinic": "\x00clinic"}, 422, "preferred_clinic", "Select a clinic from the list"),
    ],
    ids=["email", "description", "empty-file", "eleven-files", "executable", "too-large", "nul-treatment",
         "nul-clinic"],
)
def test_refusals_are_problem_json_with_per_field_errors(client, spec, make_overrides, status, field, message):
    before = db.session.scalar(select(func.count(Case.id)))
    response = _post(client, valid_request(**make_overrides()))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    _check(spec, body, "Problem")
    assert body["status"] == status
    assert any(message in m for m in body["errors"][field])
    assert db.session.scalar(select(func.count(Case.id))) == before


def test_non_form_body_is_415(client):
    response = client.post("/api/v1/requests", json={"full_name": "x"})
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


def test_oversized_request_is_413_problem_json(app, client):
    response = client.post(
        "/api/v1/requests",
        data=b"x",
        content_type="multipart/form-data; boundary=abc",
        environ_overrides={"CONTENT_LENGTH": str(app.config["MAX_CONTENT_LENGTH"] + 1)},
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("token", ["unknown", "a%00b"], ids=["unknown", "nul"])
def test_unknown_token_is_404_problem_json(client, spec, token):
    response = client.get(f"/api/v1/requests/{token}")
    assert response.status_code == 404
    _check(spec, response.get_json(), "Problem")
