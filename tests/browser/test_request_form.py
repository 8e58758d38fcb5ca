"""The request form and the status page in a real browser: labels, the file picker's
allowance (files.js), the server's checks round-tripping, CSP, a narrow screen."""
from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures import files
from tests.fixtures.forms import valid_request

REFERENCE = re.compile(r"MT-\d{4}-\d{6}")
STATUS_PATH = re.compile(r"/s/[^/?#]+$")
ACCEPTED_TYPES = "PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP"

# Form field name -> (visible label, how to set it).
TEXT_FIELDS = {
    "full_name": "Full name",
    "email": "Email",
    "phone": "Phone (optional)",
    "date_of_birth": "Date of birth (optional)",
    "description": "Describe your situation",
    "travel_window": "When could you travel? (optional)",
    "budget": "Budget (optional)",
    "medications": "Current medications (optional)",
    "allergies": "Allergies (optional)",
    "conditions": "Other medical conditions (optional)",
}
SELECT_FIELDS = {
    "country": "Country you live in",
    "language": "Preferred language for contact",
    "treatment": "Treatment",
    "preferred_clinic": "Preferred clinic (optional)",
    "budget_currency": "Currency",
}
FILES_LABEL = "Medical files (optional)"
CONSENT_LABEL = "I consent to Medtour processing the health information"


def field(page: Page, name: str):
    label = TEXT_FIELDS.get(name) or SELECT_FIELDS[name]
    return page.get_by_label(label, exact=True)


def fill_request(page: Page, values: dict[str, Any]) -> None:
    """Fill the whole form the way a person does: find each field by its label."""
    for name, label in TEXT_FIELDS.items():
        page.get_by_label(label, exact=True).fill(values[name])
    for name, label in SELECT_FIELDS.items():
        page.get_by_label(label, exact=True).select_option(value=values[name])
    if values.get("consent"):
        page.get_by_label(CONSENT_LABEL).check()


def expect_values_kept(page: Page, values: dict[str, Any], *, skip: tuple[str, ...] = ()) -> None:
    for name in TEXT_FIELDS:
        if name in skip:
            continue
        if name == "phone":
            # The server normalises the number to E.164; the digits must survive.
            typed = re.sub(r"\D", "", values[name])
            assert re.sub(r"\D", "", field(page, name).input_value()) == typed
        else:
            expect(field(page, name)).to_have_value(values[name])
    for name in SELECT_FIELDS:
        if name not in skip:
            expect(field(page, name)).to_have_value(values[name])
    if values.get("consent"):
        expect(page.get_by_label(CONSENT_LABEL)).to_be_checked()


