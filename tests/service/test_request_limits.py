"""Each way a form body can be too much is refused for what it is, with its own words
(English and Russian on the form's page, problem+json on the API) and its own status:
too many fields (400), a text field too long (413), a file too large (the form's own
message, 422; the API's 413) and the whole body too large (413). Real bodies, through
the real parser; nothing is recorded. The per-file limit is lowered to 1 MiB here (the
whole-body limit with it) so that the bodies stay small."""
from __future__ import annotations

import html
import io

import pytest
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from service import config, limits
from service.extensions import db
from service.models import Case, OutboxMessage
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request

FILE_LIMIT = limits.MIB
RUSSIAN = {"Accept-Language": "ru-RU,ru;q=0.9"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
FORM, API = "/requests/new", "/api/v1/requests"

# What each refusal says, in each language: every page shows its own words and none of
# the others'.
SAYS = {
    "fields": {
        "en": ["The form sent too many fields",
               f"more fields and files than the service accepts: at most {limits.MAX_FORM_PARTS} in one form"],
        "ru": ["В отправленной форме слишком много полей",
               f"больше полей и файлов, чем принимает сервис: не больше {limits.MAX_FORM_PARTS} в одной форме"],
    },
    "text": {
        "en": ["A text field is too long to send", "at most 256 KB of text per field",
               "Shorten the longest text and send again."],
        "ru": ["Текст в одном из полей слишком длинный", "не больше 256 КБ текста в одном поле",
               "Сократите самый длинный текст"],
    },
    "file": {
        "en": ["huge.pdf: the file is just over 1 MB (1,048,577 bytes); the limit is 1 MB per file."],
        "ru": ["huge.pdf: размер файла чуть больше 1 МБ (1\xa0048\xa0577 байт), а допустимо не больше 1 МБ на файл."],
    },
    "body": {
        "en": ["Your files are too large to send together", "at most 10 files of 1 MB each, plus the form"],
        "ru": ["Ваши файлы слишком велики, чтобы отправить их вместе", "не больше 10 файлов по 1 МБ каждый"],
    },
}
STATUS = {"fields": 400, "text": 413, "file": 422, "body": 413}
API_STATUS = {"fields": 400, "text": 413, "file": 413, "body": 413}
API_SAYS = {
    "fields": ("Too many form fields", f"at most {limits.MAX_FORM_PARTS} in one request"),
    "text": ("Text field too long", "at most 256 KB per field"),
    "file": ("Invalid request", "huge.pdf: the file is just over 1 MB"),
    "body": ("Request too large", "at most 10 files of 1 MB each"),
}


@pytest.fixture(autouse=True)
def small_files(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_FILE_BYTES", FILE_LIMIT)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", app.config["MAX_CONTENT_LENGTH"])  # restored after
    config.finalize(app.config)  # the whole-body limit follows the per-file one
    assert app.config["MAX_CONTENT_LENGTH"] == 11 * FILE_LIMIT


def _pdf(size: int) -> bytes:
    head = files.pdf()
    return head + b"\0" * (size - len(head))


def body_for(kind: str, language: str) -> dict:
    """A real request of `kind`, otherwise valid, as the test client sends it."""
    fields = valid_request(language=language)
    if kind == "fields":  # the outside attack: 5,000 form fields
        fields.update({f"field{number}": "x" for number in range(5000)})
    elif kind == "text":
        fields["description"] = "x" * (limits.MAX_TEXT_FIELD_BYTES + 1)
    elif kind == "file":
        fields["files"] = [upload(_pdf(FILE_LIMIT + 1), "huge.pdf")]
    elif kind == "body":
        fields["files"] = [upload(_pdf(FILE_LIMIT), f"scan{number}.pdf") for number in range(12)]
    return fields


def _recorded() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Case.id))), db.session.scalar(select(func.count(OutboxMessage.id)))


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _says_only(text: str, kind: str, language: str) -> None:
    for words in SAYS[kind][language]:
        assert words in text, words
    for other in set(SAYS) - {kind}:
        for words in SAYS[other]["en"] + SAYS[other]["ru"]:
            assert words not in text, f"{kind} page shows {other}'s {words!r}"


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("kind", list(SAYS))
def test_the_form_names_each_refusal_in_the_patients_language(client, kind, language):
    before = _recorded()
    response = client.post(FORM, data=body_for(kind, language), content_type="multipart/form-data",
                           headers=RUSSIAN if language == "ru" else ENGLISH)
    assert response.status_code == STATUS[kind]
    text = _text(response)
    assert f'<html lang="{language}"' in text
    _says_only(text, kind, language)
    assert _recorded() == before


