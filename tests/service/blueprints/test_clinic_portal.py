"""The clinic portal: the referral list (only the clinic's own, newest first, paginated,
identity hidden until released, the answer deadline), the referral page, the answers
and their refusals, the audit trail and the short-lived file links."""
from __future__ import annotations

import hashlib
import io
import re
from datetime import date, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from service.blueprints.clinic_portal import PAGE_SIZE, age_bracket
from service.cases import quotes
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import CaseEvent, OutboxMessage, PatientQuestion
from tests.fixtures import files
from tests.fixtures.staff import sign_in
from tests.service.blueprints.clinic_referrals import (
    clinic_user,
    now,
    quote_form,
    referral_to,
    store_files,
    two_clinics,
)


@pytest.fixture
def clinics(db_session):
    return two_clinics()


@pytest.fixture
def user(clinics):
    return clinic_user(clinics[0])


@pytest.fixture
def portal(client, user):
    """A test client signed in as a user of the first clinic."""
    sign_in(client, user)
    return client


@pytest.fixture
def referral(clinics, storage):
    referral = referral_to(clinics[0], full_name="Aigerim Nurlanovna", email="aigerim@example.org",
                             phone="+77011234567", description="Aigerim here: knee pain for two years.",
                             travel_window="May 2026", budget=Decimal("15000"), budget_currency="EUR",
                             medications="Ibuprofen", allergies="none known")
    store_files(referral, storage)
    return referral


def events_of(case, kind: str | None = None) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    if kind:
        stmt = stmt.where(CaseEvent.kind == kind)
    return list(db.session.scalars(stmt))


def field_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no value for {name}"
    return match.group(1)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<ul class="field-errors" id="{field}-error">(.*?)</ul>', html, re.S)
    assert match, f"no error shown next to {field}"
    return match.group(1)


# ---------------------------------------------------------------- list


def test_index_leads_to_the_referral_list(portal):
    response = portal.get("/clinic/")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/clinic/referrals"


def test_the_list_shows_only_the_clinics_own_referrals_newest_first(portal, clinics):
    older = referral_to(clinics[0], age=timedelta(hours=5))
    newer = referral_to(clinics[0], age=timedelta(hours=1))
    other = referral_to(clinics[1], age=timedelta(hours=2))
    html = portal.get("/clinic/referrals").text
    assert other.case.reference not in html
    assert html.index(newer.case.reference) < html.index(older.case.reference)
    assert "Osseointegrated prosthesis" in html
    assert "Kazakhstan (KZ)" in html


def test_the_list_is_paginated(portal, clinics):
    made = [referral_to(clinics[0], age=timedelta(minutes=n + 1)) for n in range(PAGE_SIZE + 2)]
    first = portal.get("/clinic/referrals").text
    second = portal.get("/clinic/referrals?page=2").text
    assert all(r.case.reference in first for r in made[:PAGE_SIZE])
    assert made[PAGE_SIZE].case.reference not in first
    assert all(r.case.reference in second for r in made[PAGE_SIZE:])
    assert made[0].case.reference not in second
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert f"{PAGE_SIZE + 2} referrals" in first


def test_the_list_hides_the_patients_identity_until_released(portal, clinics):
    hidden = referral_to(clinics[0], full_name="Hidden Person", email="hidden@example.org", phone="+77010000001",
                           date_of_birth=date(1980, 1, 1))
    released = referral_to(clinics[0], full_name="Released Person", email="released@example.org",
                             phone="+77010000002")
    released.contact_released_at = now()
    db.session.commit()
    html = portal.get("/clinic/referrals").text
    for secret in ("Hidden Person", "hidden@example.org", "+77010000001", "1980-01-01"):
        assert secret not in html
    assert "Released Person" in html and "released@example.org" in html and "+77010000002" in html
    assert f"age {age_bracket(hidden.case.date_of_birth, date.today())}" in html