def write_files(folder: Path, named: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, content in named.items():
        path = folder / name
        path.write_bytes(content)
        paths.append(path)
    return paths


UPLOADS = re.compile(r"^https?://[^/]+/uploads(/|$)")


def submit(page: Page, button: str = "Send my request"):
    """Click the submit button; return the response to the form's POST (not to the
    resumable uploads uploads.js makes as files are picked)."""
    with page.expect_response(lambda r: r.request.method == "POST" and not UPLOADS.match(r.url)) as posted:
        page.get_by_role("button", name=button).click()
    return posted.value


@pytest.mark.browser
def test_patient_sends_request_with_three_files_then_adds_one(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    names = ["lab-result.pdf", "knee-photo.jpg", "IMG_0001.HEIC"]
    picked_paths = write_files(
        tmp_path, dict(zip(names, [files.pdf(), files.jpeg(), files.heic()], strict=True))
    )
    values = valid_request(language="en")  # the status page in English; Russian is tested below

    page.goto("/requests/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Request treatment")
    allowance = page.locator("[data-file-picker] [data-allowance]")
    expect(allowance).to_have_text("10 of 10 files left")

    fill_request(page, values)
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(picked_paths)
    expect(allowance).to_have_text("7 of 10 files left")
    picked = page.locator("[data-picked] li")
    expect(picked).to_have_count(3)
    for item, name in zip(picked.all(), names, strict=True):
        expect(item).to_contain_text(name)
    expect(page.locator("[data-picked] li.problem")).to_have_count(0)
    expect(page.get_by_label(CONSENT_LABEL)).to_be_checked()
    screenshot(page, "1-form")

    response = submit(page)
    assert response.status == 303, f"the request was not accepted (HTTP {response.status})"
    page.wait_for_url(STATUS_PATH)

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(rf"^Your request {REFERENCE.pattern}$"))
    reference = REFERENCE.search(heading.inner_text()).group(0)
    expect(page.locator(".notice-success")).to_contain_text(f"Your request {reference} is on record")
    rows = page.locator(".files-table tbody tr")
    expect(rows).to_have_count(3)
    for name in names:
        expect(page.locator(".files-table").get_by_role("link", name=name, exact=True)).to_be_visible()
    status_allowance = page.locator("#files-allowance")
    expect(status_allowance).to_have_text("7 of 10 files left")
    expect(page.locator(".timeline li").filter(has_text="Request received")).to_have_count(1)
    screenshot(page, "2-status")

    # One more file through the status page's own form.
    (more,) = write_files(tmp_path, {"ct-report.pdf": files.pdf("CT report")})
    page.get_by_label("Files to add").set_input_files(more)
    expect(status_allowance).to_have_text("6 of 10 files left")  # files.js, before sending
    response = submit(page, "Add files")
    assert response.status == 303, f"the file was not accepted (HTTP {response.status})"
    expect(page.locator(".notice-success")).to_have_text("1 file added to your request.")
    expect(rows).to_have_count(4)
    expect(page.locator(".files-table").get_by_role("link", name="ct-report.pdf", exact=True)).to_be_visible()
    expect(page.locator("#files-allowance")).to_have_text("6 of 10 files left")  # from the server
    screenshot(page, "3-status-after-adding")

    browser_log.assert_clean()


@pytest.mark.browser
def test_a_russian_patients_status_page_and_file_picker_speak_russian(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    """The form is in the browser's language (English here); the status page it leads to
    speaks the language the patient chose, files.js included: its counts, sizes and plural forms."""
    page.goto("/requests/new")
    fill_request(page, valid_request())  # language "ru"
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(write_files(tmp_path, {"анализы.pdf": files.pdf()}))
    response = submit(page)
    assert response.status == 303, f"the request was not accepted (HTTP {response.status})"
    page.wait_for_url(STATUS_PATH)

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(rf"^Ваша заявка {REFERENCE.pattern}$"))
    reference = REFERENCE.search(heading.inner_text()).group(0)
    expect(page.locator(".notice-success")).to_have_text(f"Спасибо. Ваша заявка {reference} принята.")
    expect(page.locator("#status-title")).to_have_text("Статус: Получена")
    expect(page.locator(".timeline li").filter(has_text="Заявка получена")).to_have_count(1)
    allowance = page.locator("#files-allowance")
    expect(allowance).to_have_text("Осталось файлов: 9 из 10")

    picked = write_files(tmp_path, {"два.txt": b"ab", "пустой.pdf": b"", "скан.pdf": files.pdf()})
    page.get_by_label("Файлы для добавления", exact=True).set_input_files(picked)
    expect(allowance).to_have_text("Осталось файлов: 6 из 10")  # files.js, before sending
    items = page.locator("[data-picked] li")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_have_text("два.txt (2 байта)")
    expect(items.nth(1)).to_have_text("пустой.pdf (0 байт): файл пустой (0 байт)")
    expect(items.nth(2)).to_have_text(re.compile(r"^скан\.pdf \((\d+ (байт|байта)|\d+ КБ)\)$"))
    screenshot(page, "ru-status")
    browser_log.assert_clean()


@pytest.mark.browser
def test_validation_errors_link_to_fields_and_keep_typed_values(page: Page, screenshot, browser_log) -> None:
    # The page comes back in the posted language: English here (the Russian one is in
    # tests/service/blueprints/test_requests_i18n.py).
    values = valid_request(language="en", full_name="", email="amina-at-example.org")

    page.goto("/requests/new")
    fill_request(page, values)
    response = submit(page)
    assert response.status == 422

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    name_link = summary.get_by_role("link", name="Enter your full name.")
    email_link = summary.get_by_role("link", name="Enter a valid email address, like name@example.com.")
    expect(name_link).to_have_attribute("href", "#full_name")
    expect(email_link).to_have_attribute("href", "#email")
    expect(field(page, "full_name")).to_have_attribute("aria-invalid", "true")
    expect(field(page, "email")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "errors")

    name_link.click()
    expect(field(page, "full_name")).to_be_focused()
    email_link.click()
    expect(field(page, "email")).to_be_focused()

    expect(field(page, "full_name")).to_have_value("")
    expect(field(page, "email")).to_have_value("amina-at-example.org")
    expect_values_kept(page, values, skip=("full_name", "email"))

    browser_log.assert_clean()


@pytest.mark.browser
def test_file_the_server_refuses_is_named_and_typed_values_are_kept(
    make_page, tmp_path: Path, screenshot, browser_log
) -> None:
    """The plain multipart form (JavaScript off). With JavaScript the file goes up as it is
    picked and the server's refusal shows on its row: tests/browser/test_uploads.py."""
    page = make_page(java_script_enabled=False)
    disguised = write_files(tmp_path, {"scan.pdf": files.elf_executable()})
    values = valid_request(language="en")

    page.goto("/requests/new")
    fill_request(page, values)
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(disguised)
    response = submit(page)
    assert response.status == 422

    message = f"scan.pdf: this type is not accepted; use {ACCEPTED_TYPES}."
    expect(page.locator(".field.files .field-errors")).to_have_text(message)
    expect(page.locator(".error-summary").get_by_role("link", name=message)).to_have_attribute("href", "#files")
    assert not STATUS_PATH.search(page.url), "a request with a refused file must not be recorded"
    screenshot(page, "refused")

    expect_values_kept(page, values)
    browser_log.assert_clean()


@pytest.mark.browser
def test_picking_too_many_files_is_flagged_before_sending(page: Page, tmp_path: Path, browser_log) -> None:
    """Files go up as they are picked (uploads.js); the 11th is refused in the browser and
    never sent."""
    eleven = write_files(tmp_path, {f"page-{n:02d}.pdf": files.pdf(f"Page {n}") for n in range(1, 12)})
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.headers.get("upload-metadata", r.url))
            if r.method == "POST" and not r.url.endswith("/time-zone") else None)  # time-zone.js reports the zone

    page.goto("/requests/new")
    allowance = page.locator("[data-file-picker] [data-allowance]")
    picker = page.get_by_label(FILES_LABEL, exact=True)

    picker.set_input_files(eleven)
    expect(allowance).to_have_text("Too many files: 11 picked, only 10 can be added")
    expect(allowance).to_have_class(re.compile(r"\bproblem\b"))
    items = page.locator("[data-picked] li")
    expect(items).to_have_count(11)
    expect(page.locator("[data-picked] li.problem")).to_have_count(1)
    expect(items.nth(10)).to_contain_text("page-11.pdf")
    expect(items.nth(10)).to_contain_text("over the limit of 10 files")
    expect(page.locator("[data-picked] li[data-state=done]")).to_have_count(10, timeout=30_000)

    # Dismissing the refused file clears the warning; it never counted.
    page.get_by_role("button", name="Remove page-11.pdf").click()
    expect(allowance).to_have_text("0 of 10 files left")
    expect(allowance).not_to_have_class(re.compile(r"\bproblem\b"))
    expect(page.locator("[data-picked] li.problem")).to_have_count(0)

    refused = "filename " + base64.b64encode(b"page-11.pdf").decode()
    assert posts and all(p.startswith("filename ") for p in posts), "only uploads may be sent while picking"
    assert not any(p.startswith(refused + ",") for p in posts), "the 11th file was sent"
    browser_log.assert_clean()


