"""The case file's Messages section over HTTP: the thread (quotes folded, automatic
replies marked, refused files listed, files through the staff download route), the
reply (a STAFF message and the patient's e-mail job), templates filled and previewed
in the patient's language, forwarding one message to one clinic, who may do each, and
that a clinic never sees a message it was not forwarded, on its page or in its dossier."""
from __future__ import annotations

import io
import re
from html import unescape

import pytest
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import select

from service.accounts.roles import COORDINATOR
from service.cases import derivatives, events, messages, reply_templates
from service.cases.paperwork_store import store_dossier
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Attachment, CaseEvent, CaseMessage, Referral, ReplyTemplate
from service.models.message import Direction
from service.outbox import Job
from service.store import get_storage
from service.uploads import inspect
from tests.fixtures import files
from tests.fixtures.cases import make_case, rows
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.referrals import find_clinic, make_referral
from tests.fixtures.staff import make_user, sign_in
from tests.service.blueprints.clinic_referrals import clinic_user, two_clinics

FORWARDED = "The swelling is worse since Monday."
PRIVATE = "Please do not tell the clinic about my debts."


def incoming(name: str, data: bytes):
    checked = inspect(name, io.BytesIO(data), 10 * 1024 * 1024)
    assert not hasattr(checked, "problem"), checked
    return checked


def patient_writes(case, body: str, attachments=(), **options) -> CaseMessage:
    message = messages.post_patient_message(case, body, list(attachments), **options)
    messages.commit_or_clean(message)
    for attachment in message.attachments:  # the worker's previews and clinic copies
        derivatives.derive(attachment, get_storage(), secret="test")
    db.session.commit()
    return message


def case_page(client, case) -> str:
    page = client.get(f"/staff/cases/{case.reference}")
    assert page.status_code == 200, page.text
    return page.text


def reply(client, case, **data):
    return client.post(f"/staff/cases/{case.reference}/messages", data=data)


def textarea(page: str) -> str:
    """What the reply box holds, as the browser reads it."""
    return unescape(re.search(r'<textarea id="reply-body"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def _referrals(case) -> list[Referral]:
    return list(db.session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)))


def case_messages(case) -> list[CaseMessage]:
    return list(db.session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.id)))


@pytest.fixture
def routed(db_session, storage):
    """A Russian patient's case referred to two clinics (both still working on it)."""
    first, second = two_clinics()
    case = make_case(status=CaseStatus.ROUTED, language="ru", full_name="Амина Петрова")
    make_referral(case, first)
    make_referral(case, second)
    db.session.commit()
    return case


# ---------------------------------------------------------------- the thread


def test_the_thread_shows_both_sides_newest_first_with_quotes_folded(staff_client, storage, coordinator):
    case = make_case(assignee=coordinator)
    db.session.commit()
    web = patient_writes(case, "My knee hurts more at night.", [incoming("bloods.pdf", files.pdf("Blood test"))])
    patient_writes(case, "Thanks, here it is.\n\nOn Tue, 1 Dec 2026 at 10:00, Medtour <noreply@medtour.example> wrote:\n"
                         "> Could you send the X-ray?", [], source="email",
                   refused_files=[{"filename": "setup.exe", "reason": "setup.exe is not an accepted type."}])
    patient_writes(case, "I am out of the office until Monday.", [], source="email", automatic=True)
    messages.post_staff_message(case, coordinator, "We passed it on to the clinic.")
    db.session.commit()

    page = case_page(staff_client, case)
    section = page[page.index('id="messages"'):page.index('id="notes"')]
    # Newest first, like the timeline.
    order = [section.index(text) for text in (
        "We passed it on to the clinic.", "I am out of the office", "Thanks, here it is.", "My knee hurts more at night.",
    )]
    assert order == sorted(order)
    # The e-mail's quote is folded, but kept.
    folded = re.search(r'<details class="quoted">(.*?)</details>', section, re.S).group(1)
    assert "Could you send the X-ray?" in unescape(folded) and "Thanks, here it is." not in folded
    assert "automatic reply" in section
    assert "setup.exe: setup.exe is not an accepted type." in section
    # The message's file, through the staff download route (recorded, short-lived link).
    bloods = db.session.scalars(select(Attachment).where(Attachment.message_id == web.id)).one()
    link = f"/staff/cases/{case.reference}/attachments/{bloods.id}"
    assert f'href="{link}"' in section
    assert staff_client.get(link).status_code == 303
    assert coordinator.email in section and "Messages (4)" in section


