"""The patient's e-mail about a deposit invoice: sent once its PDF is stored, once per
invoice, in the patient's language, naming the number, amount and due date and nothing
of the case's health data; not at all for an invoice cancelled before it went."""
from __future__ import annotations



from service.cases import deposit
from service.extensions import db
from service.outbox import Job
from service.paperwork import wording
from tests.fixtures.invoices import due_day, issued
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.smtp import Mailbox

DESCRIPTION = "Constant pain in the left knee since the accident."


def to(mailbox: Mailbox, address: str, number: str):
    """The e-mails to `address` about invoice `number` (the case's earlier e-mails left out)."""
    return [m for e, m in zip(mailbox.envelopes, mailbox.messages())
            if address in e.rcpt_tos and number in m["Subject"]]


def test_the_patient_is_told_the_number_amount_and_due_date_once_the_pdf_is_stored(mail, db_session):
    invoice = issued(amount="1500", due_on=due_day(17), description=DESCRIPTION)
    case_email = invoice_email(invoice)
    run_pending(Job.NOTIFY_PATIENT_EVENT)
    assert to(mail, case_email, invoice.number) == []  # nothing before the PDF exists
    run_pending(Job.RENDER_INVOICE)
    assert run_pending(Job.NOTIFY_PATIENT_EVENT) == 1
    (message,) = to(mail, case_email, invoice.number)
    body = " ".join(message.get_content().split())
    due = wording.format_date(invoice.due_on)
    assert f"Your deposit invoice {invoice.number}: 1,500.00 EUR due by {due}." in body
    assert invoice.number in message["Subject"]
    assert "knee" not in body and "/s/open/" in body
    # Rendering again (staff regenerating) does not e-mail twice.
    from service.cases import paperwork_store
    from service.paperwork.invoice import Agency

    paperwork_store.store_invoice(invoice, db_session_storage(), agency=Agency.from_config(mail_app().config))
    db.session.commit()
    run_pending(Job.NOTIFY_PATIENT_EVENT)
    assert len(to(mail, case_email, invoice.number)) == 1


def test_the_e_mail_is_in_russian_for_a_russian_speaking_patient(mail, db_session):
    invoice = issued(amount="1500", language="ru")
    run_pending(Job.RENDER_INVOICE)
    run_pending(Job.NOTIFY_PATIENT_EVENT)
    (message,) = to(mail, invoice_email(invoice), invoice.number)
    body = " ".join(message.get_content().split())
    due = wording.format_date(invoice.due_on, "ru")
    assert f"Ваш счёт на депозит {invoice.number}: 1 500,00 EUR, оплатить до {due}." in body


def test_an_invoice_cancelled_before_the_e_mail_went_is_not_announced(mail, db_session):
    invoice = issued()
    run_pending(Job.RENDER_INVOICE)
    deposit.cancel_invoice(invoice, None)
    db.session.commit()
    run_pending(Job.NOTIFY_PATIENT_EVENT)
    assert to(mail, invoice_email(invoice), invoice.number) == []


def invoice_email(invoice) -> str:
    from service.models import Case

    return db.session.get(Case, invoice.case_id).email


def mail_app():
    from flask import current_app

    return current_app


def db_session_storage():
    return mail_app().extensions["storage"]