@pytest.mark.browser
def test_request_form_fits_a_360px_screen(make_page, screenshot, browser_log) -> None:
    page = make_page(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    page.goto("/requests/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Request treatment")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the empty form scrolls sideways ({width}px wide)"
    screenshot(page, "empty")

    # With errors shown (summary, red borders, messages) it must still fit.
    fill_request(page, valid_request(full_name="", email="not-an-email", description="too short"))
    assert submit(page).status == 422
    expect(page.locator(".error-summary")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the form with errors scrolls sideways ({width}px wide)"
    screenshot(page, "errors")

    browser_log.assert_clean()


@pytest.mark.browser
def test_long_file_names_wrap_on_a_360px_screen(make_page, tmp_path: Path, screenshot) -> None:
    long_name = "MRT_knee_left_side_" + "x" * 60 + ".pdf"
    (refused,) = write_files(tmp_path, {long_name: files.elf_executable()})
    # With JavaScript: the file's row, refused by the server after its first bytes.
    page = make_page(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    page.goto("/requests/new")
    fill_request(page, valid_request())
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(refused)
    expect(page.locator("[data-picked] li")).to_contain_text(long_name)
    expect(page.locator("[data-picked] li")).to_have_attribute("data-state", "failed", timeout=30_000)
    picked_width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "failed-row")

    # Without: the server's error summary.
    page = make_page(viewport={"width": 360, "height": 740}, device_scale_factor=1, java_script_enabled=False)
    page.goto("/requests/new")
    fill_request(page, valid_request())
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(refused)
    assert submit(page).status == 422
    expect(page.locator(".error-summary")).to_contain_text(long_name)
    errors_width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "errors")
    assert (picked_width, errors_width) == (360, 360)


# Computed properties that make a text-like input look like the others.
BOX_STYLE = ["paddingLeft", "paddingTop", "borderTopWidth", "borderTopStyle", "borderTopColor",
             "borderRadius", "fontSize", "backgroundColor", "boxSizing"]


def box_style(locator) -> dict[str, str]:
    return locator.evaluate(
        "(el, names) => { const s = getComputedStyle(el); return Object.fromEntries(names.map(n => [n, s[n]])); }",
        BOX_STYLE,
    )


def width(locator) -> float:
    return locator.evaluate("el => el.getBoundingClientRect().width")


@pytest.mark.browser
def test_phone_and_budget_inputs_are_styled_like_the_other_inputs(page: Page, screenshot, browser_log) -> None:
    page.goto("/requests/new")
    email, phone, budget = field(page, "email"), field(page, "phone"), field(page, "budget")
    # type=tel brings up the phone keypad on mobiles; it must look like its neighbours.
    expect(phone).to_have_attribute("type", "tel")
    expect(budget).to_have_attribute("type", "number")

    expected = box_style(email)
    assert box_style(phone) == expected
    assert box_style(budget) == expected
    assert width(phone) == width(email), "the phone input is not full width"
    # The budget shares its row with the currency: it fills its own half.
    budget_field = budget.locator("xpath=ancestor::div[contains(@class, 'field')][1]")
    assert width(budget) == budget_field.evaluate("el => el.clientWidth"), "the budget input is not full width"
    screenshot(page, "form")

    browser_log.assert_clean()


def described_by(locator) -> list[str]:
    return (locator.get_attribute("aria-describedby") or "").split()


@pytest.mark.browser
def test_hints_are_read_with_their_fields(page: Page, browser_log) -> None:
    page.goto("/requests/new")
    rows = page.locator(".field").filter(has=page.locator(":scope > .hint"))
    expect(rows.first).to_be_attached()
    for row in rows.all():
        hint = row.locator(":scope > .hint")
        hint_id = hint.get_attribute("id")
        control = row.locator("input, select, textarea")
        label = row.locator("label").first.inner_text()
        assert hint_id, f"the hint of {label!r} has no id"
        assert hint_id in described_by(control), f"{label!r} is not described by its hint"
        expect(page.locator(f"#{hint_id}")).to_have_count(1)
    # What a screen reader announces after the label.
    date_of_birth = field(page, "date_of_birth")
    expect(date_of_birth).to_have_accessible_description("Optional. Clinics use your age to plan treatment.")
    expect(field(page, "preferred_clinic")).to_have_accessible_description(re.compile(r"^You choose the clinic"))

    # With an error, the field is described by its hint and then the message.
    fill_request(page, valid_request(language="en", description="too short"))
    assert submit(page).status == 422
    description = field(page, "description")
    assert described_by(description) == ["description-hint", "description-error"]
    for element_id in described_by(description):
        expect(page.locator(f"#{element_id}")).to_have_count(1)
    expect(description).to_have_accessible_description(
        re.compile(r"^Your diagnosis, .+ Write between \d+ and \d+ characters")
    )
    expect(description).to_have_attribute("aria-invalid", "true")

    browser_log.assert_clean()


@pytest.mark.browser
def test_file_picker_button_is_a_44px_tap_target(make_page, screenshot, browser_log) -> None:
    page = make_page(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    page.goto("/requests/new")
    picker = page.get_by_label(FILES_LABEL, exact=True)
    button = picker.evaluate(
        """el => { const s = getComputedStyle(el, '::file-selector-button');
                  return {height: parseFloat(s.height), minHeight: s.minHeight, cursor: s.cursor}; }"""
    )
    assert button["height"] >= 44, f"the file picker's button is {button['height']}px tall"
    assert button["cursor"] == "pointer"
    box = picker.bounding_box()
    assert box is not None and box["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    picker.scroll_into_view_if_needed()
    screenshot(page, "picker")

    browser_log.assert_clean()


@pytest.mark.browser
def test_the_language_switch_is_plain_links_that_keep_the_page(make_page, browser_log) -> None:
    """Without JavaScript too: "Русский" turns the form Russian, and the choice stays."""
    page = make_page(java_script_enabled=False)
    page.goto("/requests/new")
    switch = page.get_by_role("navigation", name="Language")
    expect(switch.get_by_role("link")).to_have_text(["English", "Русский"])
    expect(switch.get_by_role("link", name="English")).to_have_attribute("aria-current", "true")
    switch.get_by_role("link", name="Русский").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page).to_have_url(re.compile(r"/requests/new\?lang=ru$"))
    expect(page.get_by_label("Фамилия и имя", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Язык").get_by_role("link", name="Русский")).to_have_attribute(
        "aria-current", "true"
    )
    page.goto("/requests/new")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    browser_log.assert_clean()
