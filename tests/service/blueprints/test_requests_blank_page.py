"""The blank request form is rendered once per language, address, catalogue and
settings, and every new visitor gets it with tokens of their own; a page with anything
of the visitor's own (staged files, a message) is rendered for them."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask, g, template_rendered

from forms import request as request_form
from service.blueprints import requests as requests_view
from tests.fixtures import files
from tests.fixtures.catalogues import load_catalogue_data
from tests.fixtures.forms import upload, valid_request
from tests.service.blueprints.test_requests import _staged


@pytest.fixture
def renders(app: Flask, db_session, monkeypatch) -> Iterator[list[str]]:
    """The request form pages rendered, with CSRF on and no page kept from other tests."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    app.extensions.pop(requests_view._BLANK_PAGES, None)
    rendered: list[str] = []

    def record(_sender, template, context, **_extra) -> None:
        if template.name == "requests/new.html":
            rendered.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield rendered
    finally:
        template_rendered.disconnect(record, app)
        app.extensions.pop(requests_view._BLANK_PAGES, None)


def _hidden(html: str, name: str) -> str:
    for tag in re.findall(r"<input\b[^>]*>", html):
        if f'name="{name}"' in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    raise AssertionError(f"no hidden {name}")


def _new_visit(client) -> str:
    """A request of its own: the suite's app context outlives requests, and Flask-WTF
    keeps the request's CSRF token in `g`."""
    g.pop("csrf_token", None)
    return client.get("/requests/new").text


def test_new_visitors_share_one_rendering_with_tokens_of_their_own(app, renders):
    first, second = app.test_client(), app.test_client()
    one, two = _new_visit(first), _new_visit(second)
    assert len(renders) == 1
    tokens = [(_hidden(page, "csrf_token"), _hidden(page, "submission_token")) for page in (one, two)]
    assert tokens[0][0] != tokens[1][0] and tokens[0][1] != tokens[1][1]
    assert one.replace(tokens[0][0], tokens[1][0]).replace(tokens[0][1], tokens[1][1]) == two
    # Each visitor's own tokens are the ones their session accepts.
    for client, (csrf, submission) in zip((first, second), tokens):
        g.pop("csrf_token", None)
        data = valid_request(language="en", csrf_token=csrf, submission_token=submission,
                             files=[upload(files.pdf(), "scan.pdf")])
        response = client.post("/requests/new", data=data, content_type="multipart/form-data")
        assert response.status_code == 303, response.text[:300]


def test_the_kept_page_is_what_a_fresh_rendering_gives(app, renders):
    kept = _new_visit(app.test_client())
    app.extensions.pop(requests_view._BLANK_PAGES)
    fresh = _new_visit(app.test_client())
    assert len(renders) == 2
    ours = (_hidden(kept, "csrf_token"), _hidden(kept, "submission_token"))
    theirs = (_hidden(fresh, "csrf_token"), _hidden(fresh, "submission_token"))
    assert kept.replace(ours[0], theirs[0]).replace(ours[1], theirs[1]) == fresh


def test_a_page_is_rendered_anew_for_each_thing_it_depends_on(app, renders, monkeypatch):
    def visit(path: str = "/requests/new", **headers: str) -> str:
        return app.test_client().get(path, headers=headers).text

    visit()
    russian = visit(**{"Accept-Language": "ru"})
    assert "Запросить лечение" in russian or 'lang="ru"' in russian
    linked = visit("/requests/new?treatment=knee-replacement")
    assert re.search(r'<option (selected value|value="knee-replacement" selected)', linked)
    assert len(renders) == 3
    monkeypatch.setitem(app.config, "MAX_FILES", 3)
    assert "3 of 3 files left" in visit()
    assert len(renders) == 4
    data = load_catalogue_data()  # a new catalogue reading: its token changes
    assert data["treatments"][0]["slug"] in visit()
    assert len(renders) == 5
    visit(), visit("/requests/new?treatment=knee-replacement")
    assert len(renders) == 6


def test_a_visitor_with_staged_files_or_a_message_gets_a_page_of_their_own(app, renders, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # the uploads below send no token
    app.test_client().get("/requests/new")
    returning = app.test_client()
    returning.get("/requests/new")
    assert len(renders) == 1
    _staged(returning, files.pdf(), "МРТ колена.pdf")
    assert "МРТ колена.pdf" in returning.get("/requests/new").text
    assert len(renders) == 2
    told = app.test_client()
    with told.session_transaction() as session:
        session["_flashes"] = [("info", "A word for this visitor only")]
    assert "A word for this visitor only" in told.get("/requests/new").text
    assert "A word for this visitor only" not in app.test_client().get("/requests/new").text
    assert len(renders) == 3


def test_the_forms_catalogue_lists_are_made_once_per_catalogue_and_language(app, renders, monkeypatch):
    made: list[str] = []
    original = request_form._CatalogueLists.make.__func__

    def counting(cls, catalog, language):
        made.append(language)
        return original(cls, catalog, language)

    monkeypatch.setattr(request_form._CatalogueLists, "make", classmethod(counting))
    load_catalogue_data()  # a reading of its own, whatever earlier tests made of the last one
    for path in ("/requests/new", "/requests/new?treatment=knee-replacement", "/requests/new?lang=ru",
                 "/requests/new"):
        app.test_client().get(path)
    assert sorted(made) == ["en", "ru"]
    from service.catalog.loader import load_catalog
    from tests.fixtures.catalogues import catalogue_data

    changed = catalogue_data()
    changed["treatments"][0]["name"] = "Knee cartilage repair, renamed"
    load_catalog(changed)
    assert "Knee cartilage repair, renamed" in app.test_client().get("/requests/new").text
    assert sorted(made) == ["en", "en", "ru"]


def test_wtforms_own_messages_are_read_once_per_language(app, db_session, monkeypatch):
    loads: list[list[str]] = []
    original = request_form.support.Translations.load

    def counting(dirname, locales, domain):
        loads.append(list(locales))
        return original(dirname, locales, domain)

    request_form._wtforms_catalogue.cache_clear()
    monkeypatch.setattr(request_form.support.Translations, "load", counting)
    try:
        for _ in range(3):
            page = app.test_client().post("/requests/new", data=valid_request(date_of_birth="31.02.1970"),
                                          content_type="multipart/form-data")
            assert page.status_code == 422
            assert "Неверное значение даты." in page.text
    finally:
        request_form._wtforms_catalogue.cache_clear()
    assert loads == [["ru"]]


def test_a_new_visitor_whose_page_is_kept_costs_no_form(app, renders, monkeypatch):
    built: list[str] = []
    original = request_form.RequestForm.__init__

    def counting(self, *args, **kwargs) -> None:
        built.append(request_form.i18n.current_language())
        original(self, *args, **kwargs)

    monkeypatch.setattr(request_form.RequestForm, "__init__", counting)
    pages = [_new_visit(app.test_client()) for _ in range(3)]
    assert len(renders) == 1 and built == ["en"]  # the first visit drew the page, the others only fill it
    assert len({_hidden(page, "csrf_token") for page in pages}) == 3
    assert len({_hidden(page, "submission_token") for page in pages}) == 3
