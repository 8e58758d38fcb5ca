"""A clinic answering and the patient choosing, in a real browser: a clinic user signs
in to the portal, finds the referral, sends a quote (after one refused attempt that
keeps what was typed), then the patient opens the private status link, compares that
quote with a second clinic's side by side, chooses it through the confirmation page
and sees the choice. Screenshots of the clinic's refused and accepted answer and of
the patient's page before and after the choice are saved under test-artifacts/. No worker runs and
Redis is pointed at a closed port: the pages must not depend on relaying the outbox
rows the answers write, which stay pending."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import remove_case
from tests.fixtures.services import free_port
from tests.fixtures.staff import PASSWORD


def _day(value: date) -> str:
    """A date as every page shows it in English (service.i18n.format_day): "3 January 2027"."""
    return f"{value.day} {value:%B %Y}"


TREATMENT = "osseointegrated-prosthesis-transfemoral"
# Clinic A answers in the browser; clinic B's quote is recorded directly. Both offer
# the treatment. B is cheaper, so the patient's page lists it first (cheapest first)
# and the patient chooses the card on the right.
CLINIC_A = ("spree-limb-clinic-berlin", "Spree Limb Reconstruction Clinic")
CLINIC_B = ("baltic-limb-vilnius", "Baltic Prosthetics & Orthopaedics")
PRICE_A, SHOWN_A = "54000", "54,000.00 EUR"
PRICE_B, SHOWN_B = "41500", "41,500.00 EUR"
NOTES_A = "Bring your latest X-rays.\nNo food from midnight before surgery."


def utc_today() -> date:
    """The day the server's rules use (they compare against UTC)."""
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class Seeded:
    token: str
    case_id: int
    reference: str
    patient_name: str
    treatment_name: str
    referral_a: int
    clinic_email: str  # the clinic user of clinic A
    clinic_emails: tuple[str, ...]  # both clinics' users


def _seed(app: Flask) -> Seeded:
    """A routed case with a known status token, referred to clinics A and B; a clinic
    user for A; B has already accepted with a quote."""
    from service.accounts.roles import CLINIC
    from service.cases import quotes
    from service.cases.status import CaseStatus
    from service.cases.tokens import new_token
    from service.extensions import db
    from service.models import Clinic, Referral, Treatment
    from tests.fixtures.staff import make_user
    from tests.fixtures.cases import make_case

    tag = uuid.uuid4().hex[:8]
    now = datetime.now(timezone.utc)
    today = utc_today()
    with app.app_context():
        treatment = db.session.scalars(select(Treatment).where(Treatment.slug == TREATMENT)).one()
        clinics = {c.slug: c for c in db.session.scalars(
            select(Clinic).where(Clinic.slug.in_([CLINIC_A[0], CLINIC_B[0]]))
        )}
        token, digest = new_token()
        case = make_case(
            now=now, age=timedelta(hours=2), status=CaseStatus.ROUTED, token_hash=digest, treatment=treatment,
            full_name=f"Dmitri Sokolov {tag}", email=f"dmitri.{tag}@example.org",
            date_of_birth=date(today.year - 45, 1, 1),  # 44 or 45 years old: "40–49" in the list
        )
        referrals = {}
        for slug, _name in (CLINIC_A, CLINIC_B):
            referral = Referral(
                case=case, clinic=clinics[slug], score=1.0, reasons=[], created_at=now - timedelta(hours=1)
            )
            db.session.add(referral)
            referrals[slug] = referral
        db.session.flush()
        clinic_a = make_user(CLINIC, clinic_id=clinics[CLINIC_A[0]].id, email=f"clinic-{tag}@spree.example")
        clinic_b = make_user(CLINIC, clinic_id=clinics[CLINIC_B[0]].id, email=f"clinic-{tag}@baltic.example")
        quotes.accept(referrals[CLINIC_B[0]], quotes.Terms(
            price=PRICE_B, currency="EUR", includes=["treatment", "stay"],
            earliest_date=today + timedelta(days=21), stay_days=10, valid_until=today + timedelta(days=45),
        ), clinic_b)
        db.session.commit()
        seeded = Seeded(
            token=token, case_id=case.id, reference=case.reference, patient_name=case.full_name,
            treatment_name=treatment.name, referral_a=referrals[CLINIC_A[0]].id, clinic_email=clinic_a.email,
            clinic_emails=(clinic_a.email, clinic_b.email),
        )
        db.session.remove()
    return seeded