def test_a_case_without_messages_says_so(staff_client):
    case = make_case()
    db.session.commit()
    assert "No messages yet." in case_page(staff_client, case)


# ---------------------------------------------------------------- replying


def test_a_reply_is_a_staff_message_and_the_patient_is_emailed_once_without_its_text(
    app, staff_client, coordinator, smtp_server, smtp_url,
):
    case = make_case()
    db.session.commit()
    response = reply(staff_client, case, body="Your clinic answered: see your status page.", intent="send")
    assert response.status_code == 303 and response.location.endswith(f"/staff/cases/{case.reference}#messages")

    message, = case_messages(case)
    assert (message.direction, message.author, message.body) == (
        Direction.STAFF, events.Actor.user(coordinator), "Your clinic answered: see your status page.")
    assert db.session.scalars(select(CaseEvent.kind).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == events.EventKind.STAFF_MESSAGE)).all() == ["staff_message"]
    job, = rows(case, Job.NOTIFY_PATIENT_EVENT)
    assert job.payload["event"] == "coordinator_message" and job.payload["ref"] == message.id

    app.config["MAIL_URL"] = smtp_url
    try:
        assert run_pending(Job.NOTIFY_PATIENT_EVENT) == 1
    finally:
        app.config["MAIL_URL"] = None
    received = smtp_server.to(case.email)
    assert len(received) == 1 and case.reference in received[0]
    assert "Your clinic answered" not in received[0]
    assert "Your clinic answered: see your status page." in case_page(staff_client, case)


@pytest.mark.parametrize("body, problem", [
    ("", "Message to the patient: Write the message first."),
    ("x" * 5001, "Message to the patient: Keep the message under 5,000 characters."),
    ("Dear patient, {clinic} will call you.", "Replace {clinic} in the message before sending it."),
])
def test_a_refused_reply_is_422_keeps_the_text_and_records_nothing(staff_client, body, problem):
    case = make_case()
    db.session.commit()
    response = reply(staff_client, case, body=body, intent="send")
    assert response.status_code == 422
    assert str(escape(problem)) in response.text
    assert textarea(response.text) == body
    assert case_messages(case) == [] and rows(case, Job.NOTIFY_PATIENT_EVENT) == []


# ---------------------------------------------------------------- templates and preview


def test_a_template_is_filled_and_previewed_in_russian_for_a_russian_case(staff_client, routed):
    clinic = two_clinics()[0]
    template = reply_templates.by_key("travel-dates")
    referral = next(r for r in _referrals(routed) if r.clinic_id == clinic.id)

    response = reply(staff_client, routed, template="travel-dates", clinic=str(referral.id), intent="template")
    assert response.status_code == 200, response.text
    expected = (template.body_ru.replace("{patient_first_name}", "Амина").replace("{clinic}", clinic.name))
    assert textarea(response.text) == expected
    preview = re.search(r'<div class="reply-preview".*?</div>', response.text, re.S).group(0)
    assert "Preview in Russian" in preview and 'lang="ru"' in preview
    assert "Здравствуйте, Амина!" in unescape(preview) and escape(clinic.name) in preview
    assert "{" not in preview
    # Nothing is sent until "Send".
    assert case_messages(routed) == [] and rows(routed, Job.NOTIFY_PATIENT_EVENT) == []

    assert reply(staff_client, routed, body=expected, intent="send").status_code == 303
    message, = case_messages(routed)
    assert message.body == expected


def test_an_english_case_gets_the_english_text(staff_client):
    case = make_case(language="en", full_name="John Smith")
    db.session.commit()
    response = reply(staff_client, case, template="passport-copy", intent="template")
    assert response.status_code == 200
    text = textarea(response.text)
    assert text.startswith("Dear John,") and case.reference in text
    assert "Preview in English" in response.text


def test_a_clinic_the_case_file_cannot_tell_is_left_for_the_coordinator(staff_client, routed):
    """Two open referrals and none picked: {clinic} stays, the preview says so, and
    sending it is refused until it is replaced."""
    response = reply(staff_client, routed, template="companion", intent="template")
    assert response.status_code == 200
    assert "{clinic}" in textarea(response.text)
    assert "Replace {clinic}" in response.text and "pick the clinic above" in response.text
    refused = reply(staff_client, routed, body=textarea(response.text), intent="send")
    assert refused.status_code == 422 and case_messages(routed) == []


