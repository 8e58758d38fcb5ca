"""The authorisation table: EVERY route of the app × anonymous, a patient holding their
case's status link, a user of clinic A (the case's clinic), a user of clinic B, a
coordinator, an admin and a disabled user → the expected answer. A route added anywhere
without a row here fails `test_the_table_covers_every_route_of_the_app`.

The world: one case routed to clinic A (dossier, two files, a confirmation, clinic A's
quote), its status token (only the patient holds it; everybody else tries a token that
was never issued), a staff user to administer, a signed local download link and a
resumable upload started by another browser."""
from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from service.accounts.roles import ADMIN, COORDINATOR
from service.blueprints.tus import TUS_VERSION
from service.cases import derivatives, messages, quotes, reply_templates
from service.cases.paperwork_store import CONFIRMATION, document_key
from service.cases.tokens import new_token
from service.extensions import db
from service.models import Case, Document, Quote, Referral, User
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.staff import make_user, sign_in
from tests.service.accounts.support import fresh_limits  # noqa: F401
from tests.service.blueprints.clinic_referrals import clinic_user, quote_form, referral_to, store_files, two_clinics
from tests.service.blueprints.test_status_quotes import terms

PRINCIPALS = ("anonymous", "patient", "clinic_a", "clinic_b", "coordinator", "admin", "disabled")
# An expected answer: a status code, or LOGIN (a redirect to the staff or clinic sign-in page).
LOGIN = "login"
SIGN_IN_PAGES = ("/staff/login", "/clinic/login")
TUS = {"Tus-Resumable": TUS_VERSION}

Answer = int | str


@dataclass(frozen=True)
class World:
    case: Case
    token: str  # the patient's real token; everybody else holds a token never issued
    referral: Referral
    quote: Quote
    attachment_id: int
    document_id: int
    target: User
    download: str
    foreign_upload: str
    message_id: int  # a message the patient wrote on the case
    pdf_id: int      # the case's PDF (shown inline to staff)
    preview_id: int  # the worker-made preview of the first file

    @property
    def ref(self) -> str:
        return self.case.reference

    @property
    def status(self) -> str:
        return f"/s/{self.token}"

    @property
    def portal(self) -> str:
        return f"/clinic/referrals/{self.referral.id}"


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    path: Callable[[World], str]
    expected: dict[str, Answer]
    data: Callable[[World], dict[str, Any]] = lambda w: {}
    headers: dict[str, str] | None = None


def everyone(answer: Answer) -> dict[str, Answer]:
    return dict.fromkeys(PRINCIPALS, answer)


def staff(anonymous: Answer, coordinator: Answer, admin: Answer, disabled: Answer,
          clinic: Answer = 403) -> dict[str, Answer]:
    """A staff route: the patient is anonymous there; clinic users are signed in but no staff."""
    return {"anonymous": anonymous, "patient": anonymous, "clinic_a": clinic, "clinic_b": clinic,
            "coordinator": coordinator, "admin": admin, "disabled": disabled}


def portal(own: Answer, other: Answer = 404) -> dict[str, Answer]:
    """A clinic portal route of clinic A's referral: B gets 404 (as for an id that does not
    exist), staff 403, the signed-out and the disabled go to the clinic sign-in."""
    return {"anonymous": LOGIN, "patient": LOGIN, "clinic_a": own, "clinic_b": other,
            "coordinator": 403, "admin": 403, "disabled": LOGIN}


def calendar_feed(w: World) -> str:
    """The patient holds the e-mailed calendar key; everybody else one signed for nothing."""
    from service.cases.tokens import hash_token
    from service.cases.trip_calendar import feed_key

    key = feed_key(w.case) if hash_token(w.token) == w.case.token_hash else "WzEsIngiXQ.forged"
    return f"/s/calendar/{key}/trip.ics"


def patient_link(answer: Answer) -> dict[str, Answer]:
    """A status route: it opens for the link's holder only; without it, 404."""
    return {**everyone(404), "patient": answer}