def test_age_brackets():
    today = date(2026, 6, 1)
    assert age_bracket(date(1980, 1, 1), today) == "40–49"
    assert age_bracket(date(2007, 1, 1), today) == "18–19"
    assert age_bracket(date(2010, 1, 1), today) == "under 18"
    assert age_bracket(None, today) == "not provided"


def _when(moment) -> str:
    """A time as the pages show it to a viewer whose zone is unknown: "7 December 2026, 20:37 UTC"."""
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def test_the_list_shows_the_answer_deadline_and_overdue(portal, clinics):
    on_time = referral_to(clinics[0], age=timedelta(hours=1))
    late = referral_to(clinics[0], age=timedelta(hours=80))
    html = portal.get("/clinic/referrals").text
    due = _when(on_time.created_at.replace(tzinfo=timezone.utc) + timedelta(hours=72))
    assert f"Answer by {due}" in html
    rows = re.findall(r'<tr class="referral-row[^"]*" data-referral="(\d+)"', html)
    overdue_rows = re.findall(r'<tr class="referral-row[^"]*is-overdue" data-referral="(\d+)"', html)
    assert set(rows) == {str(on_time.id), str(late.id)}
    assert overdue_rows == [str(late.id)]
    assert "Overdue" in html


def test_the_deadline_follows_the_pause_rules(portal, clinics):
    """A question answered after the referral gives the clinic the paused time back."""
    referral = referral_to(clinics[0], age=timedelta(hours=80))
    asked = referral.created_at + timedelta(hours=1)
    db.session.add(PatientQuestion(case=referral.case, question="X-rays?", asked_at=asked, resume_status="routed",
                                   answered_at=asked + timedelta(hours=10), answer="Attached."))
    db.session.commit()
    html = portal.get("/clinic/referrals").text
    due = _when(referral.created_at.replace(tzinfo=timezone.utc) + timedelta(hours=82))
    assert f"Answer by {due}" in html
    assert "is-overdue" not in html


def test_a_paused_clock_is_shown_and_never_overdue(portal, clinics):
    referral_to(clinics[0], age=timedelta(hours=80), sla_paused_since=now() - timedelta(hours=70),
                  status=CaseStatus.AWAITING_PATIENT)
    html = portal.get("/clinic/referrals").text
    assert "Paused" in html and "is-overdue" not in html


def test_answered_referrals_show_their_status_and_quote(portal, clinics, user):
    accepted = referral_to(clinics[0])
    quotes.accept(accepted, quotes.Terms(price="9900", currency="usd", earliest_date=date.today() + timedelta(days=9),
                                         stay_days=5, valid_until=date.today() + timedelta(days=40),
                                         includes=["treatment"]), user)
    declined = referral_to(clinics[0])
    quotes.decline(declined, "No surgeon available in May.", user)
    withdrawn = referral_to(clinics[0], referral_status=ReferralStatus.WITHDRAWN)
    db.session.commit()
    html = portal.get("/clinic/referrals").text
    assert "9,900.00 USD" in html and "Accepted" in html
    assert "Declined" in html and "No surgeon available in May." in html
    assert "Withdrawn by the agency" in html
    assert f'data-referral="{withdrawn.id}"' in html
    assert "Answer by" not in html


def test_the_empty_list_says_so(portal, clinics):
    referral_to(clinics[1])
    html = portal.get("/clinic/referrals").text
    assert "No referrals yet." in html
    assert "<table" not in html


# ---------------------------------------------------------------- the referral page


