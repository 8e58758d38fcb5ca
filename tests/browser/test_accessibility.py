"""WCAG 2.1 AA on the request form and the status page (issue 6), in a real browser:
axe-core finds no serious or critical violation in any state a patient sees (empty,
errors, files uploading, uploaded and failed; the status page with quotes, a question
and documents), in English and Russian, at 1024 px and 360 px; keyboard-only use
(Tab order, the error summary's links, the file picker and the upload buttons); a
visible focus ring; no sideways scrolling at 360 px; nothing loaded from another
origin; and a Content-Security-Policy that forbids inline script, in force.

axe-core is vendored from the npm registry by `make axe` (see conftest.py `axe`); it is
injected through the DevTools protocol, so the page's CSP is never relaxed."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import TIMEOUT_MS, remove_case
from tests.browser.test_request_form import write_files
from tests.fixtures import files
from tests.fixtures.services import free_port

WIDTHS = {"1024px": {"width": 1024, "height": 900}, "360px": {"width": 360, "height": 740}}
LANGUAGES = ("en", "ru")
UPLOAD_TIMEOUT_MS = 30_000
MIB = 1024 * 1024
STATUS_PATH = re.compile(r"/s/[^/?#]+$")
# The request form's controls a keyboard user passes through, in DOM order (the
# honeypot is out of the tab order; hidden inputs are not controls).
FORM_CONTROLS = (
    "form.request-form :is(input, select, textarea, button)"
    ":not([type=hidden]):not([tabindex='-1']):not([disabled])"
)


# ---------------------------------------------------------------- helpers


class Origins:
    """Every request a page makes; all must go to the live server."""

    def __init__(self, page: Page, live_server: str) -> None:
        self.expected = _origin(live_server)
        self.urls: list[str] = []
        page.on("request", lambda r: self.urls.append(r.url))

    def assert_same_origin(self) -> None:
        assert self.urls, "the page made no request at all"
        foreign = [u for u in self.urls if _origin(u) != self.expected and not u.startswith(("data:", "blob:"))]
        assert foreign == [], f"requests to another origin than {self.expected}: {foreign}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def no_sideways_scroll(page: Page, where: str) -> None:
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if scroll > inner:
        wide = page.evaluate(
            """inner => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > inner + 0.5)
                 .slice(0, 8)
                 .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')
                           + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')""",
            inner,
        )
        pytest.fail(f"{where} scrolls sideways ({scroll}px in a {inner}px window); too wide: {wide}", pytrace=False)


def csp_directives(header: str | None) -> dict[str, list[str]]:
    assert header, "the page has no Content-Security-Policy header"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
    return directives


def assert_csp_forbids_inline_script(header: str | None, where: str) -> None:
    directives = csp_directives(header)
    assert directives.get("default-src") == ["'self'"], f"{where}: default-src is not 'self': {header}"
    script = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script, f"{where}: script-src allows inline script: {header}"
    assert "'unsafe-eval'" not in script, f"{where}: script-src allows eval: {header}"
    assert not any(s.startswith(("http:", "https:", "*")) or s in ("http:", "https:", "data:") for s in script), (
        f"{where}: script-src allows another origin: {header}"
    )
    for name, sources in directives.items():
        if name.endswith("-src"):
            assert not any(s.startswith(("http", "*")) for s in sources), f"{where}: {name} allows another origin"


def open_form(page: Page, language: str) -> object:
    response = page.goto("/requests/new" + ("?lang=ru" if language == "ru" else ""))
    expect(page.locator("html")).to_have_attribute("lang", language)
    return response


def fill_form(
    page: Page, language: str = "en", *, full_name: str = "Amina Petrova", email: str = "amina@example.org"
) -> None:
    """By id, whatever the page's language (the posted language keeps the page's own)."""
    page.locator("#full_name").fill(full_name)
    page.locator("#email").fill(email)
    page.locator("#country").select_option("KZ")
    page.locator("#language").select_option(language)
    page.locator("#treatment").select_option(TREATMENT)
    page.locator("#description").fill("Above-knee amputation in 2019; the socket prosthesis causes sores.")
    page.locator("#consent").check()


def upload_row(page: Page, name: str):
    return page.locator("[data-picked] li").filter(has=page.locator(".upload-name", has_text=name))


def send(page: Page):
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.rstrip("/").split("?")[0].endswith("/requests/new"),
        timeout=UPLOAD_TIMEOUT_MS,
    ) as posted:
        page.locator("form.request-form button[type=submit]").click()
    return posted.value


