"""PostgreSQL restarted while the app serves: while it is down every request fails
cleanly (503, a `Retry-After` hint, no stack trace; an HTML page for people and
problem+json for the API), and once it is back the same app object serves again:
the pool's pre-ping replaces the dead connections, nothing is restarted."""
from __future__ import annotations

import logging

from flask_migrate import upgrade

from wsgi import create_app
from service.catalog.loader import load_file
from service.errors import DATABASE_RETRY_AFTER
from service.extensions import db
from tests.conftest import CATALOG, make_config
from tests.fixtures.forms import valid_request
from tests.fixtures.staff import make_user, sign_in

TRACE_MARKERS = ("Traceback", "psycopg", "sqlalchemy", "OperationalError", 'File "')


def _clean_503(response, content_type: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert response.mimetype == content_type
    assert not any(marker in response.text for marker in TRACE_MARKERS), response.text


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_requests_fail_cleanly_while_postgres_restarts_and_succeed_after(private_postgres, tmp_path):
    app = create_app(make_config(private_postgres.url, tmp_path))
    with app.app_context():
        upgrade()
        load_file(CATALOG)
        assert db.engine.pool._pre_ping
    client = app.test_client()
    submitted = client.post("/requests/new", data=valid_request(language="en"), content_type="multipart/form-data")
    assert submitted.status_code == 303
    status_page = submitted.location
    token = status_page.rsplit("/", 1)[1]
    pages = ["/requests/new", status_page, f"/api/v1/requests/{token}"]
    assert [client.get(path).status_code for path in pages] == [200, 200, 200]
    staff = app.test_client()
    with app.app_context():
        sign_in(staff, make_user())
    assert staff.get("/staff/cases").status_code == 200

    private_postgres.stop()
    # A handler of its own: the migrations' logging config replaced the root's (and caplog's).
    collected = Collect()
    errors_log = logging.getLogger("service.errors")
    errors_log.addHandler(collected)
    try:
        form = client.get("/requests/new")
        _clean_503(form, "text/html")
        assert "Temporarily unavailable" in form.text
        _clean_503(client.get(status_page), "text/html")
        russian = client.get(status_page, headers={"Accept-Language": "ru"})
        _clean_503(russian, "text/html")
        assert "Временно недоступно" in russian.text
        api = client.get(f"/api/v1/requests/{token}")
        _clean_503(api, "application/problem+json")
        assert api.json["status"] == 503 and "database" in api.json["detail"]
        post = client.post("/requests/new", data=valid_request(), content_type="multipart/form-data")
        _clean_503(post, "text/html")
        api_post = client.post("/api/v1/requests", data=valid_request(), content_type="multipart/form-data")
        _clean_503(api_post, "application/problem+json")
        # The staff pages need the user's row even to draw the error page's menu.
        console = staff.get("/staff/cases")
        _clean_503(console, "text/html")
        assert "Temporarily unavailable" in console.text
    finally:
        errors_log.removeHandler(collected)
    assert len(collected.records) == 7  # one line per failed request, without a traceback
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in collected.records)

    private_postgres.start()
    assert [client.get(path).status_code for path in pages] == [200, 200, 200]
    # A restart between two requests: the pooled connection is dead, and pre-ping swaps it
    # for a new one before the first request after the restart uses it.
    private_postgres.stop()
    private_postgres.start()
    assert [client.get(path).status_code for path in pages] == [200, 200, 200]
    again = client.post("/requests/new", data=valid_request(), content_type="multipart/form-data")
    assert again.status_code == 303
    assert client.get(again.location).status_code == 200
    with app.app_context():
        db.engine.dispose()
