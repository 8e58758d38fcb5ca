"""The case file over HTTP: what it shows, that looking and acting are each recorded
once, the action forms, optimistic locking, and the short-lived file links."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from decimal import Decimal
from html import unescape
from urllib.parse import urlsplit

import pytest
from markupsafe import escape
from PIL import Image
from sqlalchemy import func, select, text

from service.accounts.roles import COORDINATOR
from service.cases import derivatives, events, workflow
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.routing import fx
from service.models import (
    Case,
    CaseEvent,
    Clinic,
    ClinicTreatment,
    Document,
    OutboxMessage,
    Referral,
    Treatment,
)
from tests.fixtures import files
from tests.fixtures.cases import post_request, submit
from tests.fixtures.exchange_rates import in_currency, load_exchange_rates
from tests.fixtures.forms import upload
from tests.fixtures.staff import make_user, sign_in
from tests.fixtures.trips import add_passport, standard_trip


@pytest.fixture
def exchange_rates(app_ctx) -> fx.Rates:
    """The data file's rates, loaded into the test database."""
    return load_exchange_rates()

S = CaseStatus


def event_count(case: Case) -> int:
    return db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id))


def events_since(case: Case, count: int) -> list[CaseEvent]:
    return list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id).offset(count)
    ))


def offering(case: Case) -> list[Clinic]:
    return list(db.session.scalars(
        select(Clinic).join(ClinicTreatment).where(ClinicTreatment.treatment_id == case.treatment_id).order_by(Clinic.slug)
    ))


def refer(case: Case, clinic: Clinic, status: str = ReferralStatus.ACCEPTED) -> Referral:
    referral = Referral(case=case, clinic=clinic, score=42.5, reasons=[{"key": "k", "points": 1, "reason": "Speaks Russian"}],
                        status=status)
    db.session.add(referral)
    db.session.commit()
    return referral


def act(client, case: Case, action: str, version: int | None = None, **data):
    db.session.refresh(case)
    data["version"] = case.version if version is None else version
    return client.post(f"/staff/cases/{case.reference}/actions/{action}", data=data)


