"""The case's conversation: the patient's messages and files, staff's, forwarding to
one clinic, the quoted part of e-mail replies, erasure."""
from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import select

from service.cases import erasure, messages
from service.extensions import db
from service.models import Attachment, CaseMessage, Notification, Referral
from service.outbox import Job
from service.uploads import inspect
from tests.fixtures import files
from tests.fixtures.cases import make_case, rows
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.staff import make_user


def incoming(name: str = "result.pdf", data: bytes | None = None):
    checked = inspect(name, io.BytesIO(data if data is not None else files.pdf()), 10 * 1024 * 1024)
    assert not hasattr(checked, "problem"), checked
    return checked


def test_a_message_with_a_pdf_stores_it_with_its_sha256_and_it_counts_to_the_limit(app_ctx, storage):
    case = make_case()
    data = files.pdf("Blood test")
    message = messages.post_patient_message(case, "Here are my results.", [incoming(data=data)])
    messages.commit_or_clean(message)
    stored = db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
    assert stored.message_id == message.id
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert messages.thread(case)[0].attachments == [stored]
    assert messages.intake.attachment_count(case) == 1


def test_a_message_past_the_case_file_limit_is_refused_whole(app_ctx, storage):
    case = make_case()
    first = messages.post_patient_message(case, "ten files", [incoming(f"f{i}.pdf") for i in range(10)])
    messages.commit_or_clean(first)
    with pytest.raises(messages.MessageRefused, match="10"):
        messages.post_patient_message(case, "one more", [incoming("eleventh.pdf")])
    db.session.rollback()
    assert db.session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id)).all() == [first]


def test_an_automatic_message_notifies_nobody(app_ctx, storage):
    case = make_case(assignee=make_user())
    messages.post_patient_message(case, "I am out of office", [], source="email", automatic=True)
    assert rows(case, Job.NOTIFY_STAFF_PATIENT_WROTE) == []


def test_the_assignee_is_emailed_once_per_patient_message_without_its_text(app, app_ctx, storage, smtp_server, smtp_url):
    coordinator = make_user()
    case = make_case(assignee=coordinator)
    message = messages.post_patient_message(case, "My knee hurts more", [])
    messages.commit_or_clean(message)
    app.config["MAIL_URL"] = smtp_url
    try:
        assert run_pending(Job.NOTIFY_STAFF_PATIENT_WROTE) == 1
        messages.notify_assignee(case, message_id=message.id)  # a second run sends nothing
    finally:
        app.config["MAIL_URL"] = None
    received = smtp_server.to(coordinator.email)
    assert len(received) == 1
    assert case.reference in received[0] and f"/staff/cases/{case.reference}" in received[0]
    assert "knee" not in received[0]
    assert db.session.scalars(select(Notification.kind).where(Notification.case_id == case.id)).all() == [
        f"patient_wrote:{message.id}"
    ]


@pytest.mark.parametrize("text, new", [
    ("Thanks!\n\nOn Tue, 1 Dec 2026 at 10:00, Medtour <noreply@medtour.example> wrote:\n> Hello", "Thanks!"),
    ("Thanks!\nOn Tue, 1 Dec 2026 at 10:00, Medtour <noreply@medtour.example>\nwrote:\n> Hello", "Thanks!"),
    ("Спасибо!\n\n01.12.2026 10:00, Medtour пишет:\n> Здравствуйте", "Спасибо!"),
    ("Спасибо!\n\nИван Петров написал(а):\n> Здравствуйте", "Спасибо!"),
    ("Fine.\n-----Original Message-----\nFrom: Medtour", "Fine."),
    ("Yes, next week.\n\n> When can you travel?\n> Medtour", "Yes, next week."),
])
def test_split_quoted_folds_the_quote_of_a_reply(text, new):
    shown, quoted = messages.split_quoted(text)
    assert shown == new and quoted and text.endswith(quoted.splitlines()[-1])


def test_split_quoted_keeps_a_message_without_quote_whole():
    assert messages.split_quoted("Line one\n> not a trailing quote\nmy answer") == (
        "Line one\n> not a trailing quote\nmy answer", "")


def _referral(case, clinic_slug: str) -> Referral:
    from service.models import Clinic

    clinic = db.session.scalars(select(Clinic).where(Clinic.slug == clinic_slug)).one()
    referral = Referral(case=case, clinic=clinic, status="pending", score=1.0, reasons=[])
    db.session.add(referral)
    db.session.flush()
    return referral


def _two_clinics(case):
    from service.models import Clinic

    slugs = db.session.scalars(select(Clinic.slug).order_by(Clinic.id).limit(2)).all()
    return [_referral(case, slug) for slug in slugs]


def test_forwarding_shows_one_message_and_its_files_to_one_clinic_only(app_ctx, storage):
    case = make_case()
    staff = make_user()
    chosen, other = _two_clinics(case)
    forwarded = messages.post_patient_message(case, "Forward me", [incoming("xray.pdf")])
    kept = messages.post_patient_message(case, "Private to the agency", [incoming("private.pdf")])
    messages.forward_to_referral(case, staff, forwarded, chosen)
    assert [m.body for m in messages.forwarded_to(chosen)] == ["Forward me"]
    assert [a.filename for a in messages.clinic_attachments(chosen)] == ["xray.pdf"]
    assert messages.forwarded_to(other) == [] and messages.clinic_attachments(other) == []
    assert kept.id not in {m.id for m in messages.forwarded_to(chosen)}
    assert rows(case, Job.RENDER_DOSSIER)
    with pytest.raises(messages.MessageRefused, match="already"):
        messages.forward_to_referral(case, staff, forwarded, chosen)


def test_erasure_removes_message_texts_and_files(app_ctx, storage):
    case = make_case()
    message = messages.post_patient_message(case, "My diagnosis is secret", [incoming("scan.pdf")])
    messages.commit_or_clean(message)
    key = db.session.scalars(select(Attachment.storage_key).where(Attachment.message_id == message.id)).one()
    erasure.erase(case, storage)
    db.session.expire_all()
    assert db.session.get(CaseMessage, message.id).body == erasure.ERASED
    assert db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []
    with pytest.raises(FileNotFoundError):
        storage.open(key)