def test_the_referral_page_shows_the_case_without_identity(portal, referral):
    response = portal.get(f"/clinic/referrals/{referral.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    html = response.text
    for shown in ("Osseointegrated prosthesis", "knee pain for two years", "Ibuprofen", "none known", "May 2026",
                  "15,000.00 EUR", "Kazakhstan (KZ)", "46 years" if date.today() < date(2027, 1, 1) else "years"):
        assert shown in html
    for secret in ("Aigerim", "aigerim@example.org", "+77011234567", "Nurlanovna"):
        assert secret not in html
    assert "[redacted]" in html
    assert f'href="/clinic/referrals/{referral.id}/dossier"' in html
    for attachment in referral.case.attachments:
        assert f'href="/clinic/referrals/{referral.id}/attachments/{attachment.id}"' in html
    # Pending: accept, decline, ask; no revision.
    assert 'action="/clinic/referrals/%d/accept"' % referral.id in html
    assert 'action="/clinic/referrals/%d/decline"' % referral.id in html
    assert 'action="/clinic/referrals/%d/ask"' % referral.id in html
    assert "/revise" not in html


def test_the_identity_is_shown_once_released(portal, referral):
    referral.contact_released_at = now()
    db.session.commit()
    html = portal.get(f"/clinic/referrals/{referral.id}").text
    assert "Aigerim Nurlanovna" in html and "aigerim@example.org" in html and "+77011234567" in html
    assert "Aigerim here: knee pain" in html


def test_viewing_a_referral_is_audited(portal, referral, user):
    portal.get(f"/clinic/referrals/{referral.id}")
    [viewed] = events_of(referral.case, "case_viewed")
    assert viewed.actor == f"clinic:{user.email}"
    assert viewed.details == {"referral_id": referral.id}


def test_a_referral_without_its_dossier_yet_says_so(portal, clinics):
    referral = referral_to(clinics[0])
    html = portal.get(f"/clinic/referrals/{referral.id}").text
    assert "being prepared" in html
    assert portal.get(f"/clinic/referrals/{referral.id}/dossier").status_code == 404


def test_unknown_referral_is_404(portal):
    assert portal.get("/clinic/referrals/999999").status_code == 404


# ---------------------------------------------------------------- files


def test_the_dossier_goes_through_a_short_lived_link_and_is_recorded(portal, referral, user, app):
    response = portal.get(f"/clinic/referrals/{referral.id}/dossier")
    assert response.status_code == 303
    assert urlsplit(response.location).path.startswith("/files/")
    [opened] = events_of(referral.case, "file_opened")
    assert opened.actor == f"clinic:{user.email}"
    assert opened.details == {"file": f"{referral.case.reference}-dossier.pdf", "referral_id": referral.id}
    got = portal.get(response.location)
    assert got.data == files.pdf("Dossier")
    assert got.headers["Content-Disposition"].startswith("attachment")


def test_attachment_links_are_short_lived(portal, referral, app, monkeypatch):
    storage = app.extensions["storage"]
    asked: list[int] = []
    original = storage.url

    def url(key, **kwargs):
        asked.append(kwargs["expires_in"])
        return original(key, **kwargs)

    monkeypatch.setattr(storage, "url", url)
    knee = referral.case.attachments[0]
    response = portal.get(f"/clinic/referrals/{referral.id}/attachments/{knee.id}")
    assert response.status_code == 303
    assert asked == [app.config["DOWNLOAD_URL_TTL"]]
    got = portal.get(response.location)
    assert hashlib.sha256(got.data).hexdigest() == knee.sha256
    [opened] = events_of(referral.case, "file_opened")
    assert opened.details == {"file": "knee.png", "referral_id": referral.id}


def test_attachment_names_are_redacted_until_released(portal, clinics, storage):
    referral = referral_to(clinics[0], full_name="Dana Sultanova")
    _, [scan, _report] = store_files(referral, storage)
    scan.filename = "Sultanova-knee.png"
    db.session.commit()
    assert "Sultanova" not in portal.get(f"/clinic/referrals/{referral.id}").text
    response = portal.get(f"/clinic/referrals/{referral.id}/attachments/{scan.id}")
    assert "Sultanova" not in portal.get(response.location).headers["Content-Disposition"]
    [opened] = events_of(referral.case, "file_opened")
    assert "Sultanova" not in opened.details["file"]


# ---------------------------------------------------------------- answers


def test_accepting_with_a_quote(portal, referral, user):
    response = portal.post(f"/clinic/referrals/{referral.id}/accept",
                           data=quote_form(price="12,500.50", currency="TRY", includes=["treatment", "interpreter"]))
    assert response.status_code == 303
    assert urlsplit(response.location).path == f"/clinic/referrals/{referral.id}"
    db.session.expire_all()
    assert referral.status == ReferralStatus.ACCEPTED
    [quote] = referral.quotes
    assert (quote.price, quote.currency, quote.includes, quote.stay_days) == (
        Decimal("12500.50"), "TRY", ["treatment", "interpreter"], 7)
    [quoted] = events_of(referral.case, "clinic_quoted")
    assert quoted.actor == f"clinic:{user.email}"
    work = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == referral.case_id)).all()
    # The comparison for the patient, and the patient's "a first quote / quotes are ready" e-mail.
    assert sorted(m.job for m in work) == ["notify_patient_event", "render_quote_comparison"]
    assert all(m.status != "pending" for m in work)  # relayed after the commit
    html = portal.get(response.location).text
    assert "Your quote was sent" in html
    assert "12,500.50 TRY" in html and "Interpreter" in html
    assert 'action="/clinic/referrals/%d/revise"' % referral.id in html
    assert "/accept" not in html and "/decline" not in html
    # The revision form starts from the current terms.
    assert field_value(html, "price") == "12500.50"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"currency": "EUX"}, "currency", "ISO 4217"),
    ({"price": "0"}, "price", "more than zero"),
    ({"price": "-10"}, "price", "more than zero"),
    ({"valid_until": date.today().isoformat()}, "valid_until", "in the future"),
    ({"includes": ["stay"]}, "includes", "include the treatment"),
])
def test_a_refused_quote_shows_the_problem_next_to_the_field_and_keeps_the_input(
    portal, referral, changes, field, message,
):
    data = quote_form(notes="Typed with care.", **changes)
    response = portal.post(f"/clinic/referrals/{referral.id}/accept", data=data)
    assert response.status_code == 422
    html = response.text
    assert message in field_error(html, field)
    assert "There is a problem" in html
    assert field_value(html, "price") == data["price"]
    assert field_value(html, "valid_until") == data["valid_until"]
    assert "Typed with care." in html
    assert re.search(rf'<option selected value="{re.escape(data["currency"])}"', html) or data["currency"] == "EUX"
    db.session.expire_all()
    assert referral.status == ReferralStatus.PENDING and referral.quotes == []