def reload(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


@pytest.fixture
def staff_client(client, coordinator):
    """Signed in as a coordinator, with the identifier "strong" session protection checks."""
    sign_in(client, coordinator)
    return client


@pytest.fixture
def case(staff_client) -> Case:
    return submit(staff_client, files=[upload(files.png(), "knee.png"), upload(files.pdf(), "mri report.pdf"),
                                       upload(files.dicom(), "ct.dcm")])


def derive_all(case, storage) -> None:
    """What the worker's `derive_file` jobs do, without the routing the worker would also run."""
    for attachment in case.attachments:
        derivatives.derive(attachment, storage, secret="test")
    db.session.commit()


def test_the_case_file_shows_every_section(staff_client, case, coordinator, app, storage):
    derive_all(case, storage)
    accepted = refer(case, offering(case)[-1])
    db.session.add(Document(case_id=case.id, referral_id=accepted.id, kind="dossier", slot=f"dossier:{accepted.id}",
                            language="en", storage_key=f"cases/{case.id}/documents/x.pdf", size=1234,
                            sha256="ab" * 32, pages=3))
    workflow.perform(case, "add_note", coordinator, body="Prefers a clinic in Germany.")
    workflow.perform(case, "request_info", coordinator, question="Which knee hurts, left or right?")
    db.session.commit()

    page = staff_client.get(f"/staff/cases/{case.reference}")
    assert page.status_code == 200, page.text
    body = page.text
    for expected in (
        case.reference, "Amina Petrova", "amina@example.org", case.phone, "2 April 1979",
        "Kazakhstan (KZ)", "Russian (ru)", case.treatment.name, "the socket prosthesis causes sores",
        "none known", "Not answered", "Type 2 diabetes, controlled", "Spring 2027", "30,000.00 EUR",
        "knee.png", "mri report.pdf", "ct.dcm", "No preview: ", "Clinics get a de-identified copy",
        "Routing suggestions", "Speaks Russian", accepted.clinic.name, "Accepted",
        "ab" * 32, "Dossier for", "Prefers a clinic in Germany.", "Which knee hurts, left or right?",
        "Waiting on the patient", "Clocks paused", "Timeline", "Request received", "Case file viewed",
    ):
        assert expected in body, expected
    knee, report, _ = case.attachments
    knee_preview = derivatives.file_view(knee).preview
    assert f'<img class="preview-image" src="/staff/cases/{case.reference}/attachments/{knee.id}/previews/{knee_preview.id}"' in body
    assert f'<iframe src="/staff/cases/{case.reference}/attachments/{report.id}/preview"' in body
    assert f'href="/staff/cases/{case.reference}/attachments/{knee.id}"' in body
    # Only the actions the status allows have a form, each with the version it saw.
    allowed = {a.name for a in workflow.allowed_actions(case)}
    for name in workflow.ACTIONS:
        assert (f'/actions/{name}"' in body) == (name in allowed), name
    assert body.count(f'name="version" value="{reload(case).version}"') >= len(allowed)


def test_a_fresh_case_shows_its_sla_and_empty_states(staff_client, case):
    page = staff_client.get(f"/staff/cases/{case.reference}")
    assert "First staff response" in page.text and "due" in page.text
    for empty in ("No questions asked.", "No notes yet.", "Not referred to any clinic yet.", "No documents generated yet."):
        assert empty in page.text


def test_viewing_writes_one_event_and_does_not_change_the_case(staff_client, case, coordinator):
    before, version = event_count(case), case.version
    page = staff_client.get(f"/staff/cases/{case.reference}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    [viewed] = events_since(case, before)
    assert (viewed.kind, viewed.actor) == ("case_viewed", f"staff:{coordinator.email}")
    assert reload(case).version == version


def test_unknown_case_is_404(staff_client):
    assert staff_client.get("/staff/cases/MT-2000-999999").status_code == 404
    assert staff_client.post("/staff/cases/MT-2000-999999/actions/add_note", data={"version": 1}).status_code == 404


def test_unknown_action_is_404(staff_client, case):
    assert act(staff_client, case, "delete_everything").status_code == 404


def test_anonymous_is_sent_to_sign_in_and_nothing_is_recorded(app, case):
    client = app.test_client()
    before = event_count(case)
    for response in (client.get(f"/staff/cases/{case.reference}"),
                     act(client, case, "close", reason="spam"),
                     client.get(f"/staff/cases/{case.reference}/attachments/{case.attachments[0].id}")):
        assert response.status_code in (302, 303)
        assert urlsplit(response.location).path == "/staff/login"
    assert event_count(case) == before and reload(case).status == S.SUBMITTED


def _setup(action: str, case: Case, coordinator) -> dict:
    """Put the case where `action` is allowed; the form data that makes it valid."""
    clinics = offering(case)
    if action in ("release_contact", "record_choice"):
        referral = refer(case, clinics[0])
        case.status = S.ROUTED
        db.session.commit()
        if action == "release_contact":  # not the patient's choice: the override and its reason
            return {"referral_id": referral.id, "override": "y", "reason": "The patient asked us to, by phone."}
        return {"referral_id": referral.id}
    if action == "reopen":
        case.status, case.closed_reason = S.CLOSED, "spam"
        db.session.commit()
        return {}
    trip_steps = {"book_travel": S.CHOSEN, "start_treatment": S.TRAVEL_BOOKED, "mark_returned": S.IN_TREATMENT}
    if action in trip_steps:
        case.status = trip_steps[action]
        if action == "book_travel":  # the patient's passport and the outbound flight are in
            add_passport(case)
            standard_trip(case)
        db.session.commit()
        return {}
    other = db.session.scalar(select(Treatment.slug).where(Treatment.id != case.treatment_id).order_by(Treatment.slug))
    return {
        "assign": {"assignee": str(make_user(COORDINATOR).id)},
        "set_priority": {"priority": "urgent"},
        "correct_treatment": {"treatment": other},
        "request_info": {"question": "Could you send the latest X-ray?"},
        "route": {"mode": "manual", "clinics": [clinics[0].slug, clinics[1].slug]},
        "regenerate_paperwork": {},
        "close": {"reason": "duplicate"},
        "add_note": {"body": "Called her; she prefers May."},
    }[action]


@pytest.mark.parametrize("action", list(workflow.ACTIONS))
def test_each_action_over_http_writes_one_event(staff_client, case, coordinator, action):
    data = _setup(action, case, coordinator)
    before, version = event_count(case), reload(case).version
    response = act(staff_client, case, action, **data)
    assert response.status_code == 303, response.text
    assert urlsplit(response.location).path == f"/staff/cases/{case.reference}"
    [done] = events_since(case, before)
    assert done.actor == f"staff:{coordinator.email}"
    assert reload(case).version == version + 1
    page = staff_client.get(response.location)
    assert f'<div class="notice notice-success" role="status">{escape(events.describe(done, staff=True))}.</div>' in page.text


def test_routing_over_http_refers_and_relays_the_dossier_jobs(staff_client, case, redis_url):
    response = act(staff_client, case, "route", mode="suggestions", top_n="2")
    assert response.status_code == 303
    case = reload(case)
    assert case.status == S.ROUTED
    assert db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id)) == 2
    jobs = list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.job == "render_dossier")))
    assert len(jobs) == 2 and {j.status for j in jobs} == {"enqueued"}
    # The timeline names the clinics, never their internal slugs.
    timeline = staff_client.get(response.location).text.split('id="timeline"', 1)[1]
    names = [r.clinic.name for r in db.session.scalars(select(Referral).where(Referral.case_id == case.id))]
    routed = next(line for line in timeline.split("<li") if "Status: Sent to clinics" in line)
    assert all(str(escape(name)) in routed for name in names)
    assert not any(r.clinic.slug in routed for r in db.session.scalars(select(Referral).where(Referral.case_id == case.id)))


