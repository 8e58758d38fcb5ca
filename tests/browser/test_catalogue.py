"""The public catalogue in a real browser: a patient filters the clinics with the form
(the result is a link), pages through them, reads a clinic's page in Russian, presses
"Request treatment here" and finds the form filled in, and the preferred-clinic list
narrows as the treatment changes (clinic-choice.js)."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.fixtures.catalogues import CATALOGUE_KNEE, CATALOGUE_VALVE, load_catalogue_data, remove_catalogue_data


@pytest.fixture(scope="module")
def catalogue(live_app: Flask) -> Iterator[dict]:
    """The catalogue's test clinics in the live app's database, removed afterwards (the
    database is shared by the session's browser tests)."""
    from service.extensions import db

    with live_app.app_context():
        data = load_catalogue_data()
        db.session.remove()
    try:
        yield data
    finally:
        with live_app.app_context():
            remove_catalogue_data()
            db.session.remove()


def _cards(page: Page):
    return page.locator("article.clinic-card h2")


def _shown_clinics(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#preferred_clinic option", "els => els.filter(o => !o.hidden && !o.disabled).map(o => o.value)"
    )


@pytest.mark.browser
def test_filters_make_a_link_and_pages_follow_it(page: Page, catalogue, screenshot, browser_log) -> None:
    page.goto("/clinics?lang=en")
    page.get_by_label("Treatment").select_option(CATALOGUE_KNEE)
    page.get_by_label("Country").select_option("LV")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"/clinics\?treatment={CATALOGUE_KNEE}&country=LV&accreditation=&language="))
    expect(_cards(page)).to_have_text(["Daugava Catalogue Clinic"])
    expect(page.locator(".result-count")).to_have_text("1 clinic offers Catalogue knee replacement")
    screenshot(page, "filtered")

    page.get_by_role("link", name="Clear filters").first.click()
    page.goto(f"/clinics?treatment={CATALOGUE_KNEE}")
    expect(_cards(page)).to_have_count(12)
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"[?&]page=2"))
    expect(_cards(page)).to_have_count(2)
    expect(page.locator(".pages a[aria-current=page]")).to_have_text("2")
    browser_log.assert_clean()


@pytest.mark.browser
def test_a_clinic_page_in_russian(page: Page, catalogue, screenshot, browser_log) -> None:
    page.goto(f"/clinics?treatment={CATALOGUE_KNEE}&country=LV&lang=ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator(".result-count")).to_have_text("1 клиника предлагает «Каталожное эндопротезирование колена»")
    page.get_by_role("link", name="Daugava Catalogue Clinic").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Daugava Catalogue Clinic")
    expect(page.locator(".lead.where")).to_have_text("Рига, Латвия")
    expect(page.locator(".clinic-facts")).to_contain_text("Английский, Латышский, Русский")
    expect(page.locator(".clinic-facts")).to_contain_text("Обычно отвечает в течение 18 часов")
    expect(page.locator(".offers h3")).to_have_text(
        ["Каталожная замена клапана", "Каталожное эндопротезирование колена"]
    )
    screenshot(page, "clinic-ru")
    browser_log.assert_clean()


@pytest.mark.browser
def test_request_treatment_here_fills_the_form_and_the_clinic_list_follows_the_treatment(
    page: Page, catalogue, screenshot, browser_log
) -> None:
    page.goto("/clinics/cat-riga-clinic?lang=en")
    page.get_by_role("link", name=re.compile(r"^Request treatment here\W+Catalogue valve replacement$")).click()
    expect(page).to_have_url(re.compile(rf"/requests/new\?treatment={CATALOGUE_VALVE}&clinic=cat-riga-clinic$"))
    expect(page.locator("#treatment")).to_have_value(CATALOGUE_VALVE)
    expect(page.locator("#preferred_clinic")).to_have_value("cat-riga-clinic")
    shown = _shown_clinics(page)
    assert {"cat-riga-clinic", "cat-valve-only"} <= set(shown) and "cat-generated-00" not in shown
    screenshot(page, "prefilled")

    # The knee: the generated clinics come back, the valve-only hospital goes; Riga stays chosen.
    page.locator("#treatment").select_option(CATALOGUE_KNEE)
    shown = _shown_clinics(page)
    assert "cat-generated-00" in shown and "cat-valve-only" not in shown
    expect(page.locator("#preferred_clinic")).to_have_value("cat-riga-clinic")

    # A clinic that does not offer the newly chosen treatment is unpicked, not sent.
    page.locator("#preferred_clinic").select_option("cat-generated-00")
    page.locator("#treatment").select_option(CATALOGUE_VALVE)
    expect(page.locator("#preferred_clinic")).to_have_value("")
    assert "cat-generated-00" not in _shown_clinics(page)

    # No treatment: every clinic again.
    page.locator("#treatment").select_option("")
    assert {"cat-generated-00", "cat-valve-only", "cat-riga-clinic"} <= set(_shown_clinics(page))
    browser_log.assert_clean()