STAFF_PAGE = staff(LOGIN, 200, 200, LOGIN)
STAFF_REDIRECT = staff(LOGIN, 303, 303, LOGIN)
ADMIN_ONLY = staff(LOGIN, 403, 303, LOGIN)
ADMIN_PAGE = staff(LOGIN, 403, 200, LOGIN)

# Ordered so that nothing a row changes is needed by a later one; the sign-outs come last.
TABLE: tuple[Row, ...] = (
    # --- public pages -------------------------------------------------------------------
    Row("GET", "/", lambda w: "/", everyone(200)),
    Row("GET", "/healthz", lambda w: "/healthz", everyone(200)),
    Row("GET", "/favicon.ico", lambda w: "/favicon.ico", everyone(301)),
    Row("GET", "/privacy", lambda w: "/privacy", everyone(200)),
    Row("GET", "/contact", lambda w: "/contact", everyone(200)),
    Row("GET", "/imprint", lambda w: "/imprint", everyone(200)),
    Row("GET", "/clinics", lambda w: "/clinics", everyone(200)),
    Row("GET", "/clinics/<slug>", lambda w: f"/clinics/{w.referral.clinic.slug}", everyone(200)),
    Row("GET", "/treatments", lambda w: "/treatments", everyone(200)),
    Row("GET", "/treatments/<slug>", lambda w: f"/treatments/{w.referral.case.treatment.slug}", everyone(200)),
    Row("GET", "/static/<path:filename>", lambda w: "/static/css/site.css", everyone(200)),
    Row("GET", "/requests/new", lambda w: "/requests/new", everyone(200)),
    Row("POST", "/requests/new", lambda w: "/requests/new", everyone(303), lambda w: valid_request()),
    # A signed, expiring link is the key itself: whoever holds it gets the file.
    Row("GET", "/files/<token>", lambda w: w.download, everyone(200)),
    # The browser reports its time zone (time-zone.js): anyone's own session, JSON only.
    Row("POST", "/time-zone", lambda w: "/time-zone", everyone(204), lambda w: '{"zone": "Europe/Berlin"}',
        headers={"Content-Type": "application/json"}),
    # --- resumable uploads: open to all, each upload only to the browser that started it --
    Row("OPTIONS", "/uploads", lambda w: "/uploads", everyone(204)),
    Row("POST", "/uploads", lambda w: "/uploads", everyone(201), headers={**TUS, "Upload-Length": "10"}),
    Row("HEAD", "/uploads/<upload_id>", lambda w: w.foreign_upload, everyone(404), headers=TUS),
    Row("PATCH", "/uploads/<upload_id>", lambda w: w.foreign_upload, everyone(404),
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}),
    Row("DELETE", "/uploads/<upload_id>", lambda w: w.foreign_upload, everyone(404), headers=TUS),
    # --- the JSON API ---------------------------------------------------------------------
    Row("GET", "/api/v1/openapi.json", lambda w: "/api/v1/openapi.json", everyone(200)),
    Row("POST", "/api/v1/requests", lambda w: "/api/v1/requests", everyone(201), lambda w: valid_request()),
    Row("GET", "/api/v1/requests/<token>", lambda w: f"/api/v1/requests/{w.token}", patient_link(200)),
    # --- the patient's status link --------------------------------------------------------
    Row("GET", "/s/<token>", lambda w: w.status, patient_link(200)),
    Row("GET", "/s/<token>/files/<int:attachment_id>", lambda w: f"{w.status}/files/{w.attachment_id}",
        patient_link(303)),
    Row("GET", "/s/<token>/documents/<slot>", lambda w: f"{w.status}/documents/{CONFIRMATION}", patient_link(303)),
    Row("GET", "/s/<token>/invoices/<int:invoice_id>", lambda w: f"{w.status}/invoices/{_invoice_id(w)}",
        patient_link(303)),
    Row("GET", "/s/<token>/trip.ics", lambda w: f"{w.status}/trip.ics", patient_link(200)),
    # The calendar link of the "travel booked" e-mail: only the case's own signed key opens it.
    Row("GET", "/s/calendar/<key>/trip.ics", lambda w: calendar_feed(w), patient_link(200)),
    Row("POST", "/s/<token>/files", lambda w: f"{w.status}/files", patient_link(303),
        lambda w: {"files": [upload(files.png(), "more.png")]}),
    # Not waiting on the patient: the answer is turned away to the page, nothing recorded.
    Row("POST", "/s/<token>/answer", lambda w: f"{w.status}/answer", patient_link(303),
        lambda w: {"reply-body": "An answer nobody asked for."}),
    Row("POST", "/s/<token>/messages", lambda w: f"{w.status}/messages", patient_link(303),
        lambda w: {"message-body": "When should I arrive?"}),
    Row("GET", "/s/<token>/quotes/<int:quote_id>/choose", lambda w: f"{w.status}/quotes/{w.quote.id}/choose",
        patient_link(200)),
    Row("GET", "/s/<token>/withdraw", lambda w: f"{w.status}/withdraw", patient_link(200)),
    Row("POST", "/s/<token>/quotes/<int:quote_id>/accept-revision",
        lambda w: f"{w.status}/quotes/{w.quote.id}/accept-revision", patient_link(422)),
    Row("POST", "/s/<token>/quotes/<int:quote_id>/choose", lambda w: f"{w.status}/quotes/{w.quote.id}/choose",
        patient_link(303)),
    Row("POST", "/s/<token>/withdraw", lambda w: f"{w.status}/withdraw", patient_link(303)),
    Row("GET", "/s/erased", lambda w: "/s/erased", everyone(200)),
    # Getting back in: open to all, and saying nothing about whose link or address it is.
    Row("GET", "/s/lost", lambda w: "/s/lost", everyone(200)),
    Row("POST", "/s/lost", lambda w: "/s/lost", everyone(422)),
    Row("GET", "/s/open/<opener>", lambda w: "/s/open/not-an-opener", everyone(410)),
    # --- the clinic portal ----------------------------------------------------------------
    Row("GET", "/clinic/", lambda w: "/clinic/", {**portal(302, 302)}),
    Row("GET", "/clinic/referrals", lambda w: "/clinic/referrals", {**portal(200, 200)}),
    Row("GET", "/clinic/referrals/<int:referral_id>", lambda w: w.portal, portal(200)),
    Row("GET", "/clinic/referrals/<int:referral_id>/dossier", lambda w: f"{w.portal}/dossier", portal(303)),
    Row("GET", "/clinic/referrals/<int:referral_id>/attachments/<int:attachment_id>",
        lambda w: f"{w.portal}/attachments/{w.attachment_id}", portal(303)),
    Row("GET", "/clinic/referrals/<int:referral_id>/attachments/<int:attachment_id>/previews/<int:derived_id>",
        lambda w: f"{w.portal}/attachments/{w.attachment_id}/previews/{w.preview_id}", portal(200)),
    Row("POST", "/clinic/referrals/<int:referral_id>/ask", lambda w: f"{w.portal}/ask", portal(303),
        lambda w: {"question": "Is there an MRI?"}),
    Row("POST", "/clinic/referrals/<int:referral_id>/revise", lambda w: f"{w.portal}/revise", portal(303),
        lambda w: quote_form(price="13000")),
    # Clinic A already quoted: its accept and decline reach the rules and are refused there (422).
    Row("POST", "/clinic/referrals/<int:referral_id>/accept", lambda w: f"{w.portal}/accept", portal(422),
        lambda w: quote_form()),
    Row("POST", "/clinic/referrals/<int:referral_id>/decline", lambda w: f"{w.portal}/decline", portal(422),
        lambda w: {"reason": "No surgeon available."}),
    # Clinic A's referral is not chosen: entering the trip's dates is refused (422).
    Row("POST", "/clinic/referrals/<int:referral_id>/trip-dates", lambda w: f"{w.portal}/trip-dates", portal(422),
        lambda w: {"admission": "2099-01-10"}),
    # --- the staff console ----------------------------------------------------------------
    Row("GET", "/staff/", lambda w: "/staff/", staff(LOGIN, 302, 302, LOGIN)),
    Row("GET", "/staff/cases", lambda w: "/staff/cases", STAFF_PAGE),
    Row("GET", "/staff/cases.csv", lambda w: "/staff/cases.csv", STAFF_PAGE),
    Row("GET", "/staff/cases/<reference>", lambda w: f"/staff/cases/{w.ref}", STAFF_PAGE),
    Row("GET", "/staff/cases/<reference>/audit.csv", lambda w: f"/staff/cases/{w.ref}/audit.csv", ADMIN_PAGE),
    Row("GET", "/staff/cases/<reference>/attachments/<int:attachment_id>",
        lambda w: f"/staff/cases/{w.ref}/attachments/{w.attachment_id}", STAFF_REDIRECT),
    Row("GET", "/staff/cases/<reference>/attachments/<int:attachment_id>/preview",
        lambda w: f"/staff/cases/{w.ref}/attachments/{w.pdf_id}/preview", STAFF_PAGE),
    Row("GET", "/staff/cases/<reference>/attachments/<int:attachment_id>/previews/<int:derived_id>",
        lambda w: f"/staff/cases/{w.ref}/attachments/{w.attachment_id}/previews/{w.preview_id}", STAFF_PAGE),
    Row("GET", "/staff/cases/<reference>/documents/<int:document_id>",
        lambda w: f"/staff/cases/{w.ref}/documents/{w.document_id}", STAFF_REDIRECT),
    Row("POST", "/staff/cases/<reference>/actions/<action>",
        lambda w: f"/staff/cases/{w.ref}/actions/add_note", STAFF_REDIRECT,
        lambda w: {"version": _version(w.case), "body": "Called the patient back."}),
    Row("GET", "/staff/cases/<reference>/referrals/<int:referral_id>/release",
        lambda w: f"/staff/cases/{w.ref}/referrals/{w.referral.id}/release", STAFF_PAGE),
    Row("POST", "/staff/cases/<reference>/referrals/<int:referral_id>/release",
        lambda w: f"/staff/cases/{w.ref}/referrals/{w.referral.id}/release", STAFF_REDIRECT,
        lambda w: {"version": _version(w.case), "referral_id": str(w.referral.id), "override": "y",
                   "reason": "The patient asked us to, by phone."}),
    Row("POST", "/staff/cases/<reference>/messages", lambda w: f"/staff/cases/{w.ref}/messages", STAFF_REDIRECT,
        lambda w: {"body": "We received your files.", "intent": "send"}),
    Row("POST", "/staff/cases/<reference>/messages/<int:message_id>/forward",
        lambda w: f"/staff/cases/{w.ref}/messages/{w.message_id}/forward", STAFF_REDIRECT,
        lambda w: {"referral_id": str(w.referral.id)}),
    # The world's case is not chosen for staff (only the patient chooses): issuing is refused by the rules.
    Row("POST", "/staff/cases/<reference>/invoices", lambda w: f"/staff/cases/{w.ref}/invoices",
        staff(LOGIN, 422, 422, LOGIN), lambda w: {"amount": "1500", "currency": "EUR", "due_on": "2099-01-01"}),
    Row("POST", "/staff/cases/<reference>/invoices/<int:invoice_id>/payments",
        lambda w: f"/staff/cases/{w.ref}/invoices/{_invoice_id(w)}/payments", STAFF_REDIRECT,
        lambda w: {"kind": "payment", "amount": "10", "received_on": "2000-01-01"}),
    # Paid on by the row above, the invoice can no longer be cancelled: refused by the rules.
    Row("POST", "/staff/cases/<reference>/invoices/<int:invoice_id>/cancel",
        lambda w: f"/staff/cases/{w.ref}/invoices/{_invoice_id(w)}/cancel", staff(LOGIN, 422, 422, LOGIN)),
    # The trip: the world's case is not chosen, so every change is refused by the rules (422).
    Row("GET", "/staff/cases/<reference>/trip", lambda w: f"/staff/cases/{w.ref}/trip", STAFF_PAGE),
    Row("POST", "/staff/cases/<reference>/trip/travellers", lambda w: f"/staff/cases/{w.ref}/trip/travellers",
        staff(LOGIN, 422, 422, LOGIN), lambda w: _traveller_form("new-traveller")),
    Row("POST", "/staff/cases/<reference>/trip/travellers/<int:traveller_id>",
        lambda w: f"/staff/cases/{w.ref}/trip/travellers/{_traveller_id(w)}", staff(LOGIN, 422, 422, LOGIN),
        lambda w: _traveller_form(f"traveller-{_traveller_id(w)}", given_names="Aigerim Nurlanqyzy")),
    Row("POST", "/staff/cases/<reference>/trip/travellers/<int:traveller_id>/remove",
        lambda w: f"/staff/cases/{w.ref}/trip/travellers/{_traveller_id(w)}/remove", staff(LOGIN, 422, 422, LOGIN)),
    Row("POST", "/staff/cases/<reference>/trip/legs/<kind>", lambda w: f"/staff/cases/{w.ref}/trip/legs/admission",
        staff(LOGIN, 422, 422, LOGIN), lambda w: {"new-admission-on_date": "2099-01-10"}),
    Row("POST", "/staff/cases/<reference>/trip/legs/<int:leg_id>",
        lambda w: f"/staff/cases/{w.ref}/trip/legs/{_leg_id(w)}", staff(LOGIN, 422, 422, LOGIN),
        lambda w: {f"leg-{_leg_id(w)}-on_date": "2099-01-11"}),
    Row("POST", "/staff/cases/<reference>/trip/legs/<int:leg_id>/remove",
        lambda w: f"/staff/cases/{w.ref}/trip/legs/{_leg_id(w)}/remove", staff(LOGIN, 422, 422, LOGIN)),
    Row("GET", "/staff/dashboard", lambda w: "/staff/dashboard", STAFF_PAGE),
    Row("GET", "/staff/catalogue", lambda w: "/staff/catalogue", ADMIN_PAGE),
    Row("POST", "/staff/catalogue/<slug>", lambda w: f"/staff/catalogue/{w.referral.clinic.slug}", ADMIN_ONLY,
        lambda w: {"capacity": "9", "accepting": "y"}),
    Row("GET", "/staff/templates", lambda w: "/staff/templates", ADMIN_PAGE),
    Row("GET", "/staff/templates/new", lambda w: "/staff/templates/new", ADMIN_PAGE),
    Row("POST", "/staff/templates/new", lambda w: "/staff/templates/new", ADMIN_ONLY,
        lambda w: {"key": "insurance", "title": "Insurance", "kind": "question",
                   "body_en": "Which insurer?", "body_ru": "Какая страховка?"}),
    Row("GET", "/staff/templates/<int:template_id>", lambda w: f"/staff/templates/{_template_id('companion')}",
        ADMIN_PAGE),
    Row("POST", "/staff/templates/<int:template_id>", lambda w: f"/staff/templates/{_template_id('companion')}",
        ADMIN_ONLY, lambda w: {"key": "companion", "title": "Companion", "kind": "question",
                               "body_en": "Who travels with you?", "body_ru": "Кто поедет с вами?"}),
    Row("POST", "/staff/templates/<int:template_id>/delete",
        lambda w: f"/staff/templates/{_template_id('companion')}/delete", ADMIN_ONLY),
    Row("GET", "/staff/users", lambda w: "/staff/users", ADMIN_PAGE),
    Row("POST", "/staff/users", lambda w: "/staff/users", ADMIN_ONLY,
        lambda w: {"email": "new.coordinator@medtour.example", "role": COORDINATOR,
                   "password": "a long enough password", "capacity": "12"}),
    Row("POST", "/staff/users/<int:user_id>/capacity", lambda w: f"/staff/users/{w.target.id}/capacity",
        ADMIN_ONLY, lambda w: {"capacity": "7"}),
    Row("POST", "/staff/users/<int:user_id>/name", lambda w: f"/staff/users/{w.target.id}/name",
        ADMIN_ONLY, lambda w: {"full_name": "Marta Kowalska"}),
    Row("POST", "/staff/users/<int:user_id>/disable", lambda w: f"/staff/users/{w.target.id}/disable", ADMIN_ONLY),
    Row("POST", "/staff/users/<int:user_id>/enable", lambda w: f"/staff/users/{w.target.id}/enable", ADMIN_ONLY),
    Row("POST", "/staff/users/<int:user_id>/sessions/revoke", lambda w: f"/staff/users/{w.target.id}/sessions/revoke",
        ADMIN_ONLY),
    Row("POST", "/staff/users/<int:user_id>/reset", lambda w: f"/staff/users/{w.target.id}/reset", ADMIN_ONLY),
    # --- sign-in pages: open to everyone; the signed-in are sent on ------------------------
    Row("GET", "/staff/login", lambda w: "/staff/login", staff(200, 302, 302, 200, LOGIN)),
    Row("POST", "/staff/login", lambda w: "/staff/login", staff(422, 302, 302, 422, LOGIN)),
    Row("GET", "/staff/login/code", lambda w: "/staff/login/code", everyone(LOGIN)),
    Row("POST", "/staff/login/code", lambda w: "/staff/login/code", everyone(LOGIN)),
    Row("GET", "/clinic/login", lambda w: "/clinic/login", {**everyone(200), "clinic_a": 302, "clinic_b": 302}),
    Row("POST", "/clinic/login", lambda w: "/clinic/login", {**everyone(422), "clinic_a": 302, "clinic_b": 302}),
    Row("GET", "/clinic/login/link", lambda w: "/clinic/login/link", everyone(200)),
    Row("POST", "/clinic/login/link", lambda w: "/clinic/login/link", everyone(422)),
    Row("GET", "/clinic/login/link/<token>", lambda w: "/clinic/login/link/not-a-link", everyone(410)),
    Row("POST", "/clinic/login/link/<token>", lambda w: "/clinic/login/link/not-a-link", everyone(410)),
    # --- a password reset link's page: open to everyone holding a link ----------------------
    Row("GET", "/staff/reset/<token>", lambda w: "/staff/reset/not-a-link", everyone(410)),
    Row("POST", "/staff/reset/<token>", lambda w: "/staff/reset/not-a-link", everyone(410)),
    Row("GET", "/clinic/reset/<token>", lambda w: "/clinic/reset/not-a-link", everyone(410)),
    Row("POST", "/clinic/reset/<token>", lambda w: "/clinic/reset/not-a-link", everyone(410)),
    # --- last: what ends the world ----------------------------------------------------------
    Row("POST", "/s/<token>/erase", lambda w: f"{w.status}/erase", patient_link(303),
        lambda w: {"reference": w.ref}),
    # Rotation ends the link too, so it can only come after erasure here, where nothing opens
    # any more; tests/service/blueprints/test_status_access.py proves the patient's rotation.
    Row("POST", "/s/<token>/rotate", lambda w: f"{w.status}/rotate", everyone(404)),
    # Signing out everywhere ends only the caller's own sessions, so, like signing out,
    # it is open to whoever is signed in (and sends the signed-out to sign in).
    Row("POST", "/clinic/sessions/revoke", lambda w: "/clinic/sessions/revoke", everyone(LOGIN)),
    Row("POST", "/staff/sessions/revoke", lambda w: "/staff/sessions/revoke", everyone(LOGIN)),
    Row("POST", "/clinic/logout", lambda w: "/clinic/logout", everyone(LOGIN)),
    Row("POST", "/staff/logout", lambda w: "/staff/logout", everyone(LOGIN)),
)