def test_preview_fills_the_placeholders_typed_and_keeps_what_was_written(staff_client):
    case = make_case(full_name="Olga Ivanova")
    db.session.commit()
    response = reply(staff_client, case, body="Hello {patient_first_name}, your reference is {reference}.",
                     intent="preview")
    assert response.status_code == 200
    assert textarea(response.text) == f"Hello Olga, your reference is {case.reference}."
    assert case_messages(case) == []


def test_a_template_added_to_typed_text_keeps_the_text(staff_client):
    case = make_case()
    db.session.commit()
    response = reply(staff_client, case, body="First line I typed.", template="files-received", intent="template")
    assert textarea(response.text).startswith("First line I typed.\n\nDear ")


def test_picking_no_template_is_refused_by_name(staff_client):
    case = make_case()
    db.session.commit()
    response = reply(staff_client, case, body="Kept.", template="", intent="template")
    assert response.status_code == 422 and "Template: Choose a template first." in response.text
    assert textarea(response.text) == "Kept."


def test_the_picker_lists_the_templates_by_kind(staff_client):
    case = make_case()
    db.session.commit()
    page = case_page(staff_client, case)
    questions = page[page.index('<optgroup label="Questions">'):page.index('<optgroup label="Replies">')]
    assert "Missing X-ray" in questions and "Files received" not in questions
    assert "Files received" in page[page.index('<optgroup label="Replies">'):]


# ---------------------------------------------------------------- forwarding


def test_forwarding_shows_the_message_and_its_file_to_that_clinic_only(app, staff_client, routed, storage):
    first, second = _referrals(routed)
    message = patient_writes(routed, FORWARDED, [incoming("swelling.pdf", files.pdf("Swelling photo"))])
    attachment = message.attachments[0]
    dossiers_before = {r.id for r in rows(routed, Job.RENDER_DOSSIER)}

    response = staff_client.post(f"/staff/cases/{routed.reference}/messages/{message.id}/forward",
                                 data={"referral_id": str(first.id)})
    assert response.status_code == 303 and response.location.endswith(f"#message-{message.id}")
    event = db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == routed.id, CaseEvent.kind == events.EventKind.MESSAGE_FORWARDED)).one()
    assert event.details["referral_id"] == first.id and event.details["files"] == 1
    assert events.describe(event, staff=True) == f"Patient's message forwarded to {first.clinic.name}: its text and 1 file"
    # Only the clinic forwarded to gets its dossier rendered again, with the file.
    assert [r.payload["referral_id"] for r in rows(routed, Job.RENDER_DOSSIER)
                                         if r.id not in dossiers_before] == [first.id]
    page = case_page(staff_client, routed)
    assert re.search(rf"Forwarded to {re.escape(str(escape(first.clinic.name)))}\s+\(text and files\)\.", page)

    a_client, b_client = app.test_client(), app.test_client()
    sign_in(a_client, clinic_user(first.clinic))
    sign_in(b_client, clinic_user(second.clinic))
    a_page = a_client.get(f"/clinic/referrals/{first.id}").text
    b_page = b_client.get(f"/clinic/referrals/{second.id}").text
    assert FORWARDED in a_page and "swelling.pdf" in a_page
    assert FORWARDED not in b_page and "swelling.pdf" not in b_page
    assert a_client.get(f"/clinic/referrals/{first.id}/attachments/{attachment.id}").status_code == 303
    assert b_client.get(f"/clinic/referrals/{second.id}/attachments/{attachment.id}").status_code == 404