@pytest.fixture
def seeded(live_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    # No worker runs here, and nothing is left in the shared test Redis: the relay after
    # each commit finds Redis closed, the outbox rows stay pending, the pages carry on.
    monkeypatch.setitem(live_app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    made = _seed(live_app)
    try:
        yield made
    finally:
        remove_case(live_app, made.case_id, made.clinic_emails)


def _post(page: Page, click) -> int:
    """Click what submits a form; the status of the POST it sends."""
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        click()
    return posted.value.status


def _sign_in_to_the_clinic_portal(page: Page, seeded: Seeded) -> None:
    page.goto("/clinic/referrals")
    expect(page).to_have_url(re.compile(r"/clinic/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the clinic portal")
    page.get_by_label("Email address").fill(seeded.clinic_email)
    page.get_by_label("Password").fill(PASSWORD)
    status = _post(page, page.get_by_role("button", name="Sign in").click)
    assert status == 303, f"the clinic sign-in was refused (HTTP {status})"
    expect(page).to_have_url(re.compile(r"/clinic/referrals$"))
    expect(page.get_by_role("navigation", name="Clinic portal")).to_contain_text(
        f"{CLINIC_A[1]} · {seeded.clinic_email}"
    )


def _fill_quote(accept, *, currency: str | None, earliest: date, valid_until: date) -> None:
    accept.get_by_label("Price", exact=True).fill(PRICE_A)
    if currency is not None:
        accept.get_by_label("Currency").select_option(currency)
    for item in ("Treatment", "Hospital stay", "Airport and hospital transfers"):
        accept.get_by_role("checkbox", name=item, exact=True).check()
    accept.get_by_label("Earliest date").fill(earliest.isoformat())
    accept.get_by_label("Length of stay (days)").fill("12")
    accept.get_by_label("Valid until").fill(valid_until.isoformat())
    accept.get_by_label("Notes for the patient (optional)").fill(NOTES_A)


def _quote_card(page: Page, clinic_name: str):
    return page.get_by_role("article", name=clinic_name, exact=True)


def _case_state(app: Flask, seeded: Seeded) -> tuple[str, int | None, str | None, int | None]:
    """The case's status, its chosen quote (id and clinic slug) and clinic A's quote id."""
    from service.extensions import db
    from service.models import Case, Quote

    with app.app_context():
        case = db.session.get(Case, seeded.case_id)
        chosen = case.chosen_quote
        quote_a = db.session.scalar(select(Quote.id).where(Quote.referral_id == seeded.referral_a))
        state = (
            str(case.status), case.chosen_quote_id, chosen.referral.clinic.slug if chosen else None, quote_a,
        )
        db.session.remove()
    return state


@pytest.mark.browser
def test_clinic_sends_a_quote_and_the_patient_compares_and_chooses_it(
    make_page, seeded: Seeded, live_app: Flask, screenshot, browser_log
) -> None:
    today = utc_today()
    earliest, valid_until = today + timedelta(days=30), today + timedelta(days=60)

    # ------------------------------------------------------------ the clinic answers
    clinic = make_page()
    _sign_in_to_the_clinic_portal(clinic, seeded)
    expect(clinic.get_by_role("heading", level=1)).to_have_text("Referrals")
    row = clinic.locator(".referrals-table tbody tr").filter(
        has=clinic.get_by_role("link", name=seeded.reference, exact=True)
    )
    expect(row).to_have_count(1)
    expect(row).to_contain_text(seeded.treatment_name)
    expect(row.locator(".badge")).to_have_text("Waiting for your answer")
    expect(row).to_contain_text("Kazakhstan (KZ) · age 40–49")
    expect(row).not_to_contain_text(seeded.patient_name)  # hidden until the agency releases it

    row.get_by_role("link", name=seeded.reference, exact=True).click()
    expect(clinic).to_have_url(re.compile(rf"/clinic/referrals/{seeded.referral_a}$"))
    expect(clinic.get_by_role("heading", level=1)).to_contain_text(seeded.reference)
    expect(clinic.locator("#referral-status")).to_have_text("Waiting for your answer")
    expect(clinic.locator("#quotes")).to_contain_text("You have not sent a quote yet.")
    expect(clinic.locator("#patient")).not_to_contain_text(seeded.patient_name)

    # First attempt: no currency, and a quote that expired yesterday. Refused, with
    # each problem next to its field and everything else as typed.
    accept = clinic.get_by_role("region", name="Accept with a quote")
    _fill_quote(accept, currency=None, earliest=earliest, valid_until=today - timedelta(days=1))
    status = _post(clinic, accept.get_by_role("button", name="Send the quote").click)
    assert status == 422, f"a quote without currency and already expired was not refused (HTTP {status})"
    accept = clinic.get_by_role("region", name="Accept with a quote")
    summary = accept.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    currency_error = "Choose the currency by its ISO 4217 code, for example EUR, USD or TRY."
    expiry_error = "The quote must be valid until a date in the future."
    expect(summary.get_by_role("link", name=currency_error)).to_have_attribute("href", "#currency")
    expect(summary.get_by_role("link", name=expiry_error)).to_have_attribute("href", "#valid_until")
    expect(summary.get_by_role("listitem")).to_have_count(2)
    expect(accept.locator("#currency-error")).to_have_text(currency_error)
    expect(accept.locator("#valid_until-error")).to_have_text(expiry_error)
    expect(accept.get_by_label("Currency")).to_have_attribute("aria-invalid", "true")
    expect(accept.get_by_label("Valid until")).to_have_attribute("aria-invalid", "true")
    expect(accept.get_by_label("Price", exact=True)).to_have_attribute("aria-invalid", "false")
    expect(accept.locator(".field-errors")).to_have_count(2)
    # What the clinic typed is still there.
    expect(accept.get_by_label("Price", exact=True)).to_have_value(PRICE_A)
    for item in ("Treatment", "Hospital stay", "Airport and hospital transfers"):
        expect(accept.get_by_role("checkbox", name=item, exact=True)).to_be_checked()
    expect(accept.get_by_role("checkbox", name="Interpreter", exact=True)).not_to_be_checked()
    expect(accept.get_by_label("Earliest date")).to_have_value(earliest.isoformat())
    expect(accept.get_by_label("Length of stay (days)")).to_have_value("12")
    expect(accept.get_by_label("Valid until")).to_have_value((today - timedelta(days=1)).isoformat())
    expect(accept.get_by_label("Notes for the patient (optional)")).to_have_value(NOTES_A)
    # Nothing was recorded.
    expect(clinic.locator("#referral-status")).to_have_text("Waiting for your answer")
    expect(clinic.locator("#quotes")).to_contain_text("You have not sent a quote yet.")
    assert _case_state(live_app, seeded)[3] is None, "the refused quote was stored"
    screenshot(clinic, "clinic-refused")

    # Second attempt: the two fields corrected.
    accept.get_by_label("Currency").select_option("EUR")
    accept.get_by_label("Valid until").fill(valid_until.isoformat())
    status = _post(clinic, accept.get_by_role("button", name="Send the quote").click)
    assert status == 303, f"the corrected quote was refused (HTTP {status})"
    expect(clinic).to_have_url(re.compile(rf"/clinic/referrals/{seeded.referral_a}$"))
    expect(clinic.locator(".notice-success")).to_have_text("Your quote was sent; the patient will see it.")
    expect(clinic.locator("#referral-status")).to_have_text("Accepted")
    version = clinic.locator("#quote-v1")
    expect(version).to_be_visible()
    expect(version.locator(".badge-current")).to_have_text("Counts")
    terms = version.locator(".quote-terms")
    expect(terms.locator(".price")).to_have_text(SHOWN_A)
    expect(terms).to_contain_text("Treatment, Hospital stay, Airport and hospital transfers")
    expect(terms).to_contain_text(_day(earliest))
    expect(terms).to_contain_text("12 days")
    expect(terms).to_contain_text(_day(valid_until))
    expect(terms.locator(".notes")).to_contain_text("Bring your latest X-rays.")
    expect(terms.locator(".notes")).to_contain_text("No food from midnight before surgery.")
    # Answered: the accept and decline forms give way to a revision.
    expect(clinic.get_by_role("region", name="Accept with a quote")).to_have_count(0)
    expect(clinic.get_by_role("region", name="Decline")).to_have_count(0)
    expect(clinic.get_by_role("region", name="Revise your quote")).to_be_visible()
    screenshot(clinic, "clinic-referral")

    # The list shows the answer too.
    clinic.get_by_role("link", name="← All referrals").click()
    expect(clinic).to_have_url(re.compile(r"/clinic/referrals$"))
    expect(row.locator(".badge")).to_have_text("Accepted")
    expect(row.locator(".quote-summary")).to_have_text(f"{SHOWN_A}, valid until {_day(valid_until)}")

    # ------------------------------------------------------------ the patient chooses
    patient = make_page(viewport={"width": 1024, "height": 900})
    patient.goto(f"/s/{seeded.token}")
    expect(patient.get_by_role("heading", level=1)).to_have_text(f"Your request {seeded.reference}")
    expect(patient.locator("#status-title .status")).to_have_text("Quotes ready")
    cards = patient.locator(".quote-grid > .quote-card")
    expect(cards).to_have_count(2)
    card_a, card_b = _quote_card(patient, CLINIC_A[1]), _quote_card(patient, CLINIC_B[1])
    expect(card_a.locator(".quote-price")).to_have_text(SHOWN_A)
    expect(card_b.locator(".quote-price")).to_have_text(SHOWN_B)
    expect(card_a).to_contain_text("Berlin, Germany")
    expect(card_b).to_contain_text("Vilnius, Lithuania")
    expect(card_a.locator(".included li")).to_have_text(
        ["Treatment", "Hospital stay", "Airport and hospital transfers"]
    )
    expect(card_b.locator(".included li")).to_have_text(["Treatment", "Hospital stay"])
    expect(card_a).to_contain_text("12 days")
    expect(card_a).to_contain_text(_day(valid_until))
    expect(card_a).to_contain_text("No food from midnight before surgery.")
    # Cheapest first, and side by side at 1024 px: one row, B on the left of A.
    expect(cards.nth(0).get_by_role("heading", level=3)).to_have_text(CLINIC_B[1])
    expect(cards.nth(1).get_by_role("heading", level=3)).to_have_text(CLINIC_A[1])
    box_b, box_a = card_b.bounding_box(), card_a.bounding_box()
    assert box_a and box_b, "a quote card is not rendered"
    assert abs(box_a["y"] - box_b["y"]) <= 2, f"the quote cards are not side by side: {box_b} / {box_a}"
    assert box_b["x"] + box_b["width"] <= box_a["x"], f"the quote cards overlap: {box_b} / {box_a}"
    assert box_a["width"] >= 200 and box_b["width"] >= 200, f"a quote card is squeezed: {box_b} / {box_a}"
    for card in (card_a, card_b):
        expect(card.get_by_role("link", name="Choose this clinic")).to_be_visible()
        expect(card.locator(".quote-badge-chosen")).to_have_count(0)
    expect(patient.locator(".choice-card")).to_have_count(0)
    screenshot(patient, "status-quotes")

    # Choosing A asks for confirmation first; looking is not choosing.
    card_a.get_by_role("link", name="Choose this clinic").click()
    expect(patient).to_have_url(re.compile(rf"/s/{re.escape(seeded.token)}/quotes/\d+/choose$"))
    expect(patient.get_by_role("heading", level=1)).to_have_text(f"Choose {CLINIC_A[1]}?")
    chosen_card = patient.get_by_role("article", name="The quote you are choosing")
    expect(chosen_card.locator(".quote-price")).to_have_text(SHOWN_A)
    expect(chosen_card).to_contain_text("Berlin, Germany")
    expect(patient.get_by_role("link", name="No, go back to my request")).to_have_attribute(
        "href", f"/s/{seeded.token}"
    )
    case_status, chosen_id, _slug, quote_a = _case_state(live_app, seeded)
    assert (case_status, chosen_id) == ("routed", None), "opening the confirmation page chose the clinic"
    assert quote_a is not None and patient.url.endswith(f"/quotes/{quote_a}/choose"), (
        "the link on clinic A's card leads to another quote"
    )

    status = _post(patient, patient.get_by_role("button", name=f"Yes, choose {CLINIC_A[1]}").click)
    assert status == 303, f"the choice was refused (HTTP {status})"
    expect(patient).to_have_url(re.compile(rf"/s/{re.escape(seeded.token)}$"))
    expect(patient.locator(".notice-success")).to_contain_text(f"You chose {CLINIC_A[1]}.")
    expect(patient.locator("#status-title .status")).to_have_text("Clinic chosen")
    choice = patient.get_by_role("region", name=f"Your choice: {CLINIC_A[1]}")
    expect(choice).to_be_visible()
    expect(choice).to_contain_text(f"You chose this clinic's quote of {SHOWN_A}.")
    expect(card_a.locator(".quote-badge-chosen")).to_have_text("Your choice")
    expect(card_a).to_have_class(re.compile(r"\bis-chosen\b"))
    expect(card_b.locator(".quote-badge-chosen")).to_have_count(0)
    expect(card_b).not_to_have_class(re.compile(r"\bis-chosen\b"))
    expect(patient.get_by_role("link", name="Choose this clinic")).to_have_count(0)
    screenshot(patient, "status-chosen")

    case_status, chosen_id, chosen_slug, quote_a = _case_state(live_app, seeded)
    assert case_status == "chosen"
    assert chosen_id == quote_a and chosen_slug == CLINIC_A[0], "the case records another quote as chosen"
    _assert_quote_as_typed(live_app, quote_a, earliest, valid_until)
    # The work the answers need was recorded, and waits for a worker (Redis is closed).
    # Each clinic is told how the choice went; the patient was told of the first quote and
    # that every clinic had answered.
    assert _outbox(live_app, seeded) == [
        ("notify_clinic_outcome", "pending"), ("notify_clinic_outcome", "pending"),
        ("notify_patient_event", "pending"), ("notify_patient_event", "pending"),
        ("notify_staff_choice", "pending"), ("render_booking_summary", "pending"),
        ("render_quote_comparison", "pending"), ("render_quote_comparison", "pending"),
        ("render_visa_letter", "pending"),
    ]

    browser_log.assert_clean()


def _assert_quote_as_typed(app: Flask, quote_id: int, earliest: date, valid_until: date) -> None:
    from service.extensions import db
    from service.models import Quote

    with app.app_context():
        quote = db.session.get(Quote, quote_id)
        stored = (quote.version, quote.price, quote.currency, list(quote.includes), quote.earliest_date,
                  quote.stay_days, quote.valid_until, quote.notes.splitlines())
        db.session.remove()
    assert stored == (
        1, Decimal(PRICE_A), "EUR", ["treatment", "stay", "transfers"], earliest, 12, valid_until,
        NOTES_A.splitlines(),
    )


def _outbox(app: Flask, seeded: Seeded) -> list[tuple[str, str]]:
    from service.extensions import db
    from service.models import OutboxMessage

    with app.app_context():
        rows = sorted((job, status) for job, status in db.session.execute(
            select(OutboxMessage.job, OutboxMessage.status).where(OutboxMessage.case_id == seeded.case_id)
        ))
        db.session.remove()
    return rows
