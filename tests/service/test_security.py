"""Security headers on every response: every route of the authorisation table (as
several principals), error pages (404, 405, 413, 500, problem+json), static files, signed
downloads and the API carry a Content-Security-Policy without inline script and with
`frame-ancestors 'none'`, `X-Content-Type-Options: nosniff`, and Strict-Transport-Security
exactly when served over https. No template holds inline script, event handler
attributes or (in pages a browser renders) inline styles, so the CSP can stay strict."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.catalog import snapshot
from service.security import CONTENT_SECURITY_POLICY
from tests.service.accounts.support import fresh_limits  # noqa: F401
from tests.service.blueprints.test_authorisation import build_world, each_response, sign_in_as

TEMPLATES = Path(__file__).resolve().parents[2] / "service" / "templates"
# Rendered to PDF by WeasyPrint (its own sandbox), never served to a browser.
PAPERWORK = TEMPLATES / "paperwork"
HTTPS = "https://medtour.test"
# The one response that may be framed: a PDF inside the staff case page, by the browser's
# own viewer (same origin only, and no other directive: `object-src` would block the
# viewer; see service/blueprints/previews.py).
FRAMED_PREVIEW = "/staff/cases/<reference>/attachments/<int:attachment_id>/preview"


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def assert_secure_headers(response, *, https: bool = False) -> None:
    """What every response must carry (the tests of other modules call this too)."""
    where = f"{response.request.method} {response.request.path} → {response.status_code}"
    policy = directives(response.headers.get("Content-Security-Policy", ""))

    def effective(name: str) -> list[str] | None:
        return policy.get(name, policy.get("default-src"))

    script = effective("script-src")
    assert script, f"{where}: no script-src"
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, where
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert effective("object-src") == ["'none'"], where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    hsts = response.headers.get("Strict-Transport-Security")
    if https:
        assert hsts is not None and re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts), where
        assert int(hsts.split(";")[0].split("=")[1]) >= 180 * 24 * 3600, where
    else:
        assert hsts is None, f"{where}: HSTS over plain http"


def test_the_policy_itself_is_strict():
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("principal", ["anonymous", "patient", "clinic_a", "admin"])
def test_every_route_of_the_table_answers_with_the_security_headers(app, client, storage, principal, https):
    world = build_world(app, storage, principal)
    sign_in_as(client, principal, world)
    options = {"base_url": HTTPS} if https else {}
    seen = 0
    for row, response in each_response(client, world, **options):
        if row.rule == FRAMED_PREVIEW and response.status_code == 200:
            assert response.mimetype == "application/pdf"
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
            assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert ("Strict-Transport-Security" in response.headers) == https
        else:
            assert_secure_headers(response, https=https)
        seen += 1
    assert seen > 50


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_error_pages_static_files_and_the_api_carry_them_too(app, client, monkeypatch, https):
    base = {"base_url": HTTPS} if https else {}
    too_large = {"environ_overrides": {"CONTENT_LENGTH": str(app.config["MAX_CONTENT_LENGTH"] + 1)},
                 "content_type": "multipart/form-data; boundary=abc", "data": b"x"}
    answers = {
        "page": client.get("/", **base),
        "not found": client.get("/no/such/page", **base),
        "api not found": client.get("/api/v1/nothing", **base),
        "method not allowed": client.delete("/", **base),
        "api method not allowed": client.delete("/api/v1/openapi.json", **base),
        "too large": client.post("/requests/new", **too_large, **base),
        "api too large": client.post("/api/v1/requests", **too_large, **base),
        "api invalid": client.post("/api/v1/requests", data={"full_name": ""}, content_type="multipart/form-data",
                                   **base),
        "static css": client.get("/static/css/site.css", **base),
        "static js": client.get("/static/js/uploads.js", **base),
        "openapi": client.get("/api/v1/openapi.json", **base),
    }
    monkeypatch.setattr(snapshot, "current", lambda: 1 / 0)
    answers["server error"] = client.get("/", **base)
    assert {name: r.status_code for name, r in answers.items()} == {
        "page": 200, "not found": 404, "api not found": 404, "method not allowed": 405,
        "api method not allowed": 405, "too large": 413,
        "api too large": 413, "api invalid": 422, "static css": 200, "static js": 200, "openapi": 200,
        "server error": 500,
    }
    for response in answers.values():
        assert_secure_headers(response, https=https)
    for name in ("method not allowed", "api method not allowed"):
        assert set(answers[name].headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}, name


def test_a_forwarded_proto_header_alone_does_not_turn_on_hsts(client):
    """Without PROXY_HOPS the scheme is the connection's: the app does not take a client's
    word for it."""
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_behind_a_trusted_proxy_its_forwarded_scheme_turns_on_hsts(tmp_path):
    from wsgi import create_app
    from tests.conftest import make_config

    proxied = create_app(make_config("sqlite://", tmp_path, PROXY_HOPS=1)).test_client()
    assert "Strict-Transport-Security" in proxied.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers
    assert "Strict-Transport-Security" not in proxied.get("/healthz", headers={"X-Forwarded-Proto": "http"}).headers


def _templates() -> list[Path]:
    found = sorted(TEMPLATES.rglob("*.html"))
    assert len(found) > 20
    return found


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>|<script\b[^>]*>\s*[^<\s]", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


@pytest.mark.parametrize("pattern", [INLINE_SCRIPT, HANDLER, JS_URL], ids=["inline script", "on*=", "javascript:"])
def test_no_template_has_inline_script(pattern):
    offending = [f"{path.relative_to(TEMPLATES)}: {match.group(0)!r}"
                 for path in _templates() for match in pattern.finditer(path.read_text())]
    assert offending == []


def test_no_page_template_has_inline_style():
    offending = [f"{path.relative_to(TEMPLATES)}: {match.group(0)!r}"
                 for path in _templates() if PAPERWORK not in path.parents
                 for match in INLINE_STYLE.finditer(path.read_text())]
    assert offending == []


@pytest.mark.parametrize(("markup", "pattern"), [
    ("<script>alert(1)</script>", INLINE_SCRIPT),
    ('<script type="module">go()</script>', INLINE_SCRIPT),
    ('<button onclick="go()">', HANDLER),
    ('<a href="javascript:go()">', JS_URL),
    ('<p style="color: red">', INLINE_STYLE),
])
def test_the_scanners_catch_what_they_look_for(markup, pattern):
    assert pattern.search(markup)
    assert not pattern.search('<script src="/static/js/files.js" defer></script><p class="x">')


# ---------------------------------------------------------------- CSRF on every form

CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
UNSAFE = {"POST", "PATCH", "DELETE"}


@pytest.fixture
def csrf_app(app, database_url, tmp_path_factory):
    """The app as deployed: CSRF protection on (the suite's app runs with it off)."""
    from wsgi import create_app
    from tests.conftest import make_config

    return create_app(make_config(database_url, tmp_path_factory.mktemp("csrf"), WTF_CSRF_ENABLED=True))


def _allowed_principal(rule: str) -> str:
    """Someone the route would otherwise serve, so only the missing token can refuse it."""
    if rule.startswith("/staff"):
        return "admin"
    if rule.startswith("/clinic"):
        return "clinic_a"
    return "patient" if rule.startswith("/s/") else "anonymous"


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused request changed nothing."""
    from service.extensions import db

    return {table.name: sorted(map(tuple, db.session.execute(table.select()).all()), key=repr)
            for table in db.metadata.sorted_tables}


def _page_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    return CSRF_TOKEN.search(page.text).group(1)


def test_every_form_refuses_a_request_without_the_csrf_token_and_changes_nothing(app, db_session, csrf_app, storage):
    from service.extensions import db
    from tests.service.blueprints.test_authorisation import TABLE

    world = build_world(app, storage, "patient")
    clients = {}
    for principal in ("anonymous", "patient", "clinic_a", "admin"):
        clients[principal] = csrf_app.test_client()
        sign_in_as(clients[principal], principal, world)
    # The API and the time-zone report take no token: JSON only, and the report is refused
    # from other sites by its Origin and Sec-Fetch-Site (tests/service/blueprints/test_time_zone.py).
    unsafe = [row for row in TABLE
              if row.method in UNSAFE and not row.rule.startswith("/api/v1/") and row.rule != "/time-zone"]
    assert {row.rule for row in unsafe} >= {"/requests/new", "/uploads", "/staff/login", "/clinic/logout"}
    # The paths and bodies first: some rows make what they act on (an invoice, a trip leg).
    sent = [(row, row.path(world), row.data(world)) for row in unsafe]
    db.session.commit()
    before = _snapshot()
    answers = {}
    for row, path, data in sent:
        client = clients[_allowed_principal(row.rule)]
        response = client.open(path, method=row.method, data=data, headers=row.headers)
        answers[(row.method, row.rule)] = response.status_code
    assert answers == {key: 400 for key in answers}
    assert _snapshot() == before


def test_the_pages_token_is_accepted(app, db_session, csrf_app, storage):
    """A sample of each kind of form with the token its page carries: the patient's
    request and status link, the resumable upload (X-CSRFToken), staff and clinic forms."""
    from tests.fixtures import files
    from tests.fixtures.forms import upload, valid_request

    world = build_world(app, storage, "patient")
    patient = csrf_app.test_client()
    token = _page_token(patient, "/requests/new")
    assert patient.post("/requests/new", data=valid_request(csrf_token=token)).status_code == 303
    assert patient.post("/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10",
                                             "X-CSRFToken": token}).status_code == 201
    token = _page_token(patient, world.status)
    assert patient.post(f"{world.status}/files", data={"files": [upload(files.png(), "x.png")], "csrf_token": token},
                        content_type="multipart/form-data").status_code == 303

    admin = csrf_app.test_client()
    sign_in_as(admin, "admin", world)
    token = _page_token(admin, f"/staff/cases/{world.ref}")
    from tests.service.blueprints.test_authorisation import _version

    assert admin.post(f"/staff/cases/{world.ref}/actions/add_note",
                      data={"version": _version(world.case), "body": "Called back.", "csrf_token": token}
                      ).status_code == 303

    clinic = csrf_app.test_client()
    sign_in_as(clinic, "clinic_a", world)
    token = _page_token(clinic, world.portal)
    assert clinic.post(f"{world.portal}/ask", data={"question": "MRI?", "csrf_token": token}).status_code == 303


def test_the_json_api_needs_no_csrf_token_because_it_carries_no_ambient_authority(csrf_app, db_session):
    """Exempt on purpose: the API takes no cookie (no session, no staff login); a request
    is authorised only by what it carries itself (the status token in its URL)."""
    from tests.fixtures.forms import valid_request

    client = csrf_app.test_client()
    created = client.post("/api/v1/requests", data=valid_request(), content_type="multipart/form-data")
    assert created.status_code == 201
    assert "Set-Cookie" not in created.headers
    status_path = created.json["status_url"].split("/s/", 1)[1]
    assert client.get(f"/api/v1/requests/{status_path}").status_code == 200


def test_hsts_max_age_comes_from_the_environment(tmp_path, monkeypatch):
    from service import config
    from wsgi import create_app
    from tests.conftest import make_config

    monkeypatch.setenv("HSTS_MAX_AGE", "600")
    assert config.load(str(tmp_path))["HSTS_MAX_AGE"] == 600
    monkeypatch.delenv("HSTS_MAX_AGE")
    assert config.load(str(tmp_path))["HSTS_MAX_AGE"] == 365 * 24 * 3600
    short = create_app(make_config("sqlite://", tmp_path, HSTS_MAX_AGE=600))
    response = short.test_client().get("/healthz", base_url=HTTPS)
    assert response.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
