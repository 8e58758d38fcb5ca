"""The patient's side of the status page: the quotes side by side, choosing a clinic
(with a confirmation step), accepting a revision, withdrawing, the paperwork to
download, erasure, and the same quotes through the JSON API."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta, timezone
from html import escape

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from service.accounts.roles import CLINIC
from service.cases import quotes
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.tokens import new_token
from service.choices import countries
from service.extensions import db
from service.models import Case, CaseEvent, Clinic, Document, OutboxMessage, Quote, Referral
from tests.fixtures import files
from tests.fixtures.staff import make_user
from tests.fixtures.cases import make_case

CHEAP = "andaman-aesthetics-phuket"  # Phuket, TH, ACHSI
DEAR = "anatolia-smile-antalya"  # Antalya, TR, ISO 9001 + TEMOS


def today() -> date:
    return datetime.now(timezone.utc).date()


def terms(**changes) -> quotes.Terms:
    values = dict(price="12500", currency="EUR", earliest_date=today() + timedelta(days=30), stay_days=7,
                  valid_until=today() + timedelta(days=60), includes=["treatment", "stay"], notes="")
    values.update(changes)
    return quotes.Terms(**values)


class Quoted:
    """A routed case with its status token and one accepted quote per clinic."""

    def __init__(self, token: str, case: Case, quotes_by_slug: dict[str, Quote]) -> None:
        self.token, self.case, self.quotes = token, case, quotes_by_slug
        self.page = f"/s/{token}"


def quoted_case(*, language: str = "en", **prices: str) -> Quoted:
    token, digest = new_token()
    case = make_case(status=CaseStatus.ROUTED, token_hash=digest, language=language)
    made = {}
    for slug, price in prices.items():
        clinic = db.session.scalars(select(Clinic).where(Clinic.slug == slug)).one()
        referral = Referral(case=case, clinic=clinic, score=1, reasons=[])
        db.session.add(referral)
        db.session.flush()
        user = make_user(CLINIC, clinic_id=clinic.id)
        made[slug] = quotes.accept(referral, terms(price=price), user)
    db.session.commit()
    return Quoted(token, case, made)


@pytest.fixture
def two(db_session) -> Quoted:
    return quoted_case(**{DEAR: "12500", CHEAP: "9900"})


def reload(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def outbox_jobs(case: Case) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id).order_by(OutboxMessage.id)))


def choose_links(text: str) -> int:
    return text.count(">Choose this clinic</a>")


def _day(value) -> str:
    """A date as the English pages show it: "3 January 2027"."""
    return f"{value.day} {value:%B %Y}"


def test_the_quotes_are_side_by_side_with_everything_the_patient_compares(client, two):
    page = client.get(two.page)
    assert page.status_code == 200
    text = page.text
    names = dict(countries())
    for expected in (
        "Quotes from clinics", "Anatolia Smile Dental", f"Antalya, {names['TR']}", "ISO 9001, TEMOS",
        "Andaman Aesthetic Surgery", f"Phuket, {names['TH']}", "ACHSI",
        "12,500.00 EUR", "9,900.00 EUR", "Treatment", "Hospital stay", "7 days",
        _day(today() + timedelta(days=30)), _day(today() + timedelta(days=60)),
    ):
        assert escape(expected) in text, expected
    assert "Airport and hospital transfers" not in text
    # Cheapest first.
    assert text.index("9,900.00 EUR") < text.index("12,500.00 EUR")
    assert choose_links(text) == 2


def test_a_case_without_quotes_says_so(client, db_session):
    token, digest = new_token()
    make_case(status=CaseStatus.ROUTED, token_hash=digest)
    db.session.commit()
    page = client.get(f"/s/{token}")
    assert "No quotes yet." in page.text and choose_links(page.text) == 0


def test_choosing_asks_for_confirmation_then_moves_the_case_and_relays_the_work(client, two, redis_url):
    quote = two.quotes[CHEAP]
    confirm = client.get(f"{two.page}/quotes/{quote.id}/choose")
    assert confirm.status_code == 200
    assert "Choose Andaman Aesthetic Surgery?" in confirm.text
    assert "9,900.00 EUR" in confirm.text and "Yes, choose Andaman Aesthetic Surgery" in confirm.text
    assert reload(two.case).status == CaseStatus.ROUTED  # looking is not choosing

    chosen = client.post(f"{two.page}/quotes/{quote.id}/choose")
    assert chosen.status_code == 303 and chosen.location.endswith(two.page)
    case = reload(two.case)
    assert case.status == CaseStatus.CHOSEN and case.chosen_quote_id == quote.id
    work = [m for m in outbox_jobs(case) if m.job in {"render_booking_summary", "render_visa_letter", "notify_staff_choice"}]
    assert sorted(m.job for m in work) == ["notify_staff_choice", "render_booking_summary", "render_visa_letter"]
    assert {m.status for m in work} == {"enqueued"}

    page = client.get(two.page)
    assert "You chose Andaman Aesthetic Surgery." in page.text
    assert "Your choice: Andaman Aesthetic Surgery" in page.text
    assert page.text.count("Your choice</p>") == 1
    assert choose_links(page.text) == 0


def test_an_expired_quote_is_marked_and_cannot_be_chosen(client, two):
    expired = two.quotes[CHEAP]
    expired.valid_until = today() - timedelta(days=1)
    db.session.commit()
    page = client.get(two.page)
    assert f"Expired on {_day(expired.valid_until)}" in page.text
    assert choose_links(page.text) == 1
    # Expired quotes come last, whatever their price.
    assert page.text.index("12,500.00 EUR") < page.text.index("9,900.00 EUR")

    assert client.get(f"{two.page}/quotes/{expired.id}/choose").status_code == 303
    jobs_before = len(outbox_jobs(two.case))
    refused = client.post(f"{two.page}/quotes/{expired.id}/choose")
    assert refused.status_code == 422
    assert f"This quote expired on {_day(expired.valid_until)}" in refused.text
    assert "Nothing was changed." in refused.text
    case = reload(two.case)
    assert case.status == CaseStatus.ROUTED and case.chosen_quote_id is None
    assert len(outbox_jobs(case)) == jobs_before


def test_a_quote_of_another_case_is_not_reachable(client, two):
    other = quoted_case(**{CHEAP: "5000"})
    foreign = other.quotes[CHEAP]
    assert client.get(f"{two.page}/quotes/{foreign.id}/choose").status_code == 404
    refused = client.post(f"{two.page}/quotes/{foreign.id}/choose")
    assert refused.status_code == 422 and "There is no such quote on this request." in refused.text
    assert reload(other.case).status == CaseStatus.ROUTED and reload(two.case).chosen_quote_id is None


def test_a_revision_shows_what_changed_and_counts_once_accepted(client, two):
    first = two.quotes[DEAR]
    revision = quotes.revise(first.referral, terms(price="11000", includes=["treatment", "stay", "interpreter"]),
                             first.created_by)
    db.session.commit()
    page = client.get(two.page).text
    assert "The clinic revised its quote: what changed" in page
    assert "<th scope=\"row\">Price</th><td>12500.00</td><td>11000.00</td>" in page
    assert "Treatment, Hospital stay, Interpreter" in page
    assert "Accept the revised quote" in page
    assert "12,500.00 EUR" in page  # the first version stands until accepted

    accepted = client.post(f"{two.page}/quotes/{revision.id}/accept-revision")
    assert accepted.status_code == 303
    db.session.expire_all()
    assert db.session.get(Quote, revision.id).patient_accepted_at is not None
    page = client.get(two.page).text
    assert "You accepted the revised quote from Anatolia Smile Dental." in page
    assert "11,000.00 EUR" in page and "12,500.00 EUR" not in page
    assert "what changed" not in page

    again = client.post(f"{two.page}/quotes/{revision.id}/accept-revision")
    assert again.status_code == 422 and "This revision is not waiting for your acceptance." in again.text


def test_withdrawing_asks_for_confirmation_then_closes_the_case(client, two):
    confirm = client.get(f"{two.page}/withdraw")
    assert confirm.status_code == 200 and "Yes, withdraw my request" in confirm.text
    assert reload(two.case).status == CaseStatus.ROUTED

    done = client.post(f"{two.page}/withdraw")
    assert done.status_code == 303
    case = reload(two.case)
    assert case.status == CaseStatus.CLOSED and case.closed_reason == quotes.WITHDRAWN_REASON
    statuses = set(db.session.scalars(select(Referral.status).where(Referral.case_id == case.id)))
    assert statuses == {ReferralStatus.WITHDRAWN}
    page = client.get(two.page).text
    assert "Your request is withdrawn and closed" in page
    assert 'action="/s/' + two.token + '/withdraw"' not in page and choose_links(page) == 0
    assert client.get(f"{two.page}/withdraw").status_code == 303
    again = client.post(f"{two.page}/withdraw")
    assert again.status_code == 422 and "This request is already closed." in again.text


def test_every_decision_needs_the_csrf_token(app, client, two, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    quote = two.quotes[CHEAP]
    for path in (f"/quotes/{quote.id}/choose", f"/quotes/{quote.id}/accept-revision", "/withdraw", "/erase"):
        refused = client.post(two.page + path, data={"reference": two.case.reference, "csrf_token": "forged"})
        assert refused.status_code == 400, path
        assert "Form expired" in refused.text
        assert refused.headers["Cache-Control"] == "no-store"
    case = reload(two.case)
    assert case.status == CaseStatus.ROUTED and case.erasure_requested_at is None
    # With the token of the patient's own session the same choice goes through.
    page = client.get(f"{two.page}/quotes/{quote.id}/choose").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"{two.page}/quotes/{quote.id}/choose", data={"csrf_token": token}).status_code == 303


# ---------------------------------------------------------------- documents


def store_document(storage, case: Case, slot: str, content: bytes) -> Document:
    key = f"cases/{case.id}/documents/{slot}.pdf"
    stored = storage.put(key, io.BytesIO(content), content_type="application/pdf", filename=f"{slot}.pdf")
    document = Document(case_id=case.id, kind=slot, slot=slot, language="en", storage_key=key,
                        size=stored.size, sha256=stored.sha256, pages=1)
    db.session.add(document)
    db.session.commit()
    return document


def test_documents_are_listed_and_downloaded_through_short_lived_links(app, client, two, storage, monkeypatch):
    contents = {slot: files.pdf(slot) for slot in ("confirmation", "quote_comparison", "booking_summary", "visa_letter")}
    for slot, content in contents.items():
        store_document(storage, two.case, slot, content)
    store_document(storage, two.case, "dossier:1", files.pdf("for the clinic only"))

    page = client.get(two.page).text
    assert "Confirmation of your request" in page and "The quotes side by side" in page
    assert "Booking summary" not in page and "Visa support letter" not in page  # not before a choice
    assert client.get(f"{two.page}/documents/booking_summary").status_code == 404
    assert client.get(f"{two.page}/documents/dossier:1").status_code == 404

    minted = []
    real_url = type(storage).url

    def spy(self, key, **kwargs):
        minted.append(kwargs["expires_in"])
        return real_url(self, key, **kwargs)

    monkeypatch.setattr(type(storage), "url", spy)
    monkeypatch.setitem(app.config, "DOWNLOAD_URL_TTL", 123)
    link = client.get(f"{two.page}/documents/quote_comparison")
    assert link.status_code == 303 and minted == [123]
    download = client.get(link.location)
    assert download.data == contents["quote_comparison"]
    assert two.case.reference in download.headers["Content-Disposition"]

    client.post(f"{two.page}/quotes/{two.quotes[CHEAP].id}/choose")
    page = client.get(two.page).text
    assert "Booking summary" in page and "Visa support letter" in page
    for slot in ("booking_summary", "visa_letter", "confirmation"):
        assert client.get(client.get(f"{two.page}/documents/{slot}").location).data == contents[slot]


def test_a_case_only_reaches_its_own_documents(client, two, storage):
    store_document(storage, two.case, "confirmation", files.pdf("theirs"))
    other = quoted_case(**{CHEAP: "5000"})
    assert client.get(f"{other.page}/documents/confirmation").status_code == 404
    assert "Your documents" not in client.get(other.page).text


# ---------------------------------------------------------------- erasure


def test_erasure_needs_the_reference_typed_then_kills_the_link(client, two, redis_url):
    page = client.get(two.page).text
    assert "Erase my data" in page and "This cannot be undone." in page
    wrong = client.post(f"{two.page}/erase", data={"reference": "MT-0000-000000"})
    assert wrong.status_code == 422
    assert f"type {two.case.reference} exactly to confirm" in wrong.text
    assert 'value="MT-0000-000000"' in wrong.text  # what was typed stays
    empty = client.post(f"{two.page}/erase", data={"reference": " "})
    assert empty.status_code == 422 and "Type your reference to confirm" in empty.text
    assert reload(two.case).erasure_requested_at is None and client.get(two.page).status_code == 200

    done = client.post(f"{two.page}/erase", data={"reference": f"  {two.case.reference.lower()} "})
    assert done.status_code == 303 and done.location.endswith("/s/erased")
    farewell = client.get(done.location)
    assert farewell.status_code == 200
    assert f"Your request {two.case.reference}: we are erasing your data now." in farewell.text
    assert "Your status link no longer works" in farewell.text
    assert farewell.headers["Cache-Control"] == "no-store"
    assert client.get(two.page).status_code == 404
    assert client.get(f"{two.page}/documents/confirmation").status_code == 404
    case = reload(two.case)
    assert case.erasure_requested_at is not None
    [job] = [m for m in outbox_jobs(case) if m.job == "erase_case"]
    assert job.status == "enqueued"
    assert db.session.scalar(select(func.count(CaseEvent.id)).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "erasure_requested")) == 1


# ---------------------------------------------------------------- API


def test_the_api_status_lists_the_quotes_as_the_page_does(client, two):
    spec = client.get("/api/v1/openapi.json").get_json()
    client.post(f"{two.page}/quotes/{two.quotes[CHEAP].id}/choose")
    body = client.get(f"/api/v1/requests/{two.token}").get_json()
    schema = {"$ref": "#/components/schemas/Status", "components": spec["components"]}
    Draft202012Validator(schema).validate(body)
    cheap, dear = body["quotes"]
    assert cheap["clinic"] == {"name": "Andaman Aesthetic Surgery", "city": "Phuket", "country": "TH",
                               "accreditations": ["ACHSI"]}
    assert (cheap["price"], cheap["currency"], cheap["chosen"]) == ("9900.00", "EUR", True)
    assert dear["chosen"] is False and dear["includes"] == ["treatment", "stay"]
    assert dear["valid_until"] == (today() + timedelta(days=60)).isoformat() and dear["expired"] is False