def served_routes(app: Flask) -> set[tuple[str, str]]:
    """(method, rule) for every route; HEAD and OPTIONS only where a view answers them itself."""
    served = set()
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"HEAD", "OPTIONS"} or rule.methods - {"OPTIONS"} or {"OPTIONS"}
        served.update((method, rule.rule) for method in methods)
    return served


def _version(case: Case) -> int:
    db.session.refresh(case)
    return case.version


def _traveller_form(prefix: str, **changes: str) -> dict[str, str]:
    values = {"role": "patient", "given_names": "Aigerim", "surname": "Nurlanova", "nationality": "KZ",
              "passport_number": "N12345678", "passport_expiry": "2099-01-01", "date_of_birth": "1984-05-17"}
    values.update(changes)
    return {f"{prefix}-{key}": value for key, value in values.items()}


def _traveller_id(w: World) -> int:
    """The world's traveller (its patient), made on first use."""
    from service.models import Traveller
    from tests.fixtures.trips import add_passport

    found = db.session.scalar(select(Traveller.id).where(Traveller.case_id == w.case.id))
    if found is None:
        found = add_passport(w.case).id
        db.session.commit()
    return found


def _leg_id(w: World) -> int:
    """The world's admission date, made on first use."""
    from service.models import TripLeg
    from tests.fixtures.trips import make_leg

    found = db.session.scalar(select(TripLeg.id).where(TripLeg.case_id == w.case.id))
    if found is None:
        found = make_leg(w.case, "admission", on_date=date(2099, 1, 9)).id
        db.session.commit()
    return found


