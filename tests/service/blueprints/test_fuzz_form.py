"""Property-based fuzzing of the request form and the API with hypothesis: whatever is
posted (any Unicode but lone surrogates, control characters, huge strings, missing
fields, repeated fields, nonsense dates and numbers, random files), the answer is never
a server error, and a refusal records nothing."""
from __future__ import annotations

import io

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service import limits
from service.extensions import db
from service.models import Attachment, Case
from tests.fixtures import files
from tests.fixtures.forms import valid_request

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Anything a browser can send as UTF-8: every category but lone surrogates, C0/C1 controls included.
CHARS = st.characters(exclude_categories=("Cs",))
HUGE = st.builds(lambda ch, n: ch * n, CHARS, st.integers(min_value=1000, max_value=120_000))
NOISE = st.one_of(
    st.text(CHARS, max_size=60),
    st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=5),  # control characters alone
    HUGE,
    st.sampled_from(["", " ", "\x00", "NaN", "sNaN", "-Infinity", "1e999999", "0", "-1", "2999-02-30",
                     "99999999999999999999.999", "<script>alert(1)</script>", "../../etc/passwd", "\u202e",
                     "y", "on", "true", "ru", "KZ", "EUR", "+7 912 345-67-89", "a@b.c"]),
)
VALID = valid_request()
FIELDS = [*VALID, "preferred_clinic", "website", "upload_ids", "submission_token", "files"]


def _file() -> st.SearchStrategy:
    content = st.one_of(st.binary(max_size=2048), st.sampled_from([files.pdf(), files.png(), b"", b"MZ\x90\x00"]))
    return st.tuples(content, st.text(CHARS, max_size=40))


@st.composite
def requests(draw) -> dict:
    """A valid request with up to three fields dropped, replaced by noise, given noise
    around a valid value, or repeated; so that both acceptance and every refusal are reached."""
    data: dict = dict(VALID)
    for field in draw(st.sets(st.sampled_from(FIELDS), max_size=3)):
        choice = draw(st.sampled_from(["drop", "noise", "around", "repeat"]))
        data.pop(field, None)
        if field == "files":
            if choice != "drop":
                data["files"] = [(io.BytesIO(content), name or "x")
                                 for content, name in draw(st.lists(_file(), min_size=1, max_size=3))]
        elif choice == "noise":
            data[field] = draw(NOISE)
        elif choice == "around" and field in VALID:
            data[field] = draw(NOISE) + VALID[field] + draw(NOISE)
        elif choice == "repeat":
            data[field] = [draw(NOISE), VALID.get(field, "")]
    return data


def _longest_text(data: dict) -> int:
    """The longest text value in bytes, as the multipart body carries it."""
    values = [v for value in data.values() for v in (value if isinstance(value, list) else [value])]
    return max((len(v.encode("utf-8")) for v in values if isinstance(v, str)), default=0)


def _counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Case.id))), db.session.scalar(select(func.count(Attachment.id)))


@FUZZ
@given(data=requests())
def test_the_form_answers_303_or_422_and_a_refusal_records_nothing(client, data):
    before = _counts()
    response = client.post("/requests/new", data=data, content_type="multipart/form-data")
    event(f"status {response.status_code}")
    if _longest_text(data) > limits.MAX_TEXT_FIELD_BYTES:
        # Past the parser's limit for one text field: refused as such before any validation.
        assert response.status_code == 413, (response.status_code, response.text[:500])
        assert _counts() == before
        return
    assert response.status_code in (303, 422), (response.status_code, response.text[:500])
    cases, _ = _counts()
    if response.status_code == 422:
        assert _counts() == before
        assert 'class="error-summary"' in response.text
    else:
        assert cases == before[0] + 1


HEADER_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=300)


@FUZZ
@given(data=requests(), key=st.one_of(st.none(), st.none(), st.uuids().map(str), HEADER_TEXT),
       mimetype=st.sampled_from(["multipart/form-data", "application/x-www-form-urlencoded"]))
def test_the_api_answers_201_or_a_problem_and_a_refusal_records_nothing(client, data, key, mimetype):
    if mimetype != "multipart/form-data":
        data.pop("files", None)
    before = _counts()
    headers = {"Idempotency-Key": key} if key is not None else {}
    response = client.post("/api/v1/requests", data=data, content_type=mimetype, headers=headers)
    event(f"status {response.status_code}")
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    if response.status_code == 201:
        assert _counts()[0] in (before[0], before[0] + 1)  # a replayed key records nothing new
        assert response.get_json()["reference"].startswith("MT-")
    else:
        assert 400 <= response.status_code < 500
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["status"] == response.status_code and body["title"]
        assert _counts() == before


def _multipart(fields: dict, extra: bytes) -> bytes:
    parts = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value.encode())
        for name, value in fields.items()
    )
    return parts + extra + b"--B--\r\n"


UNNAMED = (b"--B\r\nContent-Disposition: form-data\r\n\r\nnull\r\n"
           b'--B\r\nContent-Disposition: form-data; filename="a.pdf"\r\n\r\n%PDF\r\n')


def test_parts_without_a_name_are_ignored_by_the_idempotency_fingerprint(client):
    """Found by schemathesis: Werkzeug keys an unnamed part None, and sorting it with the
    named ones failed (500) whenever an Idempotency-Key came with it."""
    before = _counts()
    body = _multipart(VALID, UNNAMED)
    for replayed in ("false", "true"):
        response = client.post("/api/v1/requests", data=body, content_type="multipart/form-data; boundary=B",
                               headers={"Idempotency-Key": "unnamed-parts-1"})
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.headers.get("Idempotent-Replayed", "false") == replayed
    assert _counts()[0] == before[0] + 1