def test_forwarding_the_text_only_keeps_the_files_from_the_clinic_until_they_are_forwarded(
    app, staff_client, routed, storage,
):
    first, _ = _referrals(routed)
    message = patient_writes(routed, FORWARDED, [incoming("swelling.pdf", files.pdf("SwellingExhibit"))])
    attachment = message.attachments[0]
    path = f"/staff/cases/{routed.reference}/messages/{message.id}/forward"
    dossiers_before = {r.id for r in rows(routed, Job.RENDER_DOSSIER)}
    text_only = staff_client.post(path, data={"referral_id": str(first.id), "parts": "text"})
    assert text_only.status_code == 303
    assert [r for r in rows(routed, Job.RENDER_DOSSIER) if r.id not in dossiers_before] == []
    clinic = app.test_client()
    sign_in(clinic, clinic_user(first.clinic))
    page = clinic.get(f"/clinic/referrals/{first.id}").text
    assert FORWARDED in page and "swelling.pdf" not in page
    assert clinic.get(f"/clinic/referrals/{first.id}/attachments/{attachment.id}").status_code == 404
    dossier = _pdf_text(storage, store_dossier(first, storage, base_url="https://medtour.test", link_ttl=300).document.storage_key)
    assert "swelling.pdf" not in dossier and "SwellingExhibit" not in dossier

    # The case file offers what is left: the files, to the same clinic.
    staff_page = case_page(staff_client, routed)
    assert re.search(rf"Forwarded to {re.escape(str(escape(first.clinic.name)))}\s+\(text\)\.", staff_page)
    assert f'action="{path}"' in staff_page
    [forwarded] = db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == routed.id, CaseEvent.kind == events.EventKind.MESSAGE_FORWARDED)).all()
    assert events.describe(forwarded, staff=True) == f"Patient's message forwarded to {first.clinic.name}: its text"
    again = staff_client.post(path, data={"referral_id": str(first.id), "parts": "text"})
    assert again.status_code == 422 and "already forwarded" in again.text
    assert staff_client.post(path, data={"referral_id": str(first.id), "parts": "files"}).status_code == 303
    assert [r.payload["referral_id"] for r in rows(routed, Job.RENDER_DOSSIER) if r.id not in dossiers_before] == [
        first.id]
    assert clinic.get(f"/clinic/referrals/{first.id}/attachments/{attachment.id}").status_code == 303
    assert "swelling.pdf" in clinic.get(f"/clinic/referrals/{first.id}").text
    # Everything went to that clinic: no more form for it.
    form = re.search(rf'<form method="post" action="{path}".*?</form>', case_page(staff_client, routed), re.S).group(0)
    assert f'value="{first.id}"' not in form


def test_forwarding_nothing_is_refused(staff_client, routed, storage):
    first, _ = _referrals(routed)
    message = patient_writes(routed, "", [incoming("only-a-file.pdf", files.pdf("F"))])
    path = f"/staff/cases/{routed.reference}/messages/{message.id}/forward"
    refused = staff_client.post(path, data={"referral_id": str(first.id), "parts": "text"})
    assert refused.status_code == 422 and "Nothing to forward" in refused.text
    bad = staff_client.post(path, data={"referral_id": str(first.id), "parts": "everything"})
    assert bad.status_code == 422 and "What to forward: choose the text, the files or both." in bad.text


def test_forwarding_twice_or_a_staff_message_is_refused_and_another_cases_message_is_404(staff_client, routed, coordinator):
    first, _second = _referrals(routed)
    message = patient_writes(routed, FORWARDED)
    path = f"/staff/cases/{routed.reference}/messages/{message.id}/forward"
    assert staff_client.post(path, data={"referral_id": str(first.id)}).status_code == 303
    again = staff_client.post(path, data={"referral_id": str(first.id)})
    assert again.status_code == 422 and "already forwarded" in again.text
    ours = messages.post_staff_message(routed, coordinator, "Noted.")
    db.session.commit()
    refused = staff_client.post(f"/staff/cases/{routed.reference}/messages/{ours.id}/forward",
                                data={"referral_id": str(first.id)})
    assert refused.status_code == 422 and "Only the patient&#39;s own messages" in refused.text
    nobody = staff_client.post(path, data={})
    assert nobody.status_code == 422 and "Choose the clinic to forward to." in nobody.text
    other = make_case()
    db.session.commit()
    assert staff_client.post(f"/staff/cases/{other.reference}/messages/{message.id}/forward",
                             data={"referral_id": str(first.id)}).status_code == 404
    # A referral of another case is no choice either.
    other_referral = make_referral(other, find_clinic())
    db.session.commit()
    wrong = staff_client.post(path, data={"referral_id": str(other_referral.id)})
    assert wrong.status_code == 422
    assert len(db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == routed.id, CaseEvent.kind == events.EventKind.MESSAGE_FORWARDED)).all()) == 1


def test_only_open_referrals_are_offered_for_forwarding(staff_client, routed):
    first, second = _referrals(routed)
    second.status = ReferralStatus.DECLINED
    message = patient_writes(routed, FORWARDED)
    page = case_page(staff_client, routed)
    form = re.search(rf'<form method="post" action="/staff/cases/{routed.reference}/messages/{message.id}/forward".*?</form>',
                     page, re.S).group(0)
    assert f'value="{first.id}"' in form and f'value="{second.id}"' not in form


# ---------------------------------------------------------------- who may