def _invoice_id(w: World) -> int:
    """The world's deposit invoice (100 EUR) with its stored PDF's row, made on first use."""
    from service.cases.paperwork_store import invoice_slot
    from service.models import Invoice

    found = db.session.scalar(select(Invoice).where(Invoice.case_id == w.case.id))
    if found is None:
        found = Invoice(case_id=w.case.id, number=f"{w.ref}-D1", amount=100, currency="EUR",
                        due_on=date(2099, 1, 1), payment_reference=f"{w.ref}-D1")
        db.session.add(found)
        db.session.flush()
        slot = invoice_slot(found.id)
        db.session.add(Document(case_id=w.case.id, kind="invoice", slot=slot, language="en",
                                storage_key=document_key(w.case.id, slot), size=1, sha256="0" * 64, pages=1))
        db.session.commit()
    return found.id


def _template_id(key: str) -> int:
    """A seeded reply template's id (seeded by migration 0011)."""
    return reply_templates.by_key(key).id


def _answer(response) -> Answer:
    if response.status_code in (302, 303) and urlsplit(response.location).path in SIGN_IN_PAGES:
        return LOGIN
    return response.status_code


def _foreign_upload(app: Flask) -> str:
    """A resumable upload started by another browser (session)."""
    response = app.test_client().post("/uploads", headers={**TUS, "Upload-Length": "10"})
    assert response.status_code == 201
    return urlsplit(response.location).path