def test_parse_errors_and_rule_errors_are_shown_together(portal, referral):
    response = portal.post(f"/clinic/referrals/{referral.id}/accept",
                           data=quote_form(earliest_date="not a date", price="-1", currency="EUX"))
    assert response.status_code == 422
    html = response.text
    assert field_error(html, "earliest_date")
    assert "more than zero" in field_error(html, "price")
    assert "ISO 4217" in field_error(html, "currency")
    assert 'value="not a date"' in html


def test_declining_with_a_reason(portal, referral, user):
    response = portal.post(f"/clinic/referrals/{referral.id}/decline", data={"reason": "No surgeon in May."})
    assert response.status_code == 303
    db.session.expire_all()
    assert (referral.status, referral.decline_reason) == (ReferralStatus.DECLINED, "No surgeon in May.")
    [declined] = events_of(referral.case, "clinic_declined")
    assert declined.actor == f"clinic:{user.email}"
    html = portal.get(response.location).text
    assert "You declined this referral" in html and "No surgeon in May." in html
    assert "There is nothing to answer" in html


def test_declining_needs_a_reason(portal, referral):
    response = portal.post(f"/clinic/referrals/{referral.id}/decline", data={"reason": "  "})
    assert response.status_code == 422
    assert "Give a reason." in field_error(response.text, "reason")
    db.session.expire_all()
    assert referral.status == ReferralStatus.PENDING


def test_declining_after_accepting_is_refused_with_a_message(portal, referral):
    portal.post(f"/clinic/referrals/{referral.id}/accept", data=quote_form())
    response = portal.post(f"/clinic/referrals/{referral.id}/decline", data={"reason": "Changed our mind."})
    assert response.status_code == 422
    assert "This referral was already answered." in response.text
    assert 'id="answer-error"' in response.text
    db.session.expire_all()
    assert referral.status == ReferralStatus.ACCEPTED and referral.decline_reason is None
    assert events_of(referral.case, "clinic_declined") == []