@pytest.mark.parametrize("kind", list(SAYS))
def test_the_api_names_each_refusal_in_problem_json(client, kind):
    before = _recorded()
    response = client.post(API, data=body_for(kind, "ru"), content_type="multipart/form-data", headers=RUSSIAN)
    assert response.status_code == API_STATUS[kind]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    title, words = API_SAYS[kind]
    assert problem["status"] == API_STATUS[kind] and problem["title"] == title
    assert words in str(problem)
    others = {w for other, (t, w) in API_SAYS.items() if other != kind}
    assert not any(w in str(problem) for w in others)
    assert _recorded() == before


def test_the_refusals_statuses_are_in_the_api_contract(client):
    responses = client.get("/api/v1/openapi.json").get_json()["paths"][API]["post"]["responses"]
    assert f"at most {limits.MAX_FORM_PARTS}" in responses["400"]["description"]
    assert "a text field" in responses["413"]["description"]


@pytest.mark.parametrize("door", [FORM, API])
def test_a_urlencoded_body_is_held_to_the_same_field_limits(client, door):
    """Werkzeug applies the part and text limits to multipart bodies only."""
    before = _recorded()
    many = client.post(door, data={f"field{number}": "x" for number in range(5000)}, headers=ENGLISH)
    long = client.post(door, data={"description": "x" * (limits.MAX_TEXT_FIELD_BYTES + 1)}, headers=ENGLISH)
    assert (many.status_code, long.status_code) == (400, 413)
    if door == FORM:
        _says_only(_text(many), "fields", "en")
        _says_only(_text(long), "text", "en")
    else:
        assert many.get_json()["title"] == "Too many form fields"
        assert long.get_json()["title"] == "Text field too long"
    assert _recorded() == before


@pytest.mark.parametrize("door", [FORM, API])
def test_a_body_at_both_field_limits_reaches_the_form(client, door):
    """MAX_FORM_PARTS parts and a text of MAX_TEXT_FIELD_BYTES: the form's own validation
    answers (the description is too long for it), not a refusal of the body."""
    fields = valid_request(language="en", description="x" * limits.MAX_TEXT_FIELD_BYTES)
    fields.update({f"field{number}": "x" for number in range(limits.MAX_FORM_PARTS - len(fields))})
    response = client.post(door, data=fields, content_type="multipart/form-data", headers=ENGLISH)
    assert response.status_code == 422
    assert f"Write between 20 and 5000 characters (you wrote {limits.MAX_TEXT_FIELD_BYTES})" in _text(response)


@pytest.mark.parametrize("door", [FORM, API])
def test_a_streamed_body_past_the_limit_is_the_whole_body_too_large(client, app, door):
    """No Content-Length (chunked, the server ends the stream): Werkzeug stops reading at
    MAX_CONTENT_LENGTH inside the parser, which must not pass that off as a text field."""
    before = _recorded()
    encoded = EnvironBuilder(method="POST", data=body_for("body", "en"), content_type="multipart/form-data")
    environ = encoded.get_environ()
    body = environ["wsgi.input"].read()
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        door, input_stream=io.BytesIO(body), content_type=environ["CONTENT_TYPE"], headers=ENGLISH,
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 413
    if door == FORM:
        _says_only(_text(response), "body", "en")
    else:
        assert response.get_json()["title"] == "Request too large"
    assert _recorded() == before
