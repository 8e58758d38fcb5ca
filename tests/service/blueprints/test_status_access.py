"""Getting back in through the web: an opener from an e-mail opens the status page once
(then a 410 page that offers new links, never the case), the browser it let in keeps
the page for a while and nobody else does; /s/lost answers byte for byte the same for
any address and is rate-limited per address and per client (429 + Retry-After, counted
in Redis); "my link leaked" kills the old link at once and e-mails a new one."""
from __future__ import annotations

import itertools
import re
import statistics
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from sqlalchemy import event, func, select

from service.cases import openers
from service.cases.status import CaseStatus
from service.cases.tokens import new_token
from service.extensions import db
from service.models import Opener, OutboxMessage
from service.outbox import Job
from tests.conftest import make_config
from tests.fixtures.cases import make_case
from tests.fixtures.outbox_jobs import run_pending
from wsgi import create_app

DESCRIPTION = "Severe pain in the left hip after a fall."
_clients = itertools.count()


def _client_address() -> dict[str, str]:
    """A client address of its own per test: the shared app counts /s/lost per client."""
    n = next(_clients)
    return {"REMOTE_ADDR": f"10.51.{n // 250}.{n % 250 + 1}"}


def _case(**overrides):
    token, token_hash = new_token()
    case = make_case(token_hash=token_hash, **overrides)
    db.session.commit()
    return case, token


def _path(url: str) -> str:
    return urlsplit(url).path


def _opener_links(text: str) -> list[str]:
    return [_path(url) for url in re.findall(r"\S+/s/open/\S+", text)]


def _sent_jobs() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.job == Job.SEND_LOST_LINKS))


def _mail(app: Flask, smtp_url: str, job: Job) -> None:
    app.config["MAIL_URL"] = smtp_url
    try:
        assert run_pending(job) >= 1
    finally:
        app.config["MAIL_URL"] = None


def test_an_opener_opens_the_status_page_once_then_offers_a_new_link(client):
    case, _token = _case()
    raw = openers.issue(case)
    db.session.commit()

    assert "bookmark it" in client.get(f"/s/{_token}").text
    opened = client.get(f"/s/open/{raw}")
    assert opened.status_code == 303
    key = opened.location.rsplit("/", 1)[1]
    page = client.get(f"/s/{key}")
    assert page.status_code == 200 and case.reference in page.text
    assert "You opened this page with a single-use link from an e-mail" in page.text
    # Its address lasts hours, so the page does not ask for it to be bookmarked.
    assert "bookmark it" not in page.text

    again = client.get(f"/s/open/{raw}")
    assert again.status_code == 410
    assert case.reference not in again.text and case.full_name not in again.text
    assert "This link no longer works" in again.text
    assert 'action="/s/lost"' in again.text and 'name="email"' in again.text
    assert again.headers["Cache-Control"] == "no-store"


def test_an_expired_or_unknown_opener_is_refused_with_the_lost_link_form(client):
    case, _token = _case()
    raw = openers.issue(case)
    db.session.scalars(select(Opener).where(Opener.case_id == case.id)).one().expires_at = (
        datetime.now(timezone.utc) - timedelta(minutes=1))
    db.session.commit()
    for response in (client.get(f"/s/open/{raw}"), client.get("/s/open/nonsense")):
        assert response.status_code == 410
        assert case.reference not in response.text and 'action="/s/lost"' in response.text


def test_a_head_request_does_not_use_the_opener_up(client):
    case, _token = _case()
    raw = openers.issue(case)
    db.session.commit()
    assert client.head(f"/s/open/{raw}").status_code == 200
    assert client.get(f"/s/open/{raw}").status_code == 303


def test_the_page_an_opener_opened_works_only_in_that_browser_and_only_for_a_while(app, client):
    case, _token = _case()
    raw = openers.issue(case)
    db.session.commit()
    key = client.get(f"/s/open/{raw}").location.rsplit("/", 1)[1]
    assert client.get(f"/s/{key}/withdraw").status_code == 200, "the page's actions work with the key"

    other_browser = app.test_client()
    assert other_browser.get(f"/s/{key}").status_code == 404

    with client.session_transaction() as session:
        grants = session["status_access"]
        grants[key][2] = int(time.time()) - 1
        session["status_access"] = grants
    assert client.get(f"/s/{key}").status_code == 404