def focus_style(page: Page) -> dict:
    """The focused element's ring: outline and box-shadow widths, and whether either
    contrasts 3:1 with the background behind the element (WCAG 1.4.11)."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
            const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return {rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1}; };
          const lum = rgb => { const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
          let back = [255, 255, 255];
          for (let n = el.parentElement; n; n = n.parentElement) {
            const c = parse(getComputedStyle(n).backgroundColor);
            if (c && c.a > 0.5) { back = c.rgb; break; }
          }
          const style = getComputedStyle(el);
          const outlineWidth = style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth);
          const outline = parse(style.outlineColor);
          const rings = [];
          if (outlineWidth > 0 && outline) rings.push({width: outlineWidth, contrast: ratio(outline.rgb, back)});
          if (style.boxShadow && style.boxShadow !== 'none') {
            for (const shadow of style.boxShadow.split(/,(?![^(]*\\))/)) {
              const color = parse(shadow);
              const lengths = shadow.replace(/rgba?\\([^)]*\\)/, '').trim().split(/\\s+/).map(parseFloat);
              const spread = lengths.length >= 4 ? lengths[3] : 0;
              if (color && spread > 0) rings.push({width: spread, contrast: ratio(color.rgb, back)});
            }
          }
          return {id: el.id, tag: el.tagName.toLowerCase(), text: (el.textContent || '').trim().slice(0, 40),
                  outlineWidth, rings};
        }"""
    )


def describe_focused(page: Page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement; return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')"
        " + (e.getAttribute('href') ? '[' + e.getAttribute('href') + ']' : '') }"
    )


# ---------------------------------------------------------------- seeded status pages


TREATMENT = "osseointegrated-prosthesis-transfemoral"
CLINICS = ("spree-limb-clinic-berlin", "baltic-limb-vilnius")


@dataclass(frozen=True)
class SeededCase:
    token: str
    case_id: int
    language: str
    user_emails: tuple[str, ...]


def _seed_case(app: Flask, language: str) -> SeededCase:
    """A case waiting on the patient: two clinics' quotes (one with a revision waiting),
    an open question and an answered one, two files and two documents."""
    from service.accounts.roles import CLINIC
    from service.cases import quotes
    from service.cases.status import CaseStatus
    from service.cases.tokens import new_token
    from service.extensions import db
    from service.models import (
        Attachment,
        CaseEvent,
        Clinic,
        Document,
        PatientQuestion,
        Referral,
        Treatment,
    )
    from tests.fixtures.staff import make_user
    from tests.fixtures.cases import make_case

    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    today = now.date()
    with app.app_context():
        treatment = db.session.scalars(select(Treatment).where(Treatment.slug == TREATMENT)).one()
        clinics = {c.slug: c for c in db.session.scalars(select(Clinic).where(Clinic.slug.in_(CLINICS)))}
        token, digest = new_token()
        case = make_case(
            now=now, age=timedelta(days=3), status=CaseStatus.AWAITING_PATIENT, token_hash=digest,
            treatment=treatment, language=language, full_name=f"Amina Petrova {tag}",
            email=f"amina.{tag}@example.org", date_of_birth=date(today.year - 40, 5, 1),
        )
        users = []
        for number, slug in enumerate(CLINICS):
            referral = Referral(case=case, clinic=clinics[slug], score=1.0, reasons=[], created_at=now - timedelta(days=2))
            db.session.add(referral)
            db.session.flush()
            user = make_user(CLINIC, clinic_id=clinics[slug].id, email=f"a11y-{tag}-{number}@{slug}.example")
            users.append(user.email)
            terms = quotes.Terms(
                price=str(41500 + 12500 * number), currency="EUR", includes=["treatment", "stay"],
                earliest_date=today + timedelta(days=21), stay_days=10 + number,
                valid_until=today + timedelta(days=45), notes="Bring your latest X-rays.\nNo food from midnight.",
            )
            quotes.accept(referral, terms, user)
            if number == 1:
                quotes.revise(referral, quotes.Terms(
                    price="52000", currency="EUR", includes=["treatment", "stay", "transfers"],
                    earliest_date=today + timedelta(days=28), stay_days=12,
                    valid_until=today + timedelta(days=60), notes=None,
                ), user)
        db.session.add_all([
            PatientQuestion(case=case, question="Which knee was operated on in 2019?", resume_status="routed",
                            asked_at=now - timedelta(days=2), answer="The left one.",
                            answered_at=now - timedelta(days=1)),
            PatientQuestion(case=case, question="Could you send an X-ray of the stump?\nA phone photo is fine.",
                            resume_status="routed", asked_at=now - timedelta(hours=5)),
        ])
        for name, size in (("lab-result.pdf", 48_213), ("MRT_knee_left_side_" + "x" * 50 + ".pdf", 2_400_000)):
            db.session.add(Attachment(
                case=case, filename=name, storage_key=f"a11y/{tag}/{uuid.uuid4().hex}", content_type="application/pdf",
                size=size, sha256="0" * 64, created_at=now - timedelta(days=3),
            ))
        for slot in ("confirmation", "quote_comparison"):
            db.session.add(Document(
                case=case, kind=slot, slot=slot, language=language, storage_key=f"a11y/{tag}/{slot}.pdf",
                size=30_000, sha256="0" * 64, pages=2, created_at=now - timedelta(days=1), updated_at=now,
            ))
        db.session.add(CaseEvent(case=case, actor="patient", kind="case_submitted", details={},
                                 created_at=now - timedelta(days=3)))
        db.session.commit()
        seeded = SeededCase(token=token, case_id=case.id, language=language, user_emails=tuple(users))
        db.session.remove()
    return seeded