def build_world(app: Flask, storage, principal: str) -> World:
    clinic_a, _ = two_clinics()
    token, digest = new_token()
    referral = referral_to(clinic_a, token_hash=digest)
    _, attachments = store_files(referral, storage)
    case = referral.case
    quote = quotes.accept(referral, terms(), clinic_user(clinic_a))
    key = document_key(case.id, CONFIRMATION)
    stored = storage.put(key, io.BytesIO(files.pdf()), content_type="application/pdf", filename="c.pdf")
    confirmation = Document(case_id=case.id, kind=CONFIRMATION, slot=CONFIRMATION, language="en",
                            storage_key=key, size=stored.size, sha256=stored.sha256, pages=1)
    db.session.add(confirmation)
    db.session.commit()
    download = storage.url(attachments[0].storage_key, filename=attachments[0].filename,
                           content_type=attachments[0].content_type, expires_in=300)
    message = messages.post_patient_message(case, "Here is my latest X-ray.", [])
    db.session.commit()
    return World(
        case=case, token=token if principal == "patient" else new_token()[0], referral=referral, quote=quote,
        attachment_id=attachments[0].id, document_id=confirmation.id, target=make_user(COORDINATOR),
        download=download, foreign_upload=_foreign_upload(app), message_id=message.id,
        pdf_id=attachments[1].id, preview_id=derivatives.file_view(attachments[0]).preview.id,
    )


