"""The lifecycle e-mails to the patient, end to end: the event's hook records the job,
the job sends through the real SMTP sink once, in the case's language, with the
reply headers and a working single-use opener, and never the case's health data."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage

from sqlalchemy import select

from service.accounts.roles import CLINIC
from service.cases import messages, openers, paperwork_store, patient_mail, quotes, workflow
from service.cases.patient_mail import PatientEvent
from service.cases.status import CaseStatus, ReferralStatus
from service.extensions import db
from service.models import Clinic, Notification, PatientQuestion, Referral
from service.notifications import reply_address
from service.outbox import Job
from tests.fixtures.cases import make_case, rows
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.smtp import Mailbox
from tests.fixtures.staff import make_user
from workers import schedule

TODAY = date.today()
QUESTION = "Please send the X-ray of your left knee from March."
DESCRIPTION = "Constant pain in the left knee since the accident."


def send_pending() -> int:
    return run_pending(Job.NOTIFY_PATIENT_EVENT)


def received(mailbox: Mailbox, case) -> list[EmailMessage]:
    return [m for e, m in zip(mailbox.envelopes, mailbox.messages()) if case.email in e.rcpt_tos]


def body(message: EmailMessage) -> str:
    return message.get_content()


def opener_of(message: EmailMessage) -> str:
    prefix = openers.url("SECRET").removesuffix("SECRET")
    match = re.search(re.escape(prefix) + r"(\S+)", body(message))
    assert match, body(message)
    return match[1]


def ledger(case) -> list[str]:
    return list(db.session.scalars(
        select(Notification.kind).where(Notification.case_id == case.id).order_by(Notification.id)
    ))


def terms(**changes) -> quotes.Terms:
    values = dict(price="12500", currency="EUR", earliest_date=TODAY + timedelta(days=30), stay_days=7,
                  valid_until=TODAY + timedelta(days=60), includes=["treatment", "stay"], notes="")
    values.update(changes)
    return quotes.Terms(**values)


def referred(count: int, **case_values):
    case = make_case(status=CaseStatus.ROUTED, description=DESCRIPTION, **case_values)
    clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.slug).limit(count)))
    made = [Referral(case=case, clinic=c, score=1, reasons=[]) for c in clinics]
    db.session.add_all(made)
    db.session.flush()
    return case, made, [make_user(CLINIC, clinic_id=c.id) for c in clinics]


def ask(case, question: str = QUESTION) -> PatientQuestion:
    asked = workflow.perform(case, "request_info", make_user(), question=question)
    db.session.commit()
    return asked


def assert_clean(message: EmailMessage, case) -> None:
    """No health data: neither what the patient typed nor the treatment, nor the question."""
    text = f"{message['Subject']}\n{body(message)}"
    for secret in (case.description, case.treatment.name, QUESTION, "knee", "X-ray"):
        assert secret not in text
    assert case.reference in message["Subject"] and case.reference in body(message)


# ---------------------------------------------------------------- question


def test_a_question_emails_the_patient_once_with_headers_and_a_single_use_opener(mail):
    case = make_case(description=DESCRIPTION)
    ask(case)
    assert send_pending() == 1
    question = workflow.open_question(case)
    assert patient_mail.send(case, PatientEvent.QUESTION, ref=question.id) is False  # the ledger holds it
    [message] = received(mail, case)
    assert message["Subject"] == f"Medtour: your coordinator asked you a question ({case.reference})"
    assert "Your coordinator asked you a question" in body(message)
    assert_clean(message, case)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "en"
    assert message["Reply-To"] == reply_address.address_for(case.id)
    assert reply_address.case_id_from_message_ids([message["Message-ID"]]) == case.id
    assert ledger(case) == [f"patient_question:{question.id}"]

    raw = opener_of(message)
    assert openers.open(raw) == case
    assert openers.open(raw) is None  # single use


def test_a_russian_case_gets_the_russian_email(mail):
    case = make_case(language="ru", description="Боль в колене после аварии.")
    ask(case)
    send_pending()
    [message] = received(mail, case)
    assert message["Subject"] == f"Medtour: координатор задал вам вопрос ({case.reference})"
    assert "Координатор задал вам вопрос" in body(message) and "Здравствуйте" in body(message)
    assert "колен" not in body(message)
    assert message["Content-Language"] == "ru"


def test_a_question_answered_before_the_job_runs_is_not_emailed(mail):
    case = make_case()
    question = ask(case)
    workflow.patient_answered(case, question, "Here it is.")
    db.session.commit()
    send_pending()
    assert received(mail, case) == []


# ---------------------------------------------------------------- reminders


def test_reminders_after_3_and_7_days_then_never_again(mail):
    case = make_case()
    question = ask(case)
    send_pending()
    asked = question.asked_at

    assert patient_mail.remind_questions(asked + timedelta(days=2, hours=23)) == 0
    assert patient_mail.remind_questions(asked + timedelta(days=3, minutes=1)) == 1
    assert send_pending() == 1
    assert patient_mail.remind_questions(asked + timedelta(days=4)) == 0  # step 3 is in the ledger
    assert patient_mail.remind_questions(asked + timedelta(days=7, minutes=1)) == 1
    send_pending()
    for later in (8, 15, 60):
        assert patient_mail.remind_questions(asked + timedelta(days=later)) == 0
    send_pending()

    subjects = [m["Subject"] for m in received(mail, case)]
    assert subjects == [
        f"Medtour: your coordinator asked you a question ({case.reference})",
        f"Medtour: reminder: your coordinator is waiting for your answer ({case.reference})",
        f"Medtour: reminder: your coordinator is waiting for your answer ({case.reference})",
    ]
    assert ledger(case) == [
        f"patient_question:{question.id}",
        f"patient_question_reminder:{question.id}:3",
        f"patient_question_reminder:{question.id}:7",
    ]
    for message in received(mail, case)[1:]:
        assert_clean(message, case)
        assert "still waiting for your answer" in body(message)


def test_a_worker_down_over_both_steps_sends_only_the_latest_reminder(mail):
    case = make_case()
    question = ask(case)
    assert patient_mail.remind_questions(question.asked_at + timedelta(days=9)) == 1
    assert patient_mail.remind_questions(question.asked_at + timedelta(days=10)) == 1  # not sent yet: asked again
    send_pending()
    assert ledger(case) == [f"patient_question:{question.id}", f"patient_question_reminder:{question.id}:7"]
    assert patient_mail.remind_questions(question.asked_at + timedelta(days=11)) == 0


def test_an_answered_question_is_not_reminded(mail):
    case = make_case()
    question = ask(case)
    workflow.patient_answered(case, question, "Here it is.")
    db.session.commit()
    assert patient_mail.remind_questions(question.asked_at + timedelta(days=3, hours=1)) == 0


def test_the_reminder_chore_is_in_the_workers_table():
    assert patient_mail.remind_questions in [entry.run for entry in schedule.PERIODIC]


# ---------------------------------------------------------------- quotes


def test_two_clinics_give_one_first_quote_email_and_one_all_answered_email(mail):
    case, (a, b), (user_a, user_b) = referred(2)
    quotes.accept(a, terms(), user_a)
    db.session.commit()
    send_pending()
    quotes.accept(b, terms(price="9900"), user_b)
    db.session.commit()
    send_pending()
    send_pending()
    patient_mail.send(case, PatientEvent.QUOTES_READY_FIRST)
    patient_mail.send(case, PatientEvent.QUOTES_READY_ALL)

    got = received(mail, case)
    assert [m["Subject"] for m in got] == [
        f"Medtour: a first quote is ready ({case.reference})",
        f"Medtour: quotes are ready ({case.reference})",
    ]
    assert "Quotes are ready" in body(got[1])
    for message in got:
        assert_clean(message, case)
        assert a.clinic.name not in body(message) and b.clinic.name not in body(message)
    assert ledger(case) == ["patient_quotes_ready_first", "patient_quotes_ready_all"]


def test_a_decline_and_an_overdue_clinic_count_as_answered(mail):
    case, (a, b, c), (user_a, user_b, _) = referred(3)
    quotes.accept(a, terms(), user_a)
    quotes.decline(b, "No surgeon free this spring", user_b)
    db.session.commit()
    send_pending()
    assert ledger(case) == ["patient_quotes_ready_first"]
    c.overdue_at = datetime.now(timezone.utc)
    assert patient_mail.referral_settled(case) is True
    db.session.commit()
    send_pending()
    assert ledger(case) == ["patient_quotes_ready_first", "patient_quotes_ready_all"]
    assert len(received(mail, case)) == 2


def test_one_clinic_quoting_alone_sends_only_the_all_answered_email(mail):
    case, (a,), (user_a,) = referred(1)
    quotes.accept(a, terms(), user_a)
    db.session.commit()
    send_pending()
    assert ledger(case) == ["patient_quotes_ready_all"]


def test_no_quote_at_all_sends_no_quotes_email(mail):
    case, (a, b), (user_a, user_b) = referred(2)
    quotes.decline(a, "Full", user_a)
    quotes.decline(b, "Full", user_b)
    db.session.commit()
    assert rows(case, Job.NOTIFY_PATIENT_EVENT) == []


def test_a_revised_quote_emails_the_patient_once(mail):
    case, (a, b), (user_a, _) = referred(2)
    quotes.accept(a, terms(), user_a)
    db.session.commit()
    send_pending()
    revision = quotes.revise(a, terms(price="11000"), user_a)
    db.session.commit()
    send_pending()
    patient_mail.send(case, PatientEvent.REVISED_QUOTE, ref=revision.id)
    got = received(mail, case)
    assert got[-1]["Subject"] == f"Medtour: a revised quote waits for your acceptance ({case.reference})"
    assert "11000" not in body(got[-1]) and "11 000" not in body(got[-1])
    assert ledger(case)[-1] == f"patient_revised_quote:{revision.id}"
    assert len(got) == 2


# ---------------------------------------------------------------- booking documents


def test_booking_documents_are_announced_once_the_summary_is_stored(mail, storage):
    case, (a, b), (user_a, user_b) = referred(2)
    quotes.accept(a, terms(), user_a)
    chosen = quotes.accept(b, terms(price="9900"), user_b)
    quotes.choose(case, chosen.id)
    db.session.commit()
    send_pending()
    before = len(received(mail, case))

    # (The visa letters wait for the travellers' passports, and are not part of it.)
    paperwork_store.store_booking_summary(case, storage, contact_email="care@medtour.test")
    db.session.commit()
    send_pending()
    paperwork_store.store_booking_summary(case, storage, contact_email="care@medtour.test")  # rendered again
    db.session.commit()
    send_pending()

    got = received(mail, case)[before:]
    assert [m["Subject"] for m in got] == [f"Medtour: your booking documents are ready ({case.reference})"]
    assert_clean(got[0], case)
    assert ledger(case)[-1] == f"patient_booking_documents:{chosen.id}"


# ---------------------------------------------------------------- messages, closing


def test_a_coordinator_message_emails_the_patient_without_its_text(mail):
    case = make_case()
    message = messages.post_staff_message(case, make_user(), "Your knee X-ray arrived, thank you.")
    db.session.commit()
    send_pending()
    send_pending()
    [got] = received(mail, case)
    assert got["Subject"] == f"Medtour: a new message from your coordinator ({case.reference})"
    assert_clean(got, case)
    assert ledger(case) == [f"patient_coordinator_message:{message.id}"]


def test_closing_emails_the_patient_and_a_second_closing_after_reopening_too(mail):
    case = make_case(status=CaseStatus.ROUTED)
    user = make_user()
    workflow.perform(case, "close", user, reason="booked")
    db.session.commit()
    send_pending()
    workflow.perform(case, "reopen", user)
    workflow.perform(case, "close", user, reason="declined_by_patient")
    db.session.commit()
    send_pending()
    send_pending()
    got = received(mail, case)
    assert [m["Subject"] for m in got] == [f"Medtour: your request is closed ({case.reference})"] * 2
    assert_clean(got[0], case)
    assert len(set(ledger(case))) == 2


def test_closing_as_spam_emails_nobody(mail):
    case = make_case()
    workflow.perform(case, "close", make_user(), reason="spam")
    assert rows(case, Job.NOTIFY_PATIENT_EVENT) == []


def test_withdrawing_emails_the_patient_once(mail):
    case, (a, _), _ = referred(2, language="ru")
    quotes.withdraw(case)
    db.session.commit()
    send_pending()
    send_pending()
    [got] = received(mail, case)
    assert got["Subject"] == f"Medtour: ваша заявка отозвана ({case.reference})"
    assert "отозвана и закрыта" in body(got)
    assert a.status == ReferralStatus.WITHDRAWN
    [kind] = ledger(case)
    assert kind.startswith("patient_case_withdrawn:")


def test_a_case_whose_erasure_was_asked_for_is_not_emailed_nor_reminded(mail):
    case = make_case()
    question = ask(case)
    case.erasure_requested_at = datetime.now(timezone.utc)
    db.session.commit()
    send_pending()
    assert received(mail, case) == []
    assert patient_mail.remind_questions(question.asked_at + timedelta(days=3, hours=1)) == 0