@pytest.fixture
def seeded_cases(live_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, SeededCase]]:
    # No worker runs: the outbox rows the quotes write stay pending (Redis is closed).
    monkeypatch.setitem(live_app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    made: dict[str, SeededCase] = {}
    try:
        for language in LANGUAGES:
            made[language] = _seed_case(live_app, language)
        yield made
    finally:
        for seeded in made.values():
            remove_case(live_app, seeded.case_id, seeded.user_emails)


# ---------------------------------------------------------------- axe, width, origins


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_request_form_in_every_state_passes_axe_fits_and_stays_on_its_origin(
    make_page, live_server: str, axe, tmp_path: Path, screenshot, browser_log, language: str, width: str
) -> None:
    page = make_page(viewport=WIDTHS[width], device_scale_factor=1)
    origins = Origins(page, live_server)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")

    def check(state: str) -> None:
        no_sideways_scroll(page, f"the request form ({state}, {width}, {language})")
        screenshot(page, state)
        axe.assert_clean(page, f"the request form ({state}, {width}, {language})")

    # Empty.
    response = open_form(page, language)
    assert_csp_forbids_inline_script(response.headers.get("content-security-policy"), "/requests/new")
    check("1-empty")

    # After a failed submit: the error summary.
    fill_form(page, language, full_name="", email="amina-at-example.org")
    response = send(page)
    assert response.status == 422
    expect(page.locator(".error-summary")).to_be_visible()
    assert_csp_forbids_inline_script(response.headers.get("content-security-policy"), "the refused form")
    check("2-errors")

    # Files picked: one uploading (throttled), one uploaded, one the server refuses.
    head = files.pdf("Scan")
    picked = write_files(tmp_path, {
        "lab-result.pdf": files.pdf(), "scan.pdf": files.elf_executable(),
        "mri-knee.pdf": head + b"\0" * (2 * MIB - len(head)),
    })
    page.locator("#files").set_input_files(picked[:2])
    expect(upload_row(page, "lab-result.pdf")).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    expect(upload_row(page, "scan.pdf")).to_have_attribute("data-state", "failed", timeout=UPLOAD_TIMEOUT_MS)
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 256 * 1024,
    })
    page.locator("#files").set_input_files(picked[2])
    expect(upload_row(page, "mri-knee.pdf")).to_have_attribute("data-state", "uploading", timeout=UPLOAD_TIMEOUT_MS)
    check("3-uploading")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
    })
    expect(upload_row(page, "mri-knee.pdf")).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    check("4-uploaded-and-failed")

    # Sending with a failed file: the note asking to retry or remove it.
    page.locator("form.request-form button[type=submit]").click()
    expect(page.locator(".upload-note")).to_be_visible()
    check("5-failed-file-note")

    origins.assert_same_origin()
    browser_log.assert_clean()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_status_pages_pass_axe_fit_and_stay_on_their_origin(
    make_page, live_server: str, axe, seeded_cases, screenshot, browser_log, width: str
) -> None:
    for language, seeded in seeded_cases.items():
        page = make_page(viewport=WIDTHS[width], device_scale_factor=1)
        origins = Origins(page, live_server)
        response = page.goto(f"/s/{seeded.token}")
        assert response.status == 200
        assert_csp_forbids_inline_script(response.headers.get("content-security-policy"), "the status page")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator(".quote-grid > .quote-card")).to_have_count(2)
        expect(page.locator(".question-card")).to_be_visible()
        expect(page.locator(".documents li")).to_have_count(2)
        expect(page.locator(".revision")).to_have_count(1)
        where = f"the status page ({width}, {language})"
        no_sideways_scroll(page, where)
        screenshot(page, f"status-{language}")
        axe.assert_clean(page, where)

        # A refused answer (empty): the question's error summary.
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.locator(".question-card button[type=submit]").click()
        assert posted.value.status == 422
        expect(page.locator(".question-card .error-summary")).to_be_visible()
        where = f"the status page with a refused answer ({width}, {language})"
        no_sideways_scroll(page, where)
        screenshot(page, f"status-{language}-errors")
        axe.assert_clean(page, where)
        origins.assert_same_origin()
    browser_log.assert_clean()


