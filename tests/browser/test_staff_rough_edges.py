"""Rough edges of the staff console and the clinic portal in a real browser: the queue
fits a 1280 px screen with every date on one line, password inputs look like the other
inputs on every sign-in and reset page, and errors keep the console's layout.
Screenshots are saved under test-artifacts/."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import remove_case
from tests.fixtures.staff import PASSWORD

DESKTOP = {"width": 1280, "height": 800}
# What makes an input look like the others: its box, its border, its type.
LOOK = ("border-top-width", "border-top-style", "border-top-color", "border-radius", "padding-left",
        "padding-top", "font-size", "font-family", "background-color", "width")


def _make_user(app: Flask, role: str, *, clinic: bool = False) -> str:
    from sqlalchemy import select

    from service.accounts import users
    from service.extensions import db
    from service.models import Clinic

    email = f"{role}-{uuid.uuid4().hex[:8]}@medtour.example"
    with app.app_context():
        slug = db.session.scalar(select(Clinic.slug).order_by(Clinic.slug)) if clinic else None
        users.create_user(email, role, PASSWORD, actor="browser test", clinic_slug=slug)
        db.session.commit()
        db.session.remove()
    return email


def _seed_cases(app: Flask, count: int, assignee: str) -> list[int]:
    """Cases with long names, addresses and treatments, as a busy queue has them."""
    from sqlalchemy import select

    from service.extensions import db
    from service.models import User
    from tests.fixtures.cases import make_case

    with app.app_context():
        coordinator = db.session.scalar(select(User).where(User.email == assignee))
        made = [
            make_case(full_name=f"Aleksandra Konstantinovna Vasilyeva-Rozhdestvenskaya {n}",
                      email=f"aleksandra.konstantinovna.vasilyeva.{n}.{uuid.uuid4().hex[:6]}@example.org",
                      treatment_slug="osseointegrated-prosthesis-transfemoral", assignee=coordinator).id
            for n in range(count)
        ]
        db.session.commit()
        db.session.remove()
    return made


def _sign_in(page: Page, email: str, door: str = "/staff/login") -> None:
    page.goto(door)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def _look(page: Page, selector: str) -> dict[str, str]:
    return page.locator(selector).first.evaluate(
        "(el, names) => Object.fromEntries(names.map(n => [n, getComputedStyle(el).getPropertyValue(n)]))",
        list(LOOK),
    )


@pytest.mark.browser
def test_the_queue_fits_1280_pixels_with_dates_on_one_line(make_page, live_app: Flask, screenshot) -> None:
    from service.accounts.roles import COORDINATOR

    email = _make_user(live_app, COORDINATOR)
    seeded = _seed_cases(live_app, 3, assignee=email)
    try:
        _check_the_queue_at_1280(make_page, email, screenshot)
    finally:
        for case_id in seeded:
            remove_case(live_app, case_id, (email,) if case_id == seeded[-1] else ())


def _check_the_queue_at_1280(make_page, email: str, screenshot) -> None:
    page = make_page(viewport=DESKTOP)
    _sign_in(page, email)
    page.goto("/staff/cases")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cases")
    screenshot(page, "queue-1280")
    overflow = page.evaluate("""() => ({
        page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        table: (r => r.scrollWidth - r.clientWidth)(document.querySelector('.table-scroll')),
    })""")
    assert overflow == {"page": 0, "table": 0}, f"the queue scrolls sideways at 1280 px: {overflow}"
    # Each received date and its time (the line below it, in the viewer's zone) on one line.
    cells = page.locator(".queue-table td.when").count()
    parts = page.locator(".queue-table td.when .day, .queue-table td.when .clock")
    assert cells >= 3 and parts.count() == 2 * cells
    for index in range(parts.count()):
        lines = parts.nth(index).evaluate(
            "part => { const r = document.createRange(); r.selectNodeContents(part);"
            " return new Set([...r.getClientRects()].map(c => Math.round(c.top))).size; }"
        )
        assert lines == 1, f"{parts.nth(index).inner_text()!r} wraps over {lines} lines"


@pytest.mark.browser
@pytest.mark.parametrize("door", ["/staff/login", "/clinic/login"])
def test_password_inputs_look_like_the_other_inputs(make_page, door: str, screenshot) -> None:
    page = make_page(viewport=DESKTOP)
    page.goto(door)
    email, password = _look(page, "input[type=email]"), _look(page, "input[type=password]")
    screenshot(page, "sign-in")
    assert password == email


@pytest.mark.browser
def test_the_reset_page_styles_its_password_inputs_and_keeps_the_clinic_layout(
    make_page, live_app: Flask, screenshot
) -> None:
    from sqlalchemy import select

    from service.accounts import password_reset
    from service.accounts.roles import CLINIC
    from service.extensions import db
    from service.models import User

    email = _make_user(live_app, CLINIC, clinic=True)
    with live_app.test_request_context():
        user = db.session.scalar(select(User).where(User.email == email))
        link = password_reset.link_url(user, password_reset.issue(user))
        db.session.commit()
        db.session.remove()
    page = make_page(viewport=DESKTOP)
    page.goto(urlsplit(link).path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set a new password")
    expect(page.locator("body.clinic")).to_have_count(1)
    screenshot(page, "reset")
    first, again = _look(page, "#password"), _look(page, "#confirm")
    assert first == again
    page.goto("/clinic/login")
    assert first == _look(page, "input[type=email]")


@pytest.mark.browser
def test_a_forbidden_page_keeps_the_staff_console_around_it(make_page, live_app: Flask, screenshot) -> None:
    from service.accounts.roles import COORDINATOR

    page = make_page(viewport=DESKTOP)
    _sign_in(page, _make_user(live_app, COORDINATOR))
    response = page.goto("/staff/users")
    assert response.status == 403
    expect(page.get_by_role("navigation", name="Staff")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    screenshot(page, "forbidden")


@pytest.mark.browser
def test_the_reset_page_shows_a_new_key_as_a_qr_code_the_policy_lets_through(
    make_page, live_app: Flask, screenshot, browser_log
) -> None:
    from sqlalchemy import select

    from service.accounts import password_reset, totp
    from service.accounts.roles import COORDINATOR
    from service.extensions import db
    from service.models import User

    email = _make_user(live_app, COORDINATOR)
    with live_app.test_request_context():
        user = db.session.scalar(select(User).where(User.email == email))
        user.totp_secret = totp.new_secret()
        link = password_reset.link_url(user, password_reset.issue(user))
        db.session.commit()
        db.session.remove()
    page = make_page(viewport=DESKTOP)
    page.goto(urlsplit(link).path)
    expect(page.locator("body.staff")).to_have_count(1)
    qr = page.get_by_role("img", name=f"QR code of the new key for {email}")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "reset-with-key")
    browser_log.assert_clean()


@pytest.mark.browser
def test_an_admin_sends_a_reset_link_from_the_users_page(make_page, live_app: Flask, screenshot) -> None:
    from service.accounts.roles import ADMIN, COORDINATOR

    target = _make_user(live_app, COORDINATOR)
    page = make_page(viewport=DESKTOP)
    _sign_in(page, _make_user(live_app, ADMIN))
    page.goto("/staff/users")
    with page.expect_navigation():
        page.get_by_role("button", name=f"E-mail {target} a link to reset their password").click()
    expect(page.get_by_text(f"A reset link is on its way to {target}")).to_be_visible()
    screenshot(page, "users")


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 360])
def test_the_reset_and_error_pages_pass_axe_and_fit(make_page, live_app: Flask, axe, width: int) -> None:
    from sqlalchemy import select

    from service.accounts import password_reset, totp
    from service.accounts.roles import COORDINATOR
    from service.extensions import db
    from service.models import User

    email = _make_user(live_app, COORDINATOR)
    with live_app.test_request_context():
        user = db.session.scalar(select(User).where(User.email == email))
        user.totp_secret = totp.new_secret()
        link = password_reset.link_url(user, password_reset.issue(user))
        db.session.commit()
        db.session.remove()
    page = make_page(viewport={"width": width, "height": 740})
    for path, where in ((urlsplit(link).path, "the reset page"), ("/staff/reset/not-a-link", "a refused reset link")):
        page.goto(path)
        axe.assert_clean(page, f"{where} at {width} px")
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    _sign_in(page, email)
    page.goto("/staff/users")
    axe.assert_clean(page, f"the staff console's 403 at {width} px")
    page.goto("/clinic/referrals/999999")
    axe.assert_clean(page, f"the clinic portal's error page at {width} px")
