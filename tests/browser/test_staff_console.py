"""The staff console in a real browser: a coordinator signs in through the form,
filters the queue, opens a case, routes it by hand to two clinics, sees the referrals
and the timeline update, then looks at the dashboard. Screenshots of the case file and
the dashboard are saved under test-artifacts/."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.fixtures.forms import valid_request
from tests.fixtures.staff import PASSWORD

KNEE = ("knee-replacement", "Total knee replacement")
HIP = ("hip-replacement", "Total hip replacement")
# Both offer knee replacement, accept patients and speak Russian; the third clinic
# offering it (Deccan Heart & Joint Hospital) is left unticked.
PICKED = {
    "bosphorus-ortho-istanbul": "Bosphorus Orthopaedic Centre",
    "spree-limb-clinic-berlin": "Spree Limb Reconstruction Clinic",
}
LEFT_OUT = "Deccan Heart & Joint Hospital"


@dataclass(frozen=True)
class Seeded:
    email: str
    tag: str  # in both patients' names: what the coordinator searches for
    knee: str  # reference of the case the coordinator routes
    hip: str  # reference of the same patient's other request, filtered out


def _create_coordinator(app: Flask, email: str) -> None:
    from service.accounts import users
    from service.accounts.roles import COORDINATOR
    from service.extensions import db

    with app.app_context():
        users.create_user(email, COORDINATOR, PASSWORD, actor="browser test")
        db.session.commit()
        db.session.remove()


def _reference(app: Flask, email: str, treatment: str) -> str:
    from service.extensions import db
    from service.models import Case, Treatment

    with app.app_context():
        reference = db.session.scalar(
            select(Case.reference).join(Treatment, Treatment.id == Case.treatment_id)
            .where(Case.email == email, Treatment.slug == treatment)
        )
        db.session.remove()
    assert reference, f"no {treatment} case was recorded for {email}"
    return reference


def _count_cases(app: Flask) -> int:
    from service.extensions import db
    from service.models import Case

    with app.app_context():
        total = db.session.scalar(select(func.count(Case.id)))
        db.session.remove()
    return total


def _send_request(patient: Page, **overrides: str) -> None:
    """What the public form posts, with the CSRF token of the patient's own session."""
    patient.goto("/requests/new")
    token = patient.locator("input[name=csrf_token]").first.input_value()
    response = patient.request.post(
        "/requests/new", multipart={**valid_request(**overrides), "csrf_token": token}, max_redirects=0
    )
    assert response.status == 303, f"the request was not recorded (HTTP {response.status})"


@pytest.fixture
def seeded(live_app: Flask, make_page) -> Seeded:
    """A coordinator account, and one patient's two requests (knee and hip) sent
    through the public form; nothing routes them (no worker runs here)."""
    tag = uuid.uuid4().hex[:8]
    coordinator = f"coordinator-{tag}@medtour.example"
    patient_email = f"olena.{tag}@example.org"
    _create_coordinator(live_app, coordinator)
    patient = make_page()
    for slug, _name in (HIP, KNEE):
        _send_request(patient, full_name=f"Olena Kovalenko {tag}", email=patient_email, treatment=slug)
    return Seeded(
        email=coordinator, tag=tag,
        knee=_reference(live_app, patient_email, KNEE[0]), hip=_reference(live_app, patient_email, HIP[0]),
    )


def queue_row(page: Page, reference: str):
    return page.locator(".queue-table tbody tr").filter(
        has=page.get_by_role("link", name=reference, exact=True)
    )