# ---------------------------------------------------------------- keyboard and focus


def _tab_through(page: Page, stop: str, limit: int = 80) -> list[str]:
    """Press Tab from the top of the page until `stop` (a selector) has focus; return
    what had focus at each step."""
    page.locator("body").focus()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(describe_focused(page))
        if page.evaluate("s => document.activeElement.matches(s)", stop):
            return seen
    pytest.fail(f"Tab never reached {stop}; focus went through {seen}")


@pytest.mark.browser
@pytest.mark.parametrize("language", LANGUAGES)
def test_tab_reaches_every_form_control_in_order_with_a_visible_focus_ring(
    page: Page, browser_log, language: str
) -> None:
    open_form(page, language)
    expected = page.eval_on_selector_all(
        FORM_CONTROLS, "els => els.map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''))"
    )
    assert len(expected) >= 15, f"the form has fewer controls than expected: {expected}"
    seen: list[str] = []
    weak: list[str] = []
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(80):
        page.keyboard.press("Tab")
        name = describe_focused(page)
        seen.append(name)
        style = focus_style(page)
        if not any(r["width"] >= 2 and r["contrast"] >= 3 for r in style["rings"]):
            weak.append(f"{name}: {style}")
        if page.evaluate("() => document.activeElement.matches('form.request-form button[type=submit]')"):
            break
    # A date input is one control with a Tab stop per part (day, month, year).
    reached = [s for n, s in enumerate(seen) if s.split("[")[0] in expected and (n == 0 or seen[n - 1] != s)]
    assert reached == expected, f"Tab order {reached} is not the form's DOM order {expected}"
    assert seen[0].startswith("a") and "#main" in seen[0], f"the first Tab stop is not the skip link: {seen[0]}"
    assert weak == [], "focused controls without a 2px ring of 3:1 contrast:\n" + "\n".join(weak)
    browser_log.assert_clean()


@pytest.mark.browser
def test_skip_link_and_header_links_show_focus(page: Page, browser_log) -> None:
    def ring_ok() -> bool:
        return any(r["width"] >= 2 and r["contrast"] >= 3 for r in focus_style(page)["rings"])

    open_form(page, "en")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0 and box["width"] > 10, "the focused skip link is off screen"
    assert ring_ok(), focus_style(page)
    # The header's links, on its dark blue: the brand, the navigation, the language switch.
    header_links = page.locator(".site-header a").count()
    assert header_links >= 3
    for _ in range(header_links):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('.site-header')"), describe_focused(page)
        assert ring_ok(), f"{describe_focused(page)}: {focus_style(page)}"

    page.reload(wait_until="load")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    # The fragment lands a moment after the key (seen late on a loaded CI machine).
    page.wait_for_url("**#main", timeout=TIMEOUT_MS)
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('main')"), (
        f"after the skip link, Tab went to {describe_focused(page)}"
    )
    browser_log.assert_clean()


@pytest.mark.browser
def test_error_summary_links_move_focus_to_their_fields(page: Page, screenshot, browser_log) -> None:
    open_form(page, "en")
    fill_form(page, full_name="", email="amina-at-example.org")
    page.locator("#description").fill("too short")
    assert send(page).status == 422
    links = page.locator(".error-summary a")
    expect(links).to_have_count(3)
    hrefs = [link.get_attribute("href") for link in links.all()]
    assert hrefs == ["#full_name", "#email", "#description"]

    seen = _tab_through(page, ".error-summary a[href='#full_name']")
    assert all("form" not in s for s in seen), "the error summary comes after form controls"
    for href in hrefs:
        page.locator(f".error-summary a[href='{href}']").focus()
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == href[1:], f"{href} did not move focus"
        style = focus_style(page)
        assert any(r["width"] >= 2 and r["contrast"] >= 3 for r in style["rings"]), style
    screenshot(page, "focused-field")
    browser_log.assert_clean()


