"""Isolation between clinics is absolute: a user of clinic A gets 404 for every
referral, dossier, attachment and answer of clinic B, whatever id or URL it tries,
even for a case both clinics were referred, and nothing of B's changes or is recorded.

The URLs are taken from the app's own URL map, so a route added to the portal later is
tried here too without editing this file."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.models import Attachment, CaseEvent, DerivedFile, Document, Quote, Referral
from service.models.derived import Purpose
from tests.fixtures.staff import sign_in
from tests.service.blueprints.clinic_referrals import (
    clinic_user,
    quote_form,
    referral_to,
    store_files,
    two_clinics,
)

PORTAL = "clinic_portal."


def _portal_rules(app) -> list:
    """Every portal URL that names a referral (all but the list and the index)."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(PORTAL) and "referral_id" in r.arguments]
    assert rules, "the portal has no referral routes?"
    return rules


def _urls(app, referral_id: int, attachment_ids: list[int]) -> list[tuple[str, str]]:
    """(method, path) for every portal route, filled with the given ids."""
    urls = []
    for rule in _portal_rules(app):
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        fills = [{"attachment_id": a} for a in attachment_ids] if "attachment_id" in rule.arguments else [{}]
        if "derived_id" in rule.arguments:  # a file's real preview, through the wrong referral
            fills = [{**fill, "derived_id": _preview_id(fill["attachment_id"])} for fill in fills]
        for fill in fills:
            with app.test_request_context():
                from flask import url_for

                path = url_for(rule.endpoint, referral_id=referral_id, **fill)
            urls.extend((method, path) for method in methods)
    return urls


def _preview_id(attachment_id: int) -> int:
    found = db.session.scalar(select(DerivedFile.id).where(
        DerivedFile.attachment_id == attachment_id, DerivedFile.purpose == Purpose.PREVIEW))
    return found or 10_000_000


def _body(path: str) -> dict:
    """A valid answer for the POST routes, so only the ownership check can refuse it."""
    if path.endswith("/accept") or path.endswith("/revise"):
        return quote_form()
    if path.endswith("/decline"):
        return {"reason": "No surgeon available."}
    if path.endswith("/ask"):
        return {"question": "Is there an MRI?"}
    return {}


def _counts(case_id: int) -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case_id)),
        db.session.scalar(select(func.count(Quote.id))),
        db.session.scalar(select(func.count(Referral.id)).where(Referral.responded_at.is_not(None))),
    )


@pytest.fixture
def world(db_session, storage):
    """Clinic A's user; a case only clinic B has (dossier, two files); and a case both were
    referred (A's referral and B's referral of it, each with its dossier)."""
    a, b = two_clinics()
    user = clinic_user(a)
    b_only = referral_to(b)
    _, b_files = store_files(b_only, storage)
    shared_case_ref_a = referral_to(a)
    store_files(shared_case_ref_a, storage)
    shared_ref_b = Referral(case=shared_case_ref_a.case, clinic=b, score=1.0, reasons=[], status="pending")
    db.session.add(shared_ref_b)
    db.session.commit()
    return {"user": user, "a": a, "b": b, "b_only": b_only, "b_files": b_files,
            "own": shared_case_ref_a, "shared_b": shared_ref_b}


def test_every_portal_url_of_another_clinic_is_404(app, client, world):
    sign_in(client, world["user"])
    b_only, shared_b, own = world["b_only"], world["shared_b"], world["own"]
    b_attachments = [a.id for a in world["b_files"]]
    own_attachments = [a.id for a in db.session.scalars(select(Attachment).where(Attachment.case_id == own.case_id))]
    tried = (
        _urls(app, b_only.id, b_attachments)
        # The same case as A's own referral, through B's referral of it.
        + _urls(app, shared_b.id, own_attachments)
        # Ids that do not exist answer exactly the same.
        + _urls(app, 10_000_000, [10_000_000])
    )
    before = {r.case_id: _counts(r.case_id) for r in (b_only, shared_b)}
    answers = {}
    for method, path in tried:
        response = client.open(path, method=method, data=_body(path))
        answers[(method, path)] = response.status_code
    assert answers and set(answers.values()) == {404}, {k: v for k, v in answers.items() if v != 404}
    # Every route was tried, for GET and POST alike.
    endpoints = {r.endpoint for r in _portal_rules(app)}
    tried_endpoints = {app.url_map.bind("").match(p, method=m)[0] for m, p in tried}
    assert tried_endpoints == endpoints
    assert {m for m, _ in tried} == {"GET", "POST"}
    # Refused means untouched: no event (not even a view), no quote, no answer.
    assert {r.case_id: _counts(r.case_id) for r in (b_only, shared_b)} == before


def test_a_file_of_another_case_is_404_through_the_clinics_own_referral(client, world):
    """Owning a referral opens that case's files only, not any file by id."""
    sign_in(client, world["user"])
    own = world["own"]
    assert client.get(f"/clinic/referrals/{own.id}").status_code == 200
    for attachment in world["b_files"]:
        assert client.get(f"/clinic/referrals/{own.id}/attachments/{attachment.id}").status_code == 404


def test_the_list_and_the_own_referral_page_show_nothing_of_the_other_clinic(client, world):
    sign_in(client, world["user"])
    listing = client.get("/clinic/referrals").text
    assert world["b_only"].case.reference not in listing
    assert f'data-referral="{world["shared_b"].id}"' not in listing
    page = client.get(f"/clinic/referrals/{world['own'].id}").text
    assert world["b"].name not in page
    # B's dossier of the shared case is not offered on A's page.
    b_dossier = db.session.scalar(select(Document).where(Document.referral_id == world["shared_b"].id))
    assert b_dossier is None or b_dossier.storage_key not in page


def test_the_own_referral_routes_do_answer(client, world):
    """The 404s above come from ownership, not from broken routes: the same URLs with
    the clinic's own ids answer."""
    sign_in(client, world["user"])
    own = world["own"]
    attachment = db.session.scalars(select(Attachment).where(Attachment.case_id == own.case_id)).first()
    assert client.get(f"/clinic/referrals/{own.id}").status_code == 200
    assert client.get(f"/clinic/referrals/{own.id}/dossier").status_code == 303
    assert client.get(f"/clinic/referrals/{own.id}/attachments/{attachment.id}").status_code == 303
    assert client.post(f"/clinic/referrals/{own.id}/ask", data={"question": "MRI?"}).status_code == 303
