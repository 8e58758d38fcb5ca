"""What one patient's visit costs the database: the SQL statements of GET and POST
/requests/new, as a new visitor sends them (fresh cookie jar, CSRF on), counted
exactly (statement counts, unlike timings, are deterministic).

The app here has a database of its own, without the suite's rollback-per-test
transaction: its commits are real, so no test savepoint is counted, and every
statement counted is one production sends."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event

from service.extensions import db
from tests.conftest import CATALOG, _postgres_schema_url, make_config
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.statements import recorded_statements, touching

# GET (a new visitor: no staged uploads to look for): the catalogue's version token,
# the cached snapshot being current.
# POST: the version token; idempotency: the key looked up and recorded (no savepoint;
# expired keys are a worker's hourly chore); the treatment and clinic as the database has them; the case,
# its two attachments, its event, its outbox rows (routing, which also assigns; the
# confirmation; the patient's e-mail; the derived copies of each attachment); the reference counter, the
# reference; the key's response; the outbox rows claimed for the relay, in the same
# transaction. Nothing read again after the commit.
# SQLite sends each transaction's BEGIN (4) and one INSERT per attachment and outbox
# row (it has no multi-row INSERT ... RETURNING here): 21 there.
STATEMENTS_PER_VISIT = {"sqlite": 21, "postgresql": 13}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from service.catalog.loader import load_file
    from wsgi import create_app

    tmp = tmp_path_factory.mktemp("statements")
    urls = iter([f"sqlite:///{tmp / 'visit.db'}"]) if request.param == "sqlite" else _postgres_schema_url()
    url = next(urls)
    app = create_app(make_config(url, tmp, WTF_CSRF_ENABLED=True))
    with app.app_context():
        upgrade()
        load_file(CATALOG)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        next(urls, None)  # drops the PostgreSQL schema


def _hidden(html: str, name: str) -> str:
    for tag in re.findall(r"<input\b[^>]*>", html):
        if f'name="{name}"' in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    raise AssertionError(f"no hidden {name}")


def _visit(app: Flask) -> list[str]:
    """GET the form and POST it back with two files, as a new visitor."""
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    with recorded_statements(engine) as sent:
        page = client.get("/requests/new")
        assert page.status_code == 200
        data = valid_request(
            language="en",
            csrf_token=_hidden(page.text, "csrf_token"),
            submission_token=_hidden(page.text, "submission_token"),
            files=[upload(files.pdf(), "scan.pdf"), upload(files.jpeg(), "photo.jpg")],
        )
        response = client.post("/requests/new", data=data, content_type="multipart/form-data")
        assert response.status_code == 303, response.text[:500]
    return list(sent)


def test_a_visit_commits_twice_the_key_and_then_the_case_with_its_work(own_app):
    """The idempotency key (at once, so a second POST sees it), then the case with its
    rows and the claim of its outbox rows: the relay after it takes no transaction."""
    commits: list[int] = []

    def count(_connection) -> None:
        commits.append(1)

    _visit(own_app)
    with own_app.app_context():
        engine = db.engine
    event.listen(engine, "commit", count)
    try:
        _visit(own_app)
    finally:
        event.remove(engine, "commit", count)
    assert len(commits) == 2


def test_a_visit_costs_a_fixed_number_of_statements(own_app):
    _visit(own_app)  # the first visit of a process loads the catalogue snapshot
    statements = _visit(own_app)
    kind = "sqlite" if own_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "postgresql"
    assert len(statements) == STATEMENTS_PER_VISIT[kind], statements
    if kind == "postgresql":  # the production database: the budget
        assert len(statements) <= 20
    # Each row written once, and nothing read back after the commit.
    # The key looked up, recorded, completed: no clean-up of expired keys per request.
    assert [s.split()[0] for s in touching(statements, "idempotency_keys")] == ["SELECT", "INSERT", "UPDATE"]
    assert not [s for s in statements if "SAVEPOINT" in s]
    assert [s.split()[0] for s in touching(statements, "cases")] == ["INSERT", "UPDATE"]
    assert [s for s in touching(statements, "staged_uploads")] == []