@pytest.mark.browser
def test_file_picker_and_upload_buttons_work_from_the_keyboard(
    page: Page, tmp_path: Path, screenshot, browser_log
) -> None:
    picked = write_files(tmp_path, {"lab-result.pdf": files.pdf(), "scan.pdf": files.elf_executable()})
    open_form(page, "en")
    # Every file dialog that opens (kept listening, so none opens unseen, e.g. from the
    # Enter that removes the last file and moves focus to the picker).
    choosers: list[object] = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    seen = _tab_through(page, "#files")
    assert seen[-1] == "input#files"

    # The picker opens with Space.
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(" ")  # Space
    chooser.value.set_files(picked)
    expect(upload_row(page, "lab-result.pdf")).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    failed = upload_row(page, "scan.pdf")
    expect(failed).to_have_attribute("data-state", "failed", timeout=UPLOAD_TIMEOUT_MS)

    # The row buttons come right after the picker in the tab order.
    page.locator("#files").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('[data-picked]')"), (
        f"Tab from the picker went to {describe_focused(page)}, not to the first file's buttons"
    )

    retry = failed.get_by_role("button", name="Retry scan.pdf")
    retry.focus()
    with page.expect_request(lambda r: "/uploads" in r.url and r.method in ("POST", "PATCH")):
        page.keyboard.press(" ")  # Space
    expect(failed).to_have_attribute("data-state", "failed", timeout=UPLOAD_TIMEOUT_MS)
    expect(failed.get_by_role("button", name="Retry scan.pdf")).to_be_visible()
    screenshot(page, "retried")

    failed.get_by_role("button", name="Remove scan.pdf").focus()
    page.keyboard.press("Enter")
    expect(upload_row(page, "scan.pdf")).to_have_count(0)
    # Focus is not lost to the page's top when the row it was in goes away.
    assert page.evaluate("() => document.activeElement !== document.body"), "focus fell to <body> after Remove"

    done = upload_row(page, "lab-result.pdf")
    with page.expect_response(lambda r: r.request.method == "DELETE"):
        done.get_by_role("button", name="Remove lab-result.pdf").focus()
        page.keyboard.press("Enter")
    expect(upload_row(page, "lab-result.pdf")).to_have_count(0)

    # (Enter in a form's field is the browser's implicit submission; Space is the
    # file input's own key.)
    expect(page.locator("#files")).to_be_focused()  # the last row gone, focus returns to the picker
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(" ")  # Space
    chooser.value.set_files(picked[0])
    expect(upload_row(page, "lab-result.pdf")).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    assert len(choosers) == 2, f"{len(choosers)} file dialogs opened; only the two Space presses should open one"
    browser_log.assert_clean()


# ---------------------------------------------------------------- screen readers


@pytest.mark.browser
@pytest.mark.parametrize("language", LANGUAGES)
def test_upload_progress_is_announced_in_a_live_region(
    page: Page, tmp_path: Path, browser_log, language: str
) -> None:
    (path,) = write_files(tmp_path, {"lab-result.pdf": files.pdf()})
    open_form(page, language)
    announcer = page.locator("[data-file-picker] [data-announce]")
    expect(announcer).to_have_count(1)
    expect(announcer).to_have_attribute("aria-live", "polite")
    assert announcer.evaluate("e => e.textContent") == ""
    allowance = page.locator("[data-file-picker] [data-allowance]")
    expect(allowance).to_have_attribute("aria-live", "polite")

    page.locator("#files").set_input_files(path)
    expect(upload_row(page, "lab-result.pdf")).to_have_attribute("data-state", "done", timeout=UPLOAD_TIMEOUT_MS)
    done_text = upload_row(page, "lab-result.pdf").locator(".upload-state").inner_text()
    expect(announcer).to_have_text(f"lab-result.pdf: {done_text}")
    # Live regions must be in the page from the start, not added with their message.
    assert announcer.evaluate("e => !e.closest('[aria-hidden=true]') && getComputedStyle(e).display !== 'none'")
    browser_log.assert_clean()


