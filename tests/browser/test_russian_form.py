"""The Russian form end to end in a real browser: the patient switches the page to
Russian, fills it in by its Russian labels, uploads a file through the widget, is refused
in Russian for one field with everything kept, corrects it, and lands on a Russian status
page listing the file. The Russian words come from the real catalogue, so each check also
proves the string was translated (it must differ from the English msgid)."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.support import Translations
from playwright.sync_api import Page, expect

from forms import RequestForm
from tests.browser.test_request_form import (
    FILES_LABEL,
    SELECT_FIELDS,
    STATUS_PATH,
    TEXT_FIELDS,
    UPLOADS,
    write_files,
)
from tests.browser.test_uploads import UPLOAD_TIMEOUT_MS
from tests.conftest import ROOT
from tests.fixtures import files
from tests.fixtures.forms import valid_request

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@cache
def _catalogue() -> Translations:
    return Translations.load(str(ROOT / "service" / "translations"), ["ru"])


def ru(english: str) -> str:
    """The Russian for an English msgid; fails if the catalogue has none."""
    russian = _catalogue().gettext(english)
    assert russian != english and CYRILLIC.search(russian), f"no Russian for {english!r}"
    return russian


def send(page: Page):
    with page.expect_response(
        lambda r: r.request.method == "POST" and not UPLOADS.match(r.url), timeout=UPLOAD_TIMEOUT_MS
    ) as posted:
        page.get_by_role("button", name=ru("Send my request")).click()
    return posted.value


@pytest.mark.browser
def test_a_patient_sends_the_russian_form_end_to_end(page: Page, tmp_path: Path, screenshot, browser_log) -> None:
    values = valid_request(language="ru", description="Коротко")
    page.goto("/requests/new")
    page.get_by_role("link", name="Русский").click()
    expect(page).to_have_url(re.compile(r"/requests/new\?lang=ru$"))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text(ru("Request treatment"))

    for name, label in TEXT_FIELDS.items():
        page.get_by_label(ru(label), exact=True).fill(values[name])
    for name, label in SELECT_FIELDS.items():
        page.get_by_label(ru(label), exact=True).select_option(value=values[name])
    page.get_by_label(ru(str(RequestForm.consent.args[0]))).check()
    page.get_by_label(ru(FILES_LABEL), exact=True).set_input_files(write_files(tmp_path, {"анализы.pdf": files.pdf()}))
    item = page.locator("[data-picked] li").filter(has_text="анализы.pdf")
    expect(item).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    expect(item.locator(".upload-state")).to_have_text(ru("Uploaded"))
    screenshot(page, "ru-form")

    # Refused in Russian, at the field and in the summary; everything typed and uploaded stays.
    response = send(page)
    assert response.status == 422
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(CYRILLIC)
    description = page.get_by_label(ru(TEXT_FIELDS["description"]), exact=True)
    expect(description).to_have_value("Коротко")
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label(ru(TEXT_FIELDS["full_name"]), exact=True)).to_have_value(values["full_name"])
    expect(item).to_have_attribute("data-state", "done")
    expect(page.locator("input[type=hidden][name=upload_ids]")).to_have_count(1)
    screenshot(page, "ru-errors")

    description.fill(valid_request()["description"])
    response = send(page)
    assert response.status == 303, f"the request was not accepted (HTTP {response.status})"
    page.wait_for_url(STATUS_PATH)
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#status-title")).to_have_text(f"{ru('Status:')} {ru('Received')}")
    expect(page.locator(".files-table").get_by_role("link", name="анализы.pdf", exact=True)).to_be_visible()
    screenshot(page, "ru-status")
    browser_log.assert_clean()