def sign_in_as(client, principal: str, world: World) -> None:
    if principal in ("anonymous", "patient"):
        return
    if principal in ("clinic_a", "clinic_b"):
        clinic_a, clinic_b = two_clinics()
        assert world.referral.clinic_id == clinic_a.id
        sign_in(client, clinic_user(clinic_a if principal == "clinic_a" else clinic_b))
        return
    user = make_user(ADMIN if principal == "admin" else COORDINATOR)
    sign_in(client, user)
    if principal == "disabled":
        user.active = False
        db.session.commit()


def each_response(client, world: World, **options: Any) -> Iterator[tuple[Row, Any]]:
    """Every row requested, in the table's order, by whoever the client is signed in as."""
    for row in TABLE:
        yield row, client.open(row.path(world), method=row.method, data=row.data(world), headers=row.headers,
                               **options)


def walk(client, world: World) -> dict[tuple[str, str], Answer]:
    return {(row.method, row.rule): _answer(response) for row, response in each_response(client, world)}


def test_the_table_covers_every_route_of_the_app(app):
    assert {(row.method, row.rule) for row in TABLE} == served_routes(app)


def test_every_row_names_every_principal():
    assert all(set(row.expected) == set(PRINCIPALS) for row in TABLE)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_route_answers_each_principal_as_the_table_says(app, client, storage, principal):
    world = build_world(app, storage, principal)
    sign_in_as(client, principal, world)
    expected = {(row.method, row.rule): row.expected[principal] for row in TABLE}
    assert walk(client, world) == expected