def test_revising_a_quote(portal, referral, user):
    portal.post(f"/clinic/referrals/{referral.id}/accept", data=quote_form())
    response = portal.post(f"/clinic/referrals/{referral.id}/revise",
                           data=quote_form(price="11000", includes=["treatment", "stay", "transfers"]))
    assert response.status_code == 303
    db.session.expire_all()
    first, second = referral.quotes
    assert (second.version, second.price, second.counts) == (2, Decimal("11000.00"), False)
    [revised] = events_of(referral.case, "quote_revised")
    assert revised.actor == f"clinic:{user.email}"
    html = portal.get(response.location).text
    assert "waiting for the patient" in html.lower()
    assert "12,500.00" in html and "11,000.00" in html
    assert "Airport and hospital transfers" in html
    assert field_value(html, "price") == "11000.00"  # the next revision starts from the latest


def test_the_history_shows_a_revision_the_patient_accepted(portal, referral, user):
    portal.post(f"/clinic/referrals/{referral.id}/accept", data=quote_form())
    portal.post(f"/clinic/referrals/{referral.id}/revise", data=quote_form(price="11000"))
    db.session.expire_all()
    quotes.accept_revision(referral.case, referral.quotes[1].id)
    db.session.commit()
    html = portal.get(f"/clinic/referrals/{referral.id}").text
    version_two = html[html.index('id="quote-v2"'):html.index('id="quote-v1"')]
    version_one = html[html.index('id="quote-v1"'):]
    assert "Accepted by the patient" in version_two and "Counts" in version_two
    assert "Changed from version 1" in version_two and "12500.00" in version_two and "11000.00" in version_two
    assert "Counts" not in version_one


def test_a_revision_that_changes_nothing_is_refused(portal, referral):
    portal.post(f"/clinic/referrals/{referral.id}/accept", data=quote_form())
    response = portal.post(f"/clinic/referrals/{referral.id}/revise", data=quote_form())
    assert response.status_code == 422
    assert "changes nothing" in response.text
    db.session.expire_all()
    assert len(referral.quotes) == 1


def test_a_revision_with_a_bad_field_keeps_the_input(portal, referral):
    portal.post(f"/clinic/referrals/{referral.id}/accept", data=quote_form())
    response = portal.post(f"/clinic/referrals/{referral.id}/revise", data=quote_form(price="0", notes="New notes"))
    assert response.status_code == 422
    assert "more than zero" in field_error(response.text, "price")
    assert field_value(response.text, "price") == "0"
    assert "New notes" in response.text


def test_asking_the_agency(portal, referral, user):
    response = portal.post(f"/clinic/referrals/{referral.id}/ask", data={"question": "Is an MRI available?"})
    assert response.status_code == 303
    [asked] = events_of(referral.case, "clinic_question")
    assert asked.actor == f"clinic:{user.email}"
    assert asked.details["question"] == "Is an MRI available?"
    assert "Your question was sent" in portal.get(response.location).text


def test_an_empty_question_is_refused(portal, referral):
    response = portal.post(f"/clinic/referrals/{referral.id}/ask", data={"question": ""})
    assert response.status_code == 422
    assert "Write your question." in field_error(response.text, "question")


def test_a_closed_case_offers_no_answer_and_refuses_them(portal, referral):
    referral.case.status = CaseStatus.CLOSED
    db.session.commit()
    html = portal.get(f"/clinic/referrals/{referral.id}").text
    assert "There is nothing to answer" in html
    response = portal.post(f"/clinic/referrals/{referral.id}/ask", data={"question": "Still there?"})
    assert response.status_code == 422
    assert "This case is closed" in response.text


def test_the_chosen_quote_is_marked(portal, referral, user):
    portal.post(f"/clinic/referrals/{referral.id}/accept", data=quote_form())
    db.session.expire_all()
    quotes.choose(referral.case, referral.quotes[0].id)
    db.session.commit()
    assert "Chosen by the patient" in portal.get(f"/clinic/referrals/{referral.id}").text