# ---------------------------------------------------------------- CSP


@pytest.mark.browser
def test_csp_blocks_inline_script_on_the_form_and_the_status_page(
    page: Page, seeded_cases, browser_log
) -> None:
    for path in ("/requests/new", "/requests/new?lang=ru", f"/s/{seeded_cases['en'].token}"):
        response = page.goto(path)
        assert_csp_forbids_inline_script(response.headers.get("content-security-policy"), path)
        before = len(browser_log.csp_errors())
        ran = page.evaluate(
            """() => new Promise(resolve => {
                 window.__inlineRan = false;
                 const script = document.createElement('script');
                 script.textContent = 'window.__inlineRan = true';
                 document.head.appendChild(script);
                 const img = document.createElement('img');
                 img.setAttribute('onerror', 'window.__inlineRan = true');
                 img.src = 'data:,';
                 document.body.appendChild(img);
                 setTimeout(() => resolve(window.__inlineRan), 300);
               })"""
        )
        assert ran is False, f"an inline script ran on {path}"
        page.wait_for_timeout(100)
        assert len(browser_log.csp_errors()) > before, f"no CSP violation reported for the inline script on {path}"
    browser_log.console_errors.clear()
    assert browser_log.page_errors == []


# ---------------------------------------------------------------- the checker itself


@pytest.mark.browser
def test_axe_is_loaded_and_reports_what_it_should(page: Page, axe, browser_log) -> None:
    """The harness can fail: an unlabelled field and grey-on-white text in the real
    page (its CSP in force) are both reported, with their elements."""
    page.goto("/requests/new")
    version = axe.inject(page)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    axe.assert_clean(page, "the empty form")
    page.evaluate(
        """() => {
             const input = document.createElement('input'); input.id = 'unlabelled';
             const faint = document.createElement('p'); faint.id = 'faint'; faint.textContent = 'Barely there';
             faint.style.color = '#c8c8c8';
             document.querySelector('main').append(input, faint);
           }"""
    )
    found = {v["id"]: v for v in axe.violations(page)}
    assert "label" in found and found["label"]["impact"] == "critical", found.keys()
    assert ["#unlabelled"] in [n["target"] for n in found["label"]["nodes"]]
    assert "color-contrast" in found and found["color-contrast"]["impact"] == "serious", found.keys()
    assert ["#faint"] in [n["target"] for n in found["color-contrast"]["nodes"]]
    with pytest.raises(pytest.fail.Exception) as failed:
        axe.assert_clean(page, "a page broken on purpose")
    for expected in ("- label [critical] ", '["#unlabelled"]', "- color-contrast [serious] ", '["#faint"]'):
        assert expected in str(failed.value), str(failed.value)
    browser_log.assert_clean()


# ---------------------------------------------------------------- the catalogue and the trust pages (issue 19)

# Each catalogue page a patient reaches, with a filter, an empty state, prices in
# another currency and the unknown-treatment message among them (the demo catalogue),
# then the privacy notice, the contact page and the imprint.
CATALOGUE_PAGES = (
    "/clinics",
    "/clinics?treatment=knee-replacement&currency=USD",
    "/clinics?treatment=no-such-treatment",
    "/clinics?country=TR&accreditation=NABH",
    "/clinics/bosphorus-ortho-istanbul?currency=GBP",
    "/treatments",
    "/treatments/knee-replacement",
)
TRUST_PAGES = ("/privacy", "/contact", "/imprint")


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_and_trust_pages_pass_axe_fit_and_stay_on_their_origin(
    make_page, live_server: str, axe, screenshot, browser_log, language: str, width: str
) -> None:
    page = make_page(viewport=WIDTHS[width], device_scale_factor=1)
    origins = Origins(page, live_server)
    for number, path in enumerate((*CATALOGUE_PAGES, *TRUST_PAGES)):
        separator = "&" if "?" in path else "?"
        response = page.goto(f"{path}{separator}lang={language}")
        assert response.status == 200, path
        assert_csp_forbids_inline_script(response.headers.get("content-security-policy"), path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("h1")).to_have_count(1)
        # The footer links the three trust pages, in the page's language.
        expect(page.locator(".footer-nav a")).to_have_count(len(TRUST_PAGES))
        where = f"{path} ({width}, {language})"
        no_sideways_scroll(page, where)
        screenshot(page, f"public-{number}")
        axe.assert_clean(page, where)
    origins.assert_same_origin()
    browser_log.assert_clean()