def test_regenerating_paperwork_relays_its_jobs(staff_client, case, redis_url):
    refer(case, offering(case)[0], ReferralStatus.PENDING)
    assert act(staff_client, case, "regenerate_paperwork").status_code == 303
    rows = list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.job.in_(["render_dossier", "render_confirmation"]),
        OutboxMessage.status == "enqueued", OutboxMessage.enqueued_at.is_not(None),
    )))
    assert {r.job for r in rows} == {"render_dossier", "render_confirmation"} and len(rows) >= 2


def test_a_refused_action_is_422_with_the_message_and_changes_nothing(staff_client, case):
    before, version = event_count(case), reload(case).version
    refused = act(staff_client, case, "request_info", question="Why?")
    assert refused.status_code == 422
    assert "Write the question for the patient in 10 to 2,000 characters." in refused.text
    assert "Nothing was changed." in refused.text
    not_now = act(staff_client, case, "reopen")
    assert not_now.status_code == 422 and "Reopen is not possible while the case is received" in not_now.text
    bad_choice = act(staff_client, case, "close", reason="bored")
    assert bad_choice.status_code == 422 and "Not a valid choice" in bad_choice.text
    no_version = staff_client.post(f"/staff/cases/{case.reference}/actions/add_note", data={"body": "hello"})
    assert no_version.status_code == 422 and "no case version" in no_version.text
    case = reload(case)
    assert (event_count(case), case.version, case.status) == (before, version, S.SUBMITTED)


def test_refused_text_is_kept_in_the_form(staff_client, case):
    refused = act(staff_client, case, "request_info", question="Knee?")
    assert refused.status_code == 422 and "\nKnee?</textarea>" in refused.text


def test_manual_routing_to_a_clinic_already_referred_is_refused_by_name(staff_client, case):
    already = refer(case, offering(case)[0], ReferralStatus.PENDING)
    fresh = offering(case)[1]
    before = event_count(case)
    response = act(staff_client, case, "route", mode="manual", clinics=[already.clinic.slug, fresh.slug])
    assert response.status_code == 422
    assert f"Cannot refer to {already.clinic.slug}: already referred" in response.text
    assert event_count(case) == before
    assert db.session.scalar(select(func.count(Referral.id)).where(Referral.case_id == case.id)) == 1