def test_csrf_is_required(app, portal, referral):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = portal.post(f"/clinic/referrals/{referral.id}/ask", data={"question": "No token?"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code in (400, 422)
    assert events_of(referral.case, "clinic_question") == []


# ---------------------------------------------------------------- de-identified copies


def attach(referral, storage, name: str, content_type: str, data: bytes, *, derive: bool = True):
    """One file of the referral's case, stored, and (as the worker would) derived."""
    import uuid

    from service.cases import derivatives
    from service.models import Attachment

    key = f"cases/{referral.case_id}/attachments/{uuid.uuid4()}"
    stored = storage.put(key, io.BytesIO(data), content_type=content_type, filename=name)
    attachment = Attachment(case=referral.case, filename=name, storage_key=key, content_type=content_type,
                            size=stored.size, sha256=stored.sha256)
    db.session.add(attachment)
    db.session.flush()
    if derive:
        derivatives.derive(attachment, storage, secret="test")
    db.session.commit()
    return attachment


def test_before_release_a_clinic_gets_the_clean_copy_and_never_the_original(portal, clinics, storage):
    from PIL import Image

    from tests.fixtures import photos

    referral = referral_to(clinics[0])
    photo = attach(referral, storage, "home.jpg", "image/jpeg", photos.gps_jpeg())
    page = portal.get(f"/clinic/referrals/{referral.id}").text
    assert "de-identified copy" in page and "original=1" not in page
    response = portal.get(f"/clinic/referrals/{referral.id}/attachments/{photo.id}")
    assert response.status_code == 303
    got = portal.get(response.location).data
    assert hashlib.sha256(got).hexdigest() != photo.sha256
    assert not Image.open(io.BytesIO(got)).getexif().get_ifd(0x8825)
    refused = portal.get(f"/clinic/referrals/{referral.id}/attachments/{photo.id}?original=1")
    assert refused.status_code == 409 and "releases the patient" in refused.text
    assert not events_of(referral.case, "original_downloaded")


def test_after_release_the_original_is_offered_and_each_download_is_on_the_timeline(portal, clinics, storage, user):
    from tests.fixtures import photos

    referral = referral_to(clinics[0])
    photo = attach(referral, storage, "home.jpg", "image/jpeg", photos.gps_jpeg())
    referral.contact_released_at = now()
    db.session.commit()
    page = portal.get(f"/clinic/referrals/{referral.id}").text
    assert f'/clinic/referrals/{referral.id}/attachments/{photo.id}?original=1' in page
    for _ in range(2):
        response = portal.get(f"/clinic/referrals/{referral.id}/attachments/{photo.id}?original=1")
        assert response.status_code == 303
        assert hashlib.sha256(portal.get(response.location).data).hexdigest() == photo.sha256
    downloads = events_of(referral.case, "original_downloaded")
    assert len(downloads) == 2
    assert downloads[0].actor == f"clinic:{user.email}"
    assert downloads[0].details["clinic_name"] == clinics[0].name


def test_a_file_without_a_clean_copy_is_withheld_from_the_clinic(portal, clinics, storage, tmp_path):
    from tests.fixtures import dicom_files

    referral = referral_to(clinics[0])
    index = dicom_files.dicomdir(tmp_path / "d", {"S1/I001": dicom_files.ct_series(1)[0]})
    withheld = attach(referral, storage, "DICOMDIR", "application/dicom", index.read_bytes())
    pending = attach(referral, storage, "later.png", "image/png", files.png(), derive=False)
    page = portal.get(f"/clinic/referrals/{referral.id}").text
    assert "no de-identified copy could be made" in page and "being prepared" in page
    assert f'/attachments/{withheld.id}"' not in page and f'/attachments/{pending.id}"' not in page
    for attachment in (withheld, pending):
        response = portal.get(f"/clinic/referrals/{referral.id}/attachments/{attachment.id}")
        assert response.status_code == 409
    assert not events_of(referral.case, "file_opened")