def apply_filters(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("search", name="Filter cases").get_by_role("button", name="Apply filters").click()


@pytest.mark.browser
def test_coordinator_filters_queue_routes_case_to_two_clinics_and_sees_dashboard(
    page: Page, seeded: Seeded, live_app: Flask, screenshot, browser_log
) -> None:
    # Sign in: the console sends an anonymous visitor to the form, then back.
    page.goto("/staff/cases")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the staff console")
    page.get_by_label("Email address").fill(seeded.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 303, f"the sign-in was refused (HTTP {posted.value.status})"
    expect(page).to_have_url(re.compile(r"/staff/cases$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cases")
    staff_nav = page.get_by_role("navigation", name="Staff")
    expect(staff_nav).to_contain_text(seeded.email)

    # Filter the queue: the patient's name finds both requests, the treatment one.
    filters = page.get_by_role("search", name="Filter cases")
    filters.get_by_label("Search").fill(seeded.tag)
    apply_filters(page)
    expect(page).to_have_url(re.compile(rf"[?&]q={seeded.tag}(&|$)"))
    rows = page.locator(".queue-table tbody tr")
    expect(rows).to_have_count(2)
    expect(queue_row(page, seeded.knee)).to_have_count(1)
    expect(queue_row(page, seeded.hip)).to_have_count(1)
    expect(page.locator(".queue-range")).to_have_text("1–2 of 2 cases")

    filters.get_by_label("Treatment").select_option(label=KNEE[1])
    apply_filters(page)
    expect(page).to_have_url(re.compile(rf"[?&]treatment={KNEE[0]}(&|$)"))
    expect(rows).to_have_count(1)
    knee_row = queue_row(page, seeded.knee)
    expect(knee_row).to_have_count(1)
    expect(knee_row).to_contain_text(KNEE[1])
    expect(knee_row).to_contain_text(f"Olena Kovalenko {seeded.tag}")
    expect(knee_row.locator(".badge")).to_have_text("New")
    expect(queue_row(page, seeded.hip)).to_have_count(0)
    expect(page.locator(".queue-range")).to_have_text("1–1 of 1 case")
    # The filters on screen are the ones applied.
    expect(filters.get_by_label("Search")).to_have_value(seeded.tag)
    expect(filters.get_by_label("Treatment")).to_have_value(KNEE[0])
    screenshot(page, "queue")

    # Open the case.
    knee_row.get_by_role("link", name=seeded.knee, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/staff/cases/{seeded.knee}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(seeded.knee)
    expect(page.locator(".case-meta .badge").first).to_have_text("New")
    referrals = page.locator("#referrals")
    expect(referrals).to_contain_text("Not referred to any clinic yet.")
    timeline = page.locator("#timeline .case-timeline > li")
    expect(timeline.first).to_contain_text("Case file viewed")
    expect(timeline.filter(has_text="Request received")).to_have_count(1)
    expect(timeline.filter(has_text="Sent to clinics")).to_have_count(0)
    events_before = timeline.count()

    # Route by hand to two of the three clinics offering the treatment.
    by_hand = page.get_by_role("group", name="Or pick clinics by hand")
    choices = by_hand.get_by_role("checkbox")
    expect(choices).to_have_count(3)
    for name in PICKED.values():
        by_hand.get_by_role("checkbox", name=re.compile(rf"^{re.escape(name)}\b")).check()
    expect(by_hand.get_by_role("checkbox", name=re.compile(rf"^{re.escape(LEFT_OUT)}"))).not_to_be_checked()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        by_hand.get_by_role("button", name="Route to the ticked clinics").click()
    assert posted.value.status == 303, f"routing was refused (HTTP {posted.value.status})"
    expect(page).to_have_url(re.compile(rf"/staff/cases/{seeded.knee}$"))

    expect(page.locator(".notice-success")).to_have_text("Status: Sent to clinics.")
    expect(page.locator(".case-meta .badge").first).to_have_text("Sent to clinics")
    referral_rows = referrals.locator("tbody tr")
    expect(referral_rows).to_have_count(2)
    for name in PICKED.values():
        row = referral_rows.filter(has_text=name)
        expect(row).to_have_count(1)
        expect(row.locator(".badge")).to_have_text("Pending")
        expect(row).to_contain_text("Hidden")  # contact details stay hidden until accepted
    expect(referrals).not_to_contain_text(LEFT_OUT)

    # The timeline shows the routing (naming both clinics) and the view after it.
    expect(timeline).to_have_count(events_before + 2)
    expect(timeline.nth(0)).to_contain_text("Case file viewed")
    routed = timeline.nth(1)
    expect(routed).to_contain_text("Status: Sent to clinics")
    expect(routed).to_contain_text(seeded.email)
    for name in PICKED.values():
        expect(routed).to_contain_text(name)
    expect(timeline.filter(has_text="Sent to clinics")).to_have_count(1)
    # Referred clinics cannot be ticked again by mistake.
    for name in PICKED.values():
        expect(by_hand.locator("li").filter(has_text=name)).to_contain_text("Already referred")
        expect(by_hand.get_by_role("checkbox", name=re.compile(rf"^{re.escape(name)}\b"))).to_be_disabled()
    screenshot(page, "case-file")

    # The dashboard counts the requests and shows the referrals.
    staff_nav.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/staff/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    received = page.locator(".figure").filter(has=page.locator("dt", has_text=re.compile(r"^Requests received$")))
    expect(received.locator(".figure-value")).to_have_text(str(_count_cases(live_app)))
    expect(page.get_by_role("img", name="Requests received per day, by current status")).to_be_visible()
    clinics = page.locator("section#clinics")
    expect(clinics.get_by_role("heading", level=2)).to_have_text("Clinics: answer time and acceptance rate")
    expect(clinics.locator(".summary")).to_contain_text("received referrals; none has answered yet.")
    clinics.get_by_text("The figures as a table").click()
    for name in PICKED.values():
        row = clinics.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))
        expect(row).to_be_visible()
        expect(row.get_by_role("cell").nth(1)).to_have_text(re.compile(r"^[1-9]\d*$"))  # Referred
    screenshot(page, "dashboard")

    browser_log.assert_clean()