def test_a_patient_link_opens_its_own_case_only(app, client, storage):
    """Through case X's link, case Y's files and quotes answer exactly as ids that do not
    exist (404 to look, 422 "no such quote" to decide) and nothing changes; a link never
    issued is 404; Y's own link shows nothing of X."""
    mine = build_world(app, storage, "patient")
    _, clinic_b = two_clinics()
    other_token, other_digest = new_token()
    other = referral_to(clinic_b, token_hash=other_digest)
    _, other_files = store_files(other, storage)
    other_quote = quotes.accept(other, terms(), clinic_user(clinic_b))
    db.session.commit()
    before = (mine.case.status, other.case.status, other.case.chosen_quote_id)

    def answers(attachment_id: int, quote_id: int) -> list[int]:
        return [client.open(path, method=method).status_code for method, path in (
            ("GET", f"{mine.status}/files/{attachment_id}"),
            ("GET", f"{mine.status}/quotes/{quote_id}/choose"),
            ("POST", f"{mine.status}/quotes/{quote_id}/choose"),
            ("POST", f"{mine.status}/quotes/{quote_id}/accept-revision"),
        )]

    assert answers(other_files[0].id, other_quote.id) == answers(10_000_000, 10_000_000) == [404, 404, 422, 422]
    db.session.expire_all()
    assert (mine.case.status, other.case.status, other.case.chosen_quote_id) == before
    for never_issued in (f"/s/{new_token()[0]}", f"/api/v1/requests/{new_token()[0]}", f"/s/{mine.token[:-1]}"):
        assert client.get(never_issued).status_code == 404
    assert client.get(mine.status).status_code == 200
    other_page = client.get(f"/s/{other_token}").text
    assert other.case.reference in other_page and mine.ref not in other_page