def test_a_russian_case_opened_by_an_opener_speaks_russian_and_the_refusal_follows_the_browser(client):
    case, _token = _case(language="ru")
    raw = openers.issue(case)
    db.session.commit()
    key = client.get(f"/s/open/{raw}").location.rsplit("/", 1)[1]
    assert "Вы открыли эту страницу одноразовой ссылкой из письма" in client.get(f"/s/{key}").text
    refused = client.get(f"/s/open/{raw}", headers={"Accept-Language": "ru"})
    assert refused.status_code == 410 and "Эта ссылка больше не действует" in refused.text


def test_lost_answers_byte_for_byte_the_same_for_a_known_and_an_unknown_address(app, client):
    _case(email="known@example.org")
    environ = _client_address()
    before = _sent_jobs()
    known = app.test_client().post("/s/lost", data={"email": "known@example.org"}, environ_base=environ)
    unknown = app.test_client().post("/s/lost", data={"email": "unknown@example.org"}, environ_base=environ)
    assert known.status_code == unknown.status_code == 200
    assert known.data == unknown.data
    assert "Check your e-mail" in known.text
    assert {k: v for k, v in known.headers if k != "Date"} == {k: v for k, v in unknown.headers if k != "Date"}
    assert _sent_jobs() == before + 2, "both record the same job; the worker looks the address up"


def _ask(client, email: str) -> float:
    started = time.perf_counter()
    response = client.post("/s/lost", data={"email": email}, environ_base=_client_address())
    assert response.status_code == 200
    return time.perf_counter() - started


def test_lost_runs_the_same_statements_and_takes_as_long_for_a_known_and_an_unknown_address(client):
    """The request only seals the address into an outbox row: the same SQL whatever the
    address, and medians over 15 requests of each within 50 ms (the work is the same;
    the bound is loose for a shared 2-core machine)."""
    known = [f"timing{n}@example.org" for n in range(16)]
    for address in known:
        _case(email=address)

    def statements(email: str) -> list[str]:
        seen: list[str] = []

        def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
            seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            _ask(client, email)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return seen

    statements("warm-up@example.org")
    assert statements(known[0]) == statements("stranger@example.org")
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for number, address in enumerate(known[1:]):
        pair = [("known", address), ("unknown", f"nobody{number}@example.org")]
        for kind, email in pair if number % 2 else reversed(pair):
            times[kind].append(_ask(client, email))
    difference = abs(statistics.median(times["known"]) - statistics.median(times["unknown"]))
    assert difference <= 0.05, times


def test_lost_refuses_a_malformed_address_with_the_form(client):
    response = client.post("/s/lost", data={"email": "not an address"}, environ_base=_client_address())
    assert response.status_code == 422 and "Enter a valid email address" in response.text


def test_lost_emails_each_open_request_with_an_opener_that_works(app, client, smtp_server, smtp_url):
    open_case, _ = _case(email="back@example.org", description=DESCRIPTION)
    closed, _ = _case(email="back@example.org", status=CaseStatus.CLOSED, closed_reason="withdrawn_by_patient")
    response = client.post("/s/lost", data={"email": "Back@Example.org"}, environ_base=_client_address())
    assert response.status_code == 200
    _mail(app, smtp_url, Job.SEND_LOST_LINKS)
    [mail] = smtp_server.messages()
    body = mail.get_content()
    assert open_case.reference in body and closed.reference not in body
    assert DESCRIPTION not in body and open_case.treatment.name not in body
    [link] = _opener_links(body)
    page = client.get(link, follow_redirects=True)
    assert page.status_code == 200 and open_case.reference in page.text


def test_the_status_page_says_where_the_link_went_and_links_to_lost_and_rotation(client):
    case, token = _case(email="anna.petrova@example.org")
    page = client.get(f"/s/{token}").text
    assert "We e-mailed the link to this page to a•••@example.org." in page
    assert "anna.petrova" not in page
    assert 'href="/s/lost"' in page and f'action="/s/{token}/rotate"' in page
    assert "My link leaked: send me a new one" in page


def test_every_404_of_a_status_link_and_the_home_page_link_to_lost(client):
    missing = client.get("/s/no-such-token")
    assert missing.status_code == 404 and 'href="/s/lost"' in missing.text
    assert 'href="/s/lost"' in client.get("/").text
    ru = client.get("/s/lost?lang=ru")
    assert "Потеряли ссылку на свою заявку?" in ru.text


