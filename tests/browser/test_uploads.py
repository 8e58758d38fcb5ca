"""The request form's resumable uploads (uploads.js over tus) in a real browser: files go up
as soon as they are picked, with their own progress; one can be removed; a dropped
connection resumes from the server's offset, not from zero; the limits are enforced in the
browser before a byte is sent; a server-side validation error keeps the uploaded files;
the form fits a 360 px screen. Screenshots go to test-artifacts/."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from service.limits import MAX_FILE_BYTES, MAX_FILES, MIB
from tests.browser.test_request_form import (
    FILES_LABEL,
    STATUS_PATH,
    expect_values_kept,
    fill_request,
    write_files,
)
from tests.fixtures import files
from tests.fixtures.forms import valid_request

UPLOAD_TIMEOUT_MS = 30_000


class UploadTraffic:
    """The tus requests the page makes: creations (with their file names) and PATCH offsets."""

    def __init__(self, page: Page) -> None:
        self.created: list[str] = []
        self.patches: list[tuple[float, int]] = []
        self.other_posts: list[str] = []
        page.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        path = re.sub(r"^https?://[^/]+", "", request.url)
        if request.method == "POST" and path == "/uploads":
            metadata = dict(
                pair.strip().split(" ", 1) for pair in request.headers.get("upload-metadata", "").split(",") if pair
            )
            self.created.append(base64.b64decode(metadata.get("filename", "")).decode())
        elif request.method == "PATCH" and path.startswith("/uploads/"):
            self.patches.append((time.monotonic(), int(request.headers["upload-offset"])))
        elif request.method == "POST" and path != "/time-zone":  # the page reports its zone (time-zone.js)
            self.other_posts.append(path)


def rows(page: Page):
    return page.locator("[data-picked] li")


def row(page: Page, name: str):
    return rows(page).filter(has=page.locator(".upload-name, .upload-file").get_by_text(name, exact=False))


def expect_done(page: Page, names: list[str]) -> None:
    for name in names:
        item = rows(page).filter(has_text=name)
        expect(item).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
        expect(item.locator(".upload-state")).to_have_text("Uploaded")


def send(page: Page):
    """Click "Send my request"; return the response to the form's POST (not the uploads')."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.rstrip("/").endswith("/requests/new"),
        timeout=UPLOAD_TIMEOUT_MS,
    ) as posted:
        page.get_by_role("button", name="Send my request").click()
    return posted.value


def no_sideways_scroll(page: Page) -> None:
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the page scrolls sideways ({scroll}px in {inner}px)"