def test_two_forms_with_the_same_version_the_second_gets_409(staff_client, case, app):
    page = staff_client.get(f"/staff/cases/{case.reference}")
    seen = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))
    other = app.test_client()
    sign_in(other, make_user(COORDINATOR))
    assert act(other, case, "set_priority", version=seen, priority="high").status_code == 303

    before = event_count(case)
    second = act(staff_client, case, "close", version=seen, reason="spam")
    assert second.status_code == 409
    assert "This case changed since you opened it; reload" in second.text
    assert 'name="reason"' in second.text  # the fresh page, ready to act on again
    case = reload(case)
    assert (case.status, case.priority, event_count(case)) == (S.SUBMITTED, "high", before)
    assert f'name="version" value="{case.version}"' in second.text


def test_a_concurrent_commit_between_load_and_save_is_409(staff_client, case, monkeypatch):
    """Another coordinator's transaction commits after this request loaded the case:
    the UPDATE's version check matches no row (StaleDataError) and nothing is applied."""
    spec = workflow.ACTIONS["set_priority"]

    def racing(case, user, **params):
        db.session.execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case.id})
        return spec.apply(case, user, **params)

    monkeypatch.setitem(workflow.ACTIONS, "set_priority", dataclasses.replace(spec, apply=racing))
    before = event_count(case)
    response = act(staff_client, case, "set_priority", priority="urgent")
    assert response.status_code == 409
    assert "This case changed since you opened it; reload" in response.text
    case = reload(case)
    assert case.priority == "normal" and event_count(case) == before


def test_downloads_are_recorded_and_go_through_a_short_lived_link(staff_client, case, coordinator):
    knee = case.attachments[0]
    before = event_count(case)
    response = staff_client.get(f"/staff/cases/{case.reference}/attachments/{knee.id}")
    assert response.status_code == 303
    assert urlsplit(response.location).path.startswith("/files/")
    [opened] = events_since(case, before)
    assert (opened.kind, opened.actor, opened.details) == ("file_opened", f"staff:{coordinator.email}", {"file": "knee.png"})
    got = staff_client.get(response.location)
    assert hashlib.sha256(got.data).hexdigest() == knee.sha256
    assert got.headers["Content-Disposition"].startswith("attachment")


def test_documents_download_through_a_short_lived_link(staff_client, case, storage):
    key = f"cases/{case.id}/documents/confirmation.pdf"
    stored = storage.put(key, io.BytesIO(files.pdf()), content_type="application/pdf", filename="c.pdf")
    doc = Document(case_id=case.id, kind="confirmation", slot="confirmation", language="ru", storage_key=key,
                   size=stored.size, sha256=stored.sha256, pages=1)
    db.session.add(doc)
    db.session.commit()
    response = staff_client.get(f"/staff/cases/{case.reference}/documents/{doc.id}")
    assert response.status_code == 303
    assert staff_client.get(response.location).data == files.pdf()