def test_rotation_kills_the_old_link_at_once_and_the_new_link_from_the_email_works(app, client, smtp_server, smtp_url):
    case, token = _case(description=DESCRIPTION)
    leaked = openers.issue(case)
    db.session.commit()
    browser_let_in = app.test_client()
    key = browser_let_in.get(f"/s/open/{openers.issue(case)}").location.rsplit("/", 1)[1]
    db.session.commit()

    response = client.post(f"/s/{token}/rotate")
    assert response.status_code == 200 and "We e-mailed you a new link" in response.text
    assert client.get(f"/s/{token}").status_code == 404
    assert browser_let_in.get(f"/s/{key}").status_code == 404, "a browser let in under the old link is out too"
    assert client.get(f"/s/open/{leaked}").status_code == 410, "openers issued before the rotation are void"
    assert "You asked for a new link: the old one no longer works" not in response.text

    _mail(app, smtp_url, Job.NOTIFY_PATIENT_EVENT)
    [mail] = smtp_server.to(case.email)
    assert DESCRIPTION not in mail and case.treatment.name not in mail
    [link] = _opener_links(mail)
    page = client.get(link, follow_redirects=True)
    assert page.status_code == 200 and case.reference in page.text
    assert "You asked for a new link: the old one no longer works" in page.text


# ---------------------------------------------------------------- limits, in Redis


@pytest.fixture
def redis_limited(app, database_url, tmp_path_factory, redis_url) -> Iterator[Flask]:
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield create_app(make_config(database_url, tmp_path_factory.mktemp("lost-limited"),
                                 RATELIMIT_STORAGE_URI=redis_url))
    connection.flushdb()


def _retry_after(response) -> int:
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 3600
    return seconds


def test_lost_is_limited_per_address_across_clients(db_session, redis_limited, redis_url):
    client = redis_limited.test_client()
    answers = [client.post("/s/lost", data={"email": "Target@example.org"}, environ_base=_client_address())
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    refused = client.post("/s/lost", data={"email": "target@EXAMPLE.org "}, environ_base=_client_address())
    assert refused.status_code == 429
    _retry_after(refused)
    assert "Links were asked for too often" in refused.text and 'name="email"' in refused.text
    keys = b" ".join(redis.Redis.from_url(redis_url).keys("LIMITS:LIMITER/medtour/*"))
    assert b"lost-link-address" in keys and b"target" not in keys.lower(), "counted in Redis, by a hash"
    assert client.post("/s/lost", data={"email": "else@example.org"},
                       environ_base=_client_address()).status_code == 200


def test_lost_is_limited_per_client_whatever_the_address(db_session, redis_limited):
    client = redis_limited.test_client()
    environ = _client_address()
    statuses = [client.post("/s/lost", data={"email": f"p{n}@example.org"}, environ_base=environ).status_code
                for n in range(10)]
    assert statuses == [200] * 10
    refused = client.post("/s/lost", data={"email": "p99@example.org"}, environ_base=environ,
                          headers={"Accept-Language": "ru"})
    assert refused.status_code == 429
    _retry_after(refused)
    assert "Ссылки запрашивали слишком часто" in refused.text


# ---------------------------------------------------------------- CSRF, as every form


@pytest.fixture
def csrf_app(app, database_url, tmp_path_factory) -> Flask:
    return create_app(make_config(database_url, tmp_path_factory.mktemp("lost-csrf"), WTF_CSRF_ENABLED=True))


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_lost_and_rotation_need_the_forms_csrf_token_and_lost_still_answers_alike(db_session, csrf_app):
    case, token = _case(email="csrf@example.org")
    answers = []
    for address in ("csrf@example.org", "nobody@example.org"):
        browser = csrf_app.test_client()
        environ = _client_address()
        assert browser.post("/s/lost", data={"email": address}, environ_base=environ).status_code == 400
        form = browser.get("/s/lost", environ_base=environ).text
        answers.append(browser.post("/s/lost", data={"email": address, "csrf_token": _csrf_token(form)},
                                    environ_base=environ))
    assert [a.status_code for a in answers] == [200, 200] and answers[0].data == answers[1].data

    browser = csrf_app.test_client()
    assert browser.post(f"/s/{token}/rotate").status_code == 400
    page = browser.get(f"/s/{token}").text
    assert browser.post(f"/s/{token}/rotate", data={"csrf_token": _csrf_token(page)}).status_code == 200
    assert browser.get(f"/s/{token}").status_code == 404