@pytest.mark.browser
def test_three_files_upload_as_picked_one_is_removed_two_reach_the_status_page(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    names = ["lab-result.pdf", "knee-photo.jpg", "IMG_0001.HEIC"]
    paths = write_files(tmp_path, dict(zip(names, [files.pdf(), files.jpeg(), files.heic()], strict=True)))
    traffic = UploadTraffic(page)

    page.goto("/requests/new")
    fill_request(page, valid_request(language="en"))
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(paths)

    expect(rows(page)).to_have_count(3)
    for item, path, name in zip(rows(page).all(), paths, names, strict=True):
        expect(item.locator(".upload-name")).to_have_text(name)
        expect(item.locator(".upload-size")).to_have_text(re.compile(r"^\((\d+ bytes|\d+ KB)\)$"))
        expect(item.locator("progress")).to_have_attribute("max", str(path.stat().st_size))
    expect_done(page, names)
    assert set(traffic.created) == set(names)
    overall = page.locator(".upload-overall")
    expect(overall).to_contain_text("Files uploaded: 3 of 3")
    assert overall.locator("progress").evaluate("p => p.value === p.max")
    expect(page.locator("[data-allowance]")).to_have_text("7 of 10 files left")
    expect(page.locator("[data-announce]")).to_have_attribute("aria-live", "polite")
    expect(page.locator("[data-announce]")).to_have_text(re.compile(r": Uploaded$"))
    assert page.get_by_label(FILES_LABEL, exact=True).evaluate("i => i.files.length") == 0
    screenshot(page, "1-uploaded")

    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Remove knee-photo.jpg").click()
    assert deleted.value.status == 204
    expect(rows(page)).to_have_count(2)
    expect(page.locator("[data-announce]")).to_have_text("knee-photo.jpg removed")
    expect(page.locator("[data-allowance]")).to_have_text("8 of 10 files left")
    expect(overall).to_contain_text("Files uploaded: 2 of 2")
    expect(page.locator("input[type=hidden][name=upload_ids]")).to_have_count(2)

    response = send(page)
    assert response.status == 303, f"the request was not accepted (HTTP {response.status})"
    assert "files=" not in (response.request.post_data or ""), "the picked files were posted again"
    page.wait_for_url(STATUS_PATH)
    expect(page.locator(".files-table tbody tr")).to_have_count(2)
    for name in ("lab-result.pdf", "IMG_0001.HEIC"):
        expect(page.locator(".files-table").get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.locator(".files-table").get_by_role("link", name="knee-photo.jpg")).to_have_count(0)
    screenshot(page, "2-status")
    browser_log.assert_clean()


def big_pdf(size: int) -> bytes:
    head = files.pdf("Scan")
    return head + os.urandom(size - len(head))


@pytest.mark.browser
def test_a_10_mib_upload_resumes_after_the_network_drops(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    content = big_pdf(MAX_FILE_BYTES)
    (path,) = write_files(tmp_path, {"mri-knee.pdf": content})
    traffic = UploadTraffic(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")

    def network(offline: bool = False, upload_bytes_per_second: float = -1) -> None:
        cdp.send("Network.emulateNetworkConditions", {
            "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload_bytes_per_second,
        })

    page.goto("/requests/new")
    fill_request(page, valid_request(language="en"))

    # 1 Mbit/s: progress moves steadily and the page stays responsive.
    network(upload_bytes_per_second=1_000_000 / 8)
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(path)
    item = row(page, "mri-knee.pdf")
    bar = item.locator("progress")
    expect(item).to_have_attribute("data-state", "uploading")
    samples = []
    for _ in range(4):
        page.wait_for_timeout(700)
        started = time.monotonic()
        samples.append(bar.evaluate("p => p.value"))
        assert time.monotonic() - started < 0.5, "the page is not responsive while uploading"
    assert all(b > a for a, b in zip(samples, samples[1:], strict=False)), f"no steady progress: {samples}"
    expect(item.locator(".upload-state")).to_have_text(re.compile(r"^Uploading: \d+%$"))

    # Faster, then the network drops after a few chunks.
    network(upload_bytes_per_second=3 * MIB)
    page.wait_for_function(
        "el => el.value >= 3.5 * 1024 * 1024", arg=bar.element_handle(), timeout=UPLOAD_TIMEOUT_MS
    )
    network(offline=True)
    dropped_at = time.monotonic()
    expect(item).to_have_attribute("data-state", "paused")
    expect(item.locator(".upload-state")).to_have_text(re.compile(r"^Paused: no connection"))
    expect(page.locator("[data-announce]")).to_contain_text("mri-knee.pdf: Paused")
    sent_before_drop = max(offset for _, offset in traffic.patches)
    assert 0 < sent_before_drop < len(content)
    page.wait_for_timeout(1_500)
    network(upload_bytes_per_second=3 * MIB)

    expect(item).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    assert traffic.created == ["mri-knee.pdf"], "the upload was started again from zero"
    after = [offset for when, offset in traffic.patches if when > dropped_at]
    assert after, "nothing was sent after the network came back"
    resumed_from = min(after)
    assert resumed_from >= sent_before_drop > 0, "the upload did not continue from where it stopped"
    bytes_after_drop = len(content) - resumed_from
    assert bytes_after_drop < len(content)
    network()

    response = send(page)
    assert response.status == 303, f"the request was not accepted (HTTP {response.status})"
    page.wait_for_url(STATUS_PATH)
    token = page.url.rstrip("/").rsplit("/", 1)[-1]
    api = page.request.get(f"/api/v1/requests/{token}")
    assert api.ok
    (stored,) = api.json()["attachments"]
    assert stored["filename"] == "mri-knee.pdf"
    assert stored["size"] == len(content)
    assert stored["sha256"] == hashlib.sha256(content).hexdigest()
    browser_log.assert_clean()


@pytest.mark.browser
def test_an_11th_file_and_an_11_mib_file_are_refused_before_a_byte_is_sent(
    page: Page, tmp_path: Path, browser_log
) -> None:
    ten = write_files(tmp_path, {f"page-{n:02d}.pdf": files.pdf(f"Page {n}") for n in range(1, MAX_FILES + 1)})
    (eleventh,) = write_files(tmp_path, {"page-11.pdf": files.pdf("Page 11")})
    (too_large,) = write_files(tmp_path, {"whole-body-ct.pdf": big_pdf(11 * MIB)})
    (empty,) = write_files(tmp_path, {"empty.pdf": b""})
    (wrong,) = write_files(tmp_path, {"notes.docx": b"PK\x03\x04 not a scan"})
    traffic = UploadTraffic(page)
    allowance = page.locator("[data-allowance]")
    picker_label = FILES_LABEL

    page.goto("/requests/new")
    picker = page.get_by_label(picker_label, exact=True)

    picker.set_input_files([too_large, empty, wrong])
    expect(rows(page)).to_have_count(3)
    expect(rows(page).nth(0)).to_contain_text("whole-body-ct.pdf (11 MB): the file is 11 MB; the limit is 10 MB per file")
    expect(rows(page).nth(1)).to_contain_text("empty.pdf (0 bytes): the file is empty (0 bytes)")
    expect(rows(page).nth(2)).to_contain_text("notes.docx (15 bytes): this type is not accepted; use PDF, JPEG")
    expect(page.locator("[data-picked] li.problem")).to_have_count(3)
    expect(allowance).to_have_text("10 of 10 files left")

    picker.set_input_files(ten)
    expect_done(page, [p.name for p in ten])
    expect(allowance).to_have_text("0 of 10 files left")

    picker.set_input_files(eleventh)
    refused = rows(page).filter(has_text="page-11.pdf")
    expect(refused).to_contain_text("page-11.pdf")
    expect(refused).to_contain_text("over the limit of 10 files")
    expect(refused).to_have_class(re.compile(r"\bproblem\b"))
    expect(allowance).to_have_text("Too many files: 1 picked, only 0 can be added")
    expect(page.locator("[data-announce]")).to_have_text("page-11.pdf: over the limit of 10 files")

    # A refused file can be dismissed; it never counted.
    page.get_by_role("button", name="Remove whole-body-ct.pdf").click()
    expect(rows(page).filter(has_text="whole-body-ct.pdf")).to_have_count(0)
    expect(allowance).to_have_text("0 of 10 files left")

    page.wait_for_timeout(300)
    # (A creation the server answered with 5xx is retried, so a name may appear twice.)
    assert set(traffic.created) == {p.name for p in ten}, "a refused file was sent"
    assert traffic.other_posts == []
    browser_log.assert_clean()


@pytest.mark.browser
def test_a_server_side_error_keeps_typed_values_and_uploaded_files(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    names = ["lab-result.pdf", "knee-photo.jpg"]
    paths = write_files(tmp_path, dict(zip(names, [files.pdf(), files.jpeg()], strict=True)))
    values = valid_request(language="en", description="too short")

    page.goto("/requests/new")
    fill_request(page, values)
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(paths)
    expect_done(page, names)

    response = send(page)
    assert response.status == 422
    expect(page.locator(".error-summary")).to_be_visible()
    expect_values_kept(page, values)
    expect(rows(page)).to_have_count(2)
    expect_done(page, names)
    expect(page.locator("input[type=hidden][name=upload_ids]")).to_have_count(2)
    expect(page.locator("[data-allowance]")).to_have_text("8 of 10 files left")
    screenshot(page, "kept")

    page.get_by_label("Describe your situation", exact=True).fill(valid_request()["description"])
    response = send(page)
    assert response.status == 303, f"the request was not accepted (HTTP {response.status})"
    page.wait_for_url(STATUS_PATH)
    expect(page.locator(".files-table tbody tr")).to_have_count(2)
    for name in names:
        expect(page.locator(".files-table").get_by_role("link", name=name, exact=True)).to_be_visible()
    browser_log.assert_clean()


@pytest.mark.browser
def test_a_failed_file_blocks_sending_until_removed_and_the_form_fits_360px(
    make_page, tmp_path: Path, screenshot, browser_log
) -> None:
    long_name = "MRT_knee_left_side_" + "x" * 60 + ".pdf"
    picked = write_files(tmp_path, {"scan.pdf": files.elf_executable(), long_name: files.pdf(), "photo.jpg": files.jpeg()})

    desktop = make_page()
    desktop.goto("/requests/new")
    fill_request(desktop, valid_request(language="en"))
    desktop.get_by_label(FILES_LABEL, exact=True).set_input_files(picked)
    failed = row(desktop, "scan.pdf")
    # The browser cannot tell a disguised file; the server reads its bytes after the first chunk.
    expect(failed).to_have_attribute("data-state", "failed", timeout=UPLOAD_TIMEOUT_MS)
    expect(failed.locator(".upload-state")).to_have_text(
        "Failed: this type is not accepted; use PDF, JPEG, PNG, HEIC, WebP, TIFF, DICOM or ZIP."
    )
    expect(failed.get_by_role("button", name="Retry scan.pdf")).to_be_visible()
    expect_done(desktop, [long_name, "photo.jpg"])
    screenshot(desktop, "form-desktop")

    posts: list[str] = []
    desktop.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    desktop.get_by_role("button", name="Send my request").click()
    note = desktop.locator(".upload-note")
    expect(note).to_have_text("A file could not be uploaded: retry it or remove it, then send your request.")
    expect(note).to_be_focused()
    screenshot(desktop, "failed-file")
    assert posts == [], "a form with a failed file was sent"

    mobile = make_page(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    mobile.goto("/requests/new")
    fill_request(mobile, valid_request(language="en"))
    mobile.get_by_label(FILES_LABEL, exact=True).set_input_files(picked)
    expect(row(mobile, "scan.pdf")).to_have_attribute("data-state", "failed", timeout=UPLOAD_TIMEOUT_MS)
    expect_done(mobile, [long_name, "photo.jpg"])
    for button in mobile.locator(".upload-button:visible").all():
        assert button.bounding_box()["height"] >= 44
    no_sideways_scroll(mobile)
    screenshot(mobile, "form-360px")

    desktop.get_by_role("button", name="Remove scan.pdf").click()
    expect(note).to_be_hidden()
    response = send(desktop)
    assert response.status == 303
    desktop.wait_for_url(STATUS_PATH)
    expect(desktop.locator(".files-table tbody tr")).to_have_count(2)
    browser_log.assert_clean()


@pytest.mark.browser
def test_sending_waits_for_uploads_in_flight(page: Page, tmp_path: Path, browser_log) -> None:
    (path,) = write_files(tmp_path, {"scan.pdf": big_pdf(3 * MIB)})
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    page.goto("/requests/new")
    fill_request(page, valid_request(language="en"))
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1 * MIB,
    })
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(path)
    expect(row(page, "scan.pdf")).to_have_attribute("data-state", "uploading")

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/requests/new"), timeout=UPLOAD_TIMEOUT_MS
    ) as posted:
        page.get_by_role("button", name="Send my request").click()  # mid-upload
        expect(page.locator(".upload-note")).to_have_text(
            "Still uploading: 1. Your request is sent as soon as they finish."
        )
    assert posted.value.status == 303  # sent by itself once the upload was done
    page.wait_for_url(STATUS_PATH)
    expect(page.locator(".files-table").get_by_role("link", name="scan.pdf", exact=True)).to_be_visible()
    browser_log.assert_clean()


@pytest.mark.browser
def test_without_javascript_the_plain_form_still_sends_files(make_page, tmp_path: Path, browser_log) -> None:
    page = make_page(java_script_enabled=False)
    names = ["lab-result.pdf", "IMG_0001.HEIC"]
    paths = write_files(tmp_path, dict(zip(names, [files.pdf(), files.heic()], strict=True)))
    page.goto("/requests/new")
    fill_request(page, valid_request(language="en"))
    page.get_by_label(FILES_LABEL, exact=True).set_input_files(paths)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my request").click()
    assert posted.value.status == 303
    page.wait_for_url(STATUS_PATH)
    expect(page.locator(".files-table tbody tr")).to_have_count(2)
    browser_log.assert_clean()
