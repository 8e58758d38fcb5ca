"""The request form's rough edges in a real browser: the focus after a refusal, errors
that go away once fixed, the consent checkbox beside its label at every width, the same
file picked twice (form-errors.js, uploads.js, site.css)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_request_form import CONSENT_LABEL, FILES_LABEL, field, fill_request, submit, write_files
from tests.fixtures import files
from tests.fixtures.forms import valid_request

UPLOADS = re.compile(r"/uploads$")


@pytest.mark.browser
def test_after_a_refusal_the_focus_is_on_the_error_summary(page: Page, browser_log) -> None:
    page.goto("/requests/new")
    fill_request(page, valid_request(language="en", email="amina-at-example.org"))
    assert submit(page).status == 422
    summary = page.locator("#error-summary")
    expect(summary).to_have_attribute("tabindex", "-1")
    expect(summary).to_be_focused()
    browser_log.assert_clean()


@pytest.mark.browser
def test_a_corrected_field_loses_its_error_and_the_others_keep_theirs(page: Page, screenshot, browser_log) -> None:
    page.goto("/requests/new")
    fill_request(page, valid_request(language="en", full_name="", email="amina-at-example.org"))
    assert submit(page).status == 422
    summary = page.locator("#error-summary")
    email, name = field(page, "email"), field(page, "full_name")
    expect(email).to_have_attribute("aria-invalid", "true")

    email.fill("amina@")  # still not an address: the error stays
    expect(page.locator("#email-error")).to_have_count(1)
    email.fill("amina@example.org")
    expect(page.locator("#email-error")).to_have_count(0)
    expect(email).to_have_attribute("aria-invalid", "false")
    expect(email).not_to_have_attribute("aria-describedby", re.compile("email-error"))
    expect(summary.get_by_role("link")).to_have_count(1)
    expect(summary.get_by_role("link", name="Enter your full name.")).to_be_visible()
    expect(name).to_have_attribute("aria-invalid", "true")
    screenshot(page, "email-fixed")

    name.fill("Amina Petrova")
    expect(page.locator("#full_name-error")).to_have_count(0)
    expect(summary).to_be_hidden()
    browser_log.assert_clean()


@pytest.mark.browser
def test_consent_error_clears_when_the_box_is_ticked(page: Page, browser_log) -> None:
    page.goto("/requests/new")
    fill_request(page, valid_request(language="en", consent=""))
    assert submit(page).status == 422
    expect(page.locator("#consent-error")).to_have_count(1)
    page.get_by_label(CONSENT_LABEL).check()
    expect(page.locator("#consent-error")).to_have_count(0)
    expect(page.locator(".field.consent")).not_to_have_class(re.compile("has-error"))
    browser_log.assert_clean()


def _beside(page: Page) -> None:
    box = page.locator("#consent").bounding_box()
    label = page.locator("label[for=consent]").bounding_box()
    assert box and label
    assert box["x"] + box["width"] <= label["x"], f"the checkbox {box} is not left of its label {label}"
    assert label["y"] <= box["y"] + box["height"] / 2 <= label["y"] + label["height"], (
        f"the checkbox {box} is not on its label's lines {label}"
    )


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1024])
def test_the_consent_checkbox_stays_beside_its_label(make_page, width: int, screenshot, browser_log) -> None:
    page = make_page(viewport={"width": width, "height": 800})
    page.goto("/requests/new")
    _beside(page)
    fill_request(page, valid_request(language="en", consent=""))
    assert submit(page).status == 422
    _beside(page)
    page.locator(".field.consent").scroll_into_view_if_needed()
    screenshot(page, f"consent-{width}px")
    browser_log.assert_clean()


@pytest.mark.browser
def test_the_same_file_picked_twice_is_flagged_before_it_is_sent(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    scan = files.pdf("Knee MRI")
    first, again, other = write_files(tmp_path, {"mri.pdf": scan, "mri-copy.pdf": scan, "lab.pdf": files.pdf("Lab")})
    created: list[str] = []
    page.on("request", lambda r: created.append(r.url) if r.method == "POST" and UPLOADS.search(r.url) else None)

    page.goto("/requests/new")
    picker = page.get_by_label(FILES_LABEL, exact=True)
    picker.set_input_files([first, again])
    rows = page.locator("[data-picked] li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-state", re.compile("waiting|uploading|done"))
    expect(rows.nth(1)).to_have_class(re.compile("refused"))
    expect(rows.nth(1)).to_contain_text("mri-copy.pdf")
    expect(rows.nth(1)).to_contain_text("the same file as mri.pdf (identical contents)")
    expect(rows.nth(0)).to_have_attribute("data-state", "done")

    # Picked again later, after it went up: flagged too; a different file goes up.
    picker.set_input_files([again, other])
    expect(rows).to_have_count(4)
    expect(rows.nth(2)).to_contain_text("the same file as mri.pdf")
    expect(rows.nth(3)).to_have_attribute("data-state", "done")
    expect(page.locator("[data-file-picker] [data-allowance]")).to_have_text("8 of 10 files left")
    assert len(created) == 2, f"only the two different files are sent: {created}"
    page.locator("[data-file-picker]").scroll_into_view_if_needed()
    screenshot(page, "duplicates")
    browser_log.assert_clean()


@pytest.mark.browser
def test_times_on_the_status_page_are_in_the_browsers_zone_named(make_page, browser_log) -> None:
    page = make_page(timezone_id="Europe/Berlin")
    with page.expect_response(lambda r: r.url.endswith("/time-zone")) as reported:
        page.goto("/requests/new")
    assert reported.value.status == 204
    fill_request(page, valid_request(language="en"))
    assert submit(page).status == 303
    page.wait_for_url(re.compile(r"/s/[^/?#]+$"))
    expect(page.locator("meta[name=time-zone]")).to_have_attribute("content", "Europe/Berlin")
    received = page.locator(".timeline li").filter(has_text="Request received").locator("time")
    expect(received).to_have_text(re.compile(r"^\d{1,2} \w+ \d{4}, \d{2}:\d{2} CES?T$"))
    browser_log.assert_clean()