def test_previews_are_worker_made_images_and_pdfs_inline(staff_client, case, storage):
    derive_all(case, storage)
    knee, report, ct = case.attachments
    before = event_count(case)
    knee_preview = derivatives.file_view(knee).preview
    image = staff_client.get(f"/staff/cases/{case.reference}/attachments/{knee.id}/previews/{knee_preview.id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(image.data)).format == "JPEG"
    assert image.headers["Content-Disposition"].startswith("inline")
    assert image.headers["Cache-Control"] == "private, no-store"
    assert image.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    pdf = staff_client.get(f"/staff/cases/{case.reference}/attachments/{report.id}/preview")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == files.pdf()
    assert pdf.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert pdf.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    # Nothing is decoded on a web request: the original image is not served inline.
    assert staff_client.get(f"/staff/cases/{case.reference}/attachments/{knee.id}/preview").status_code == 404
    assert staff_client.get(f"/staff/cases/{case.reference}/attachments/{ct.id}/preview").status_code == 404
    # A preview id of another file is not this file's.
    report_preview = derivatives.file_view(report).preview
    assert staff_client.get(
        f"/staff/cases/{case.reference}/attachments/{knee.id}/previews/{report_preview.id}").status_code == 404
    assert event_count(case) == before  # part of the case view already recorded


def test_files_of_another_case_are_404(staff_client, case):
    other = submit(staff_client, files=[upload(files.png(), "other.png")], email="other@example.org")
    stranger = other.attachments[0].id
    assert staff_client.get(f"/staff/cases/{case.reference}/attachments/{stranger}").status_code == 404
    assert staff_client.get(f"/staff/cases/{case.reference}/attachments/{stranger}/preview").status_code == 404


def test_the_timeline_is_paginated_newest_first(staff_client, case, coordinator):
    for i in range(60):
        workflow.perform(case, "add_note", coordinator, body=f"note number {i:02d}")
    db.session.commit()
    first = staff_client.get(f"/staff/cases/{case.reference}")
    timeline = first.text.split('id="timeline-title"')[1]
    assert "note number 59" in timeline and "Request received" not in timeline
    assert "Page 1 of 2" in timeline
    second = staff_client.get(f"/staff/cases/{case.reference}?page=2")
    timeline = second.text.split('id="timeline-title"')[1]
    assert "Request received" in timeline and "note number 59" not in timeline


def test_the_patient_never_sees_notes_or_staff_emails(staff_client, coordinator):
    case, status_path = post_request(staff_client)
    workflow.perform(case, "add_note", coordinator, body="Internal remark about the patient.")
    workflow.perform(case, "request_info", coordinator, question="Which knee hurts, left or right?")
    db.session.commit()
    token = status_path.rsplit("/", 1)[1]
    for response in (staff_client.get(status_path), staff_client.get(f"/api/v1/requests/{token}")):
        assert response.status_code == 200
        assert "Internal remark" not in response.text
        assert coordinator.email not in response.text
        assert "staff:" not in response.text


# ---------------------------------------------------------------- quotes and releasing contact details


def _quoted(staff_client, **case_values):
    from tests.fixtures.quoting import QuotedInCurrencies

    return QuotedInCurrencies(budget=Decimal("9000"), budget_currency="USD", **case_values)


def _choose(quoted, referral_index: int = 0):
    from service.cases import quotes

    quote = quoted.quotes[referral_index]
    quotes.choose(quoted.case, quote.id)
    db.session.commit()
    return quote


def test_the_quotes_panel_shows_every_version_converted_and_the_patients_choice(staff_client, exchange_rates):
    from service.cases import quotes
    from tests.fixtures.quoting import HIDDEN_CASE, terms as fresh_terms

    quoted = _quoted(staff_client)
    eur = next(q for q in quoted.quotes if q.currency == "EUR")
    revised = quotes.revise(eur.referral, dataclasses.replace(fresh_terms("9200"), currency="EUR"), eur.created_by)
    quotes.accept_revision(quoted.case, revised.id)
    db.session.commit()
    chosen = _choose(quoted, quoted.quotes.index(next(q for q in quoted.quotes if q.currency == "INR")))
    text = staff_client.get(f"/staff/cases/{quoted.case.reference}").text
    panel = text[text.index('id="quotes"'):text.index('id="referrals"')]
    for amount, currency in HIDDEN_CASE:
        assert f"{Decimal(amount):,.2f} {currency}" in panel
    assert "9,200.00 EUR" in panel and ">v1" in panel and ">v2" in panel and "superseded" in panel
    usd = in_currency("9200", "EUR", "USD").quantize(Decimal("1"))
    assert f"≈ {usd:,} USD at the rate of {exchange_rates.get('EUR').as_of.isoformat()}" in panel
    assert f'id="quote-version-{chosen.id}" class="is-chosen"' in panel
    assert escape(f"{chosen.referral.clinic.name}, version 1: chosen by the patient") in panel
    assert eur.created_by.email in panel
    # Cheapest converted first: INR, then USD, then the EUR clinic.
    order = [panel.index(f'id="quotes-{q.referral.id}-title"') for q in sorted(
        quoted.quotes, key=lambda q: in_currency(q.price, q.currency, "USD"))]
    assert order == sorted(order)


def test_a_choice_recorded_by_staff_says_who(staff_client, coordinator, exchange_rates):
    quoted = _quoted(staff_client)
    referral = quoted.referrals[1]
    response = act(staff_client, quoted.case, "record_choice", referral_id=referral.id)
    assert response.status_code == 303
    text = staff_client.get(f"/staff/cases/{quoted.case.reference}").text
    assert escape(f"{referral.clinic.name}, version 1: chosen by staff ({coordinator.email})") in text


def test_release_is_a_button_for_the_chosen_clinic_and_a_quiet_link_for_the_others(staff_client, exchange_rates):
    quoted = _quoted(staff_client)
    chosen = _choose(quoted).referral
    text = staff_client.get(f"/staff/cases/{quoted.case.reference}").text
    table = text[text.index('id="referrals"'):]
    base = f"/staff/cases/{quoted.case.reference}/referrals"
    assert f'<a class="button small" href="{base}/{chosen.id}/release">Release contact details…</a>' in table
    for other in quoted.referrals[1:]:
        assert f'<a class="release-anyway hint" href="{base}/{other.id}/release">Release anyway…</a>' in table
    assert "Release contact details</button>" not in table  # no one-click release from the table


def test_the_confirmation_page_names_the_clinic_and_releases_to_the_chosen_one(staff_client, exchange_rates):
    quoted = _quoted(staff_client, full_name="Anna Petrova")
    chosen = _choose(quoted).referral
    page = staff_client.get(f"/staff/cases/{quoted.case.reference}/referrals/{chosen.id}/release")
    assert page.status_code == 200
    assert f"Release Anna Petrova's contact details to {chosen.clinic.name}?" in unescape(page.text)
    assert quoted.case.email in page.text and 'name="override"' not in page.text
    before = event_count(quoted.case)
    response = staff_client.post(f"/staff/cases/{quoted.case.reference}/referrals/{chosen.id}/release",
                                 data={"version": reload(quoted.case).version, "referral_id": chosen.id})
    assert response.status_code == 303
    [done] = events_since(quoted.case, before)
    assert done.kind == "contact_released" and "override" not in done.details
    assert db.session.get(Referral, chosen.id).contact_released_at is not None


def test_releasing_to_another_clinic_needs_the_override_and_a_reason_at_the_field(staff_client, exchange_rates):
    quoted = _quoted(staff_client, full_name="Anna Petrova")
    chosen = _choose(quoted).referral
    other = quoted.referrals[1]
    url = f"/staff/cases/{quoted.case.reference}/referrals/{other.id}/release"
    page = staff_client.get(url)
    shown = unescape(page.text)
    assert f"Release Anna Petrova's contact details to {other.clinic.name}?" in shown
    assert f"{other.clinic.name} is not the clinic the patient chose" in shown
    assert f"the patient chose {chosen.clinic.name}" in shown
    assert 'name="override"' in page.text and 'name="reason"' in page.text
    before = event_count(quoted.case)

    refused = staff_client.post(url, data={"version": reload(quoted.case).version, "referral_id": other.id})
    assert refused.status_code == 422
    assert 'id="override-error"' in refused.text and "Tick this to release" in refused.text

    refused = staff_client.post(url, data={"version": reload(quoted.case).version, "referral_id": other.id,
                                           "override": "y", "reason": "short"})
    assert refused.status_code == 422
    assert 'id="reason-error"' in refused.text and "10 to 500 characters (this one has 5)" in refused.text
    assert event_count(quoted.case) == before and db.session.get(Referral, other.id).contact_released_at is None

    reason = "The patient asked by phone for this clinic's second opinion."
    done = staff_client.post(url, data={"version": reload(quoted.case).version, "referral_id": other.id,
                                        "override": "y", "reason": reason})
    assert done.status_code == 303
    [event] = events_since(quoted.case, before)
    assert event.kind == "contact_released" and event.details["override"] is True and event.details["reason"] == reason


def test_the_release_page_of_another_cases_referral_is_404(staff_client, exchange_rates):
    quoted, stranger = _quoted(staff_client), _quoted(staff_client)
    assert staff_client.get(
        f"/staff/cases/{quoted.case.reference}/referrals/{stranger.referrals[0].id}/release").status_code == 404


def test_the_routing_section_says_what_auto_route_does_with_a_new_case(staff_client, case, app, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_ROUTE", False)
    page = staff_client.get(f"/staff/cases/{case.reference}").text
    assert "Automatic routing is off (AUTO_ROUTE=0): a new case waits for a coordinator to route it" in page
    monkeypatch.setitem(app.config, "AUTO_ROUTE", True)
    page = staff_client.get(f"/staff/cases/{case.reference}").text
    assert "New cases are routed to the best-matched clinics as soon as they arrive" in page