def test_who_may_reply_and_forward_is_who_may_act_on_the_case(app, routed):
    """A coordinator not assigned to the case gets what the other staff actions give
    them (the case file's actions are open to every coordinator); a clinic user gets
    403 and the signed-out go to sign in, as for any action."""
    first, _ = _referrals(routed)
    routed.assignee = make_user(COORDINATOR)
    message = patient_writes(routed, FORWARDED)
    answers = {}
    for who in ("other coordinator", "clinic", "anonymous"):
        client = app.test_client()
        if who == "other coordinator":
            sign_in(client, make_user(COORDINATOR))
        elif who == "clinic":
            sign_in(client, clinic_user(first.clinic))
        db.session.refresh(routed)
        act = client.post(f"/staff/cases/{routed.reference}/actions/add_note",
                          data={"version": routed.version, "body": "Called back."})
        sent = reply(client, routed, body="Hello from another coordinator.", intent="send")
        forwarded = client.post(f"/staff/cases/{routed.reference}/messages/{message.id}/forward",
                                data={"referral_id": str(first.id)})
        answers[who] = (act.status_code, sent.status_code, forwarded.status_code)
        if who == "anonymous":
            assert all("/staff/login" in r.location for r in (act, sent, forwarded))
    assert answers == {"other coordinator": (303, 303, 303), "clinic": (403, 403, 403), "anonymous": (302, 302, 302)}
    assert [m.body for m in case_messages(routed) if m.direction == Direction.STAFF] == [
        "Hello from another coordinator."]


# ---------------------------------------------------------------- clinics never see the rest


def _pdf_text(storage, key: str) -> str:
    with storage.open(key) as stream:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(stream.read())).pages)


def test_a_clinic_page_and_dossier_never_show_an_unforwarded_message(app, staff_client, routed, storage):
    first, _ = _referrals(routed)
    forwarded = patient_writes(routed, FORWARDED, [incoming("forwarded-scan.pdf", files.pdf("ForwardedExhibit"))])
    patient_writes(routed, PRIVATE, [incoming("private-scan.pdf", files.pdf("PrivateExhibit"))])
    private_file = db.session.scalars(select(Attachment).where(Attachment.filename == "private-scan.pdf")).one()
    assert staff_client.post(f"/staff/cases/{routed.reference}/messages/{forwarded.id}/forward",
                             data={"referral_id": str(first.id)}).status_code == 303

    clinic = app.test_client()
    sign_in(clinic, clinic_user(first.clinic))
    page = clinic.get(f"/clinic/referrals/{first.id}").text
    assert FORWARDED in page and "forwarded-scan.pdf" in page
    assert PRIVATE not in unescape(page) and "private-scan.pdf" not in page
    assert clinic.get(f"/clinic/referrals/{first.id}/attachments/{private_file.id}").status_code == 404

    saved = store_dossier(first, storage, base_url="https://medtour.test", link_ttl=300)
    dossier = _pdf_text(storage, saved.document.storage_key)
    assert "forwarded-scan.pdf" in dossier and "ForwardedExhibit" in dossier
    assert "private-scan.pdf" not in dossier and "PrivateExhibit" not in dossier
    assert "debts" not in dossier


def test_templates_in_the_picker_are_the_ones_on_record(staff_client):
    """A template an admin adds is offered in every case file at once."""
    db.session.add(ReplyTemplate(key="ask-insurance", title="Insurance details", kind="question",
                                 body_en="Which insurer covers you?", body_ru="Какая у вас страховка?"))
    case = make_case()
    db.session.commit()
    assert '<option value="ask-insurance">Insurance details</option>' in case_page(staff_client, case)


def test_the_reply_and_forward_forms_carry_the_csrf_token_and_need_it(app, staff_client, routed, monkeypatch):
    first, _ = _referrals(routed)
    message = patient_writes(routed, FORWARDED)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    forward = f"/staff/cases/{routed.reference}/messages/{message.id}/forward"
    for path, data in ((f"/staff/cases/{routed.reference}/messages", {"body": "Hello.", "intent": "send"}),
                       (forward, {"referral_id": str(first.id)})):
        assert staff_client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    assert case_messages(routed) == [message]
    page = case_page(staff_client, routed)
    reply_form = page[page.index('class="reply-form"'):]
    token = re.search(r'name="csrf_token" value="([^"]+)"', reply_form).group(1)
    assert reply(staff_client, routed, body="Hello.", intent="send", csrf_token=token).status_code == 303
    assert staff_client.post(forward, data={"referral_id": str(first.id), "csrf_token": token}).status_code == 303
