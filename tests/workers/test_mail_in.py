"""The inbound SMTP receiver over a real SMTP connection on loopback (smtplib against
`workers.mail_in` started in-process): patients' replies land on their case, robots'
mail is kept silently, and everything else is refused with a 5xx code."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from PIL import Image
from sqlalchemy import select

from service import limits
from service.cases import openers
from service.cases.tokens import new_token
from service.extensions import db
from service.models import OutboxMessage
from service.notifications import reply_address
from service.outbox import Job
from service.store import get_storage
from storage import StorageUnavailable
from tests.conftest import ROOT
from tests.fixtures import files
from tests.fixtures.cases import make_case
from tests.fixtures.gunicorn import app_env, prepare_database
from tests.fixtures.mail_in import messages_of, reply
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.services import free_port, port_open
from tests.fixtures.smtp import text_of
from tests.fixtures.staff import make_user

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + bytes(range(256)) * 8
FILES_REFUSED_JOB = "notify_patient_files_refused"


@pytest.fixture
def mail(app, smtp_server, smtp_url):
    app.config["MAIL_URL"] = smtp_url
    yield smtp_server
    app.config["MAIL_URL"] = None


@pytest.fixture
def case(app, db_session):
    made = make_case(email="Amina.Petrova@example.org", language="en")
    db.session.commit()
    return made


def scan_pdf() -> bytes:
    """A scanned page as patients send them: an image saved as PDF by Pillow."""
    out = io.BytesIO()
    Image.new("RGB", (120, 160), (240, 240, 235)).save(out, format="PDF", resolution=72)
    return out.getvalue()


def test_a_reply_with_a_pdf_lands_as_a_patient_message_with_that_file(mail_in_receiver, case, mail):
    pdf = scan_pdf()
    message = reply(sender="Amina <amina.petrova@EXAMPLE.org>", to=reply_address.address_for(case.id))
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="blood-test.pdf")

    assert mail_in_receiver.send(message) == {}

    [kept] = messages_of(case)
    assert kept.body == "Hello, my blood test is attached."
    assert not kept.automatic and kept.source == "email"
    [attached] = kept.files
    assert (attached.filename, attached.content_type, attached.size) == ("blood-test.pdf", "application/pdf", len(pdf))
    assert attached.sha256 == hashlib.sha256(pdf).hexdigest() == hashlib.sha256(attached.stored).hexdigest()
    assert kept.refused == []
    assert run_pending(FILES_REFUSED_JOB) == 0 and mail.envelopes == []


def test_a_reply_from_an_eml_file_lands_with_its_pdf(mail_in_receiver, case, tmp_path):
    """The .eml as a mail client saves it, sent as it is (bytes, CRLF) over SMTP."""
    pdf = scan_pdf()
    draft = reply(sender=case.email, to=reply_address.address_for(case.id), body="See the scan.")
    draft.add_attachment(pdf, maintype="application", subtype="pdf", filename="scan.pdf")
    eml = tmp_path / "reply.eml"
    eml.write_bytes(draft.as_bytes(policy=draft.policy.clone(linesep="\r\n")))
    with mail_in_receiver.connect() as smtp:
        smtp.sendmail(case.email, [reply_address.address_for(case.id)], eml.read_bytes())
    [kept] = messages_of(case)
    [attached] = kept.files
    assert kept.body == "See the scan." and attached.sha256 == hashlib.sha256(pdf).hexdigest()


def test_a_reply_to_our_sender_address_is_found_by_in_reply_to_alone(mail_in_receiver, case, app):
    """A mail client that ignores Reply-To answers MAIL_FROM; the threading header names the case."""
    message = reply(sender=case.email, to=app.config["MAIL_FROM"], In_Reply_To=reply_address.message_id_for(case.id))
    assert mail_in_receiver.send(message) == {}
    [kept] = messages_of(case)
    assert kept.body == "Hello, my blood test is attached." and kept.source == "email"


def test_references_alone_name_the_case_too(mail_in_receiver, case, app):
    ours = reply_address.message_id_for(case.id)
    message = reply(sender=case.email, to=app.config["MAIL_FROM"], References=f"{ours} <elsewhere.1@mail.example.org>")
    mail_in_receiver.send(message)
    assert len(messages_of(case)) == 1


def test_our_sender_address_without_a_message_id_of_ours_is_refused_at_data(mail_in_receiver, case, app):
    forged = reply_address.message_id_for(case.id).replace(".", "x", 1)
    for headers in ({}, {"In_Reply_To": "<a1b2@mail.example.org>"}, {"In_Reply_To": forged}):
        message = reply(sender=case.email, to=app.config["MAIL_FROM"], **headers)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            mail_in_receiver.send(message)
        assert refused.value.smtp_code == 550
    assert messages_of(case) == []


def test_the_signed_address_wins_over_the_threading_headers(mail_in_receiver, case):
    other = make_case(email="other.patient@example.org")
    db.session.commit()
    message = reply(sender=other.email, to=reply_address.address_for(other.id),
                    In_Reply_To=reply_address.message_id_for(case.id))
    mail_in_receiver.send(message)
    assert len(messages_of(other)) == 1 and messages_of(case) == []


@pytest.mark.parametrize("robot", [
    {"Auto_Submitted": "auto-replied"},
    {"X_Autoreply": "yes"},
    {"Precedence": "auto_reply"},
    {"Precedence": "bulk"},
])
def test_an_auto_reply_is_kept_as_automatic_and_nothing_is_sent(mail_in_receiver, case, mail, robot):
    case.assignee = make_user(email="coordinator.amina@medtour.example")
    db.session.commit()
    message = reply(sender=case.email, to=reply_address.address_for(case.id),
                    body="I am out of the office until Monday.", **robot)
    message.add_attachment(files.pdf(), maintype="application", subtype="pdf", filename="signature.pdf")

    mail_in_receiver.send(message)

    [kept] = messages_of(case)
    assert kept.automatic and kept.body == "I am out of the office until Monday."
    assert kept.files == []
    jobs = db.session.scalars(select(OutboxMessage.job).where(OutboxMessage.case_id == case.id)).all()
    assert FILES_REFUSED_JOB not in jobs and Job.NOTIFY_STAFF_PATIENT_WROTE not in jobs
    assert run_pending(FILES_REFUSED_JOB) == 0 and run_pending(Job.NOTIFY_STAFF_PATIENT_WROTE) == 0
    assert mail.envelopes == []


def test_the_same_reply_from_a_person_tells_the_assignee(mail_in_receiver, case):
    """The control of the test above: without the robot's headers the assignee is told."""
    case.assignee = make_user(email="coordinator.amina@medtour.example")
    db.session.commit()
    mail_in_receiver.send(reply(sender=case.email, to=reply_address.address_for(case.id)))
    jobs = db.session.scalars(select(OutboxMessage.job).where(OutboxMessage.case_id == case.id)).all()
    assert Job.NOTIFY_STAFF_PATIENT_WROTE in jobs


def test_a_bounce_is_kept_silently_whoever_the_mail_server_is(mail_in_receiver, case, mail):
    message = reply(sender="Mail Delivery System <MAILER-DAEMON@mx.example.org>",
                    to=reply_address.address_for(case.id), body="Delivery has failed.")
    mail_in_receiver.send(message, mail_from="")
    [kept] = messages_of(case)
    assert kept.automatic
    assert mail.envelopes == []


def test_a_bounce_to_our_sender_address_finds_its_case_from_the_returned_headers(mail_in_receiver, case, mail, app):
    """Bounces go to the envelope sender (MAIL_FROM) and carry the returned e-mail's headers."""
    ours = reply_address.message_id_for(case.id)
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
    report["To"] = app.config["MAIL_FROM"]
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.set_content("This is the mail system at host mx.example.org. I'm sorry to have to inform you...")
    report.add_attachment(f"Message-ID: {ours}\r\nSubject: Medtour\r\n".encode(), maintype="text",
                          subtype="rfc822-headers")
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")

    mail_in_receiver.send(report, mail_from="", to=[app.config["MAIL_FROM"]])

    [kept] = messages_of(case)
    assert kept.automatic and kept.files == []
    assert mail.envelopes == []


def test_a_reply_from_another_sender_is_refused(mail_in_receiver, case):
    message = reply(sender="someone.else@example.org", to=reply_address.address_for(case.id))
    with pytest.raises(smtplib.SMTPDataError) as refused:
        mail_in_receiver.send(message)
    assert refused.value.smtp_code == 550 and b"5.7.1" in refused.value.smtp_error
    assert messages_of(case) == []


@pytest.mark.parametrize("address", [
    "reply+forged@medtour.example",
    "someone@medtour.example",
    "postmaster@elsewhere.example",
])
def test_an_unknown_or_forged_address_is_refused_at_rcpt(mail_in_receiver, case, address):
    message = reply(sender=case.email, to=address)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail_in_receiver.send(message)
    [(code, text)] = refused.value.recipients.values()
    assert code == 550 and b"5.1.1" in text
    assert messages_of(case) == []


def test_a_tampered_signed_address_is_refused_at_rcpt(mail_in_receiver, case):
    local, domain = reply_address.address_for(case.id).split("@")
    tampered = f"{local[:-1]}{'b' if local[-1] != 'b' else 'c'}@{domain}"
    with mail_in_receiver.connect() as smtp:
        smtp.ehlo()
        smtp.mail(case.email)
        code, text = smtp.rcpt(tampered)
    assert code == 550 and b"5.1.1" in text


def test_over_25_mb_is_refused_when_declared_and_when_sent(mail_in_receiver, case):
    address = reply_address.address_for(case.id)
    with mail_in_receiver.connect() as smtp:
        smtp.ehlo()
        assert int(smtp.esmtp_features["size"]) == limits.MAIL_IN_MAX_BYTES
        # A client that declares the size is refused before it sends a byte.
        code, _ = smtp.mail(case.email, [f"SIZE={limits.MAIL_IN_MAX_BYTES + 1}"])
        assert code == 552
        smtp.rset()
        # One that does not is refused once the data is in.
        assert smtp.mail(case.email)[0] == 250
        assert smtp.rcpt(address)[0] == 250
        big = reply(sender=case.email, to=address)
        big.add_attachment(b"%PDF-1.4\n" + b"0" * (limits.MAIL_IN_MAX_BYTES * 3 // 4 + limits.MIB), maintype="application",
                           subtype="pdf", filename="huge.pdf")
        code, _ = smtp.data(big.as_bytes(policy=big.policy.clone(linesep="\r\n")))
    assert code == 552
    assert messages_of(case) == []


def test_a_refused_attachment_is_listed_and_the_patient_is_answered_in_russian(mail_in_receiver, mail, app):
    case = make_case(email="amina@example.org", language="ru")
    db.session.commit()
    pdf = files.pdf("Analysis")
    message = reply(sender=case.email, to=reply_address.address_for(case.id), body="Добрый день, высылаю снимки.")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="анализ.pdf")
    message.add_attachment(ELF, maintype="application", subtype="pdf", filename="МРТ колена.pdf")

    mail_in_receiver.send(message)

    [kept] = messages_of(case)
    assert kept.body == "Добрый день, высылаю снимки."
    assert [f.filename for f in kept.files] == ["анализ.pdf"]
    [(name, reason)] = kept.refused
    assert name == "МРТ колена.pdf" and "PDF" in reason

    assert run_pending(FILES_REFUSED_JOB) == 1
    assert run_pending(FILES_REFUSED_JOB) == 0  # once
    [received] = mail.messages()
    assert mail.envelopes[0].rcpt_tos == ["amina@example.org"]
    assert received["Auto-Submitted"] == "auto-replied"
    assert received["Content-Language"] == "ru"
    assert received["Reply-To"] == reply_address.address_for(case.id)
    text = text_of(received)
    assert case.reference in text
    assert "не удалось принять" in text and "not accepted" not in text
    for private in ("МРТ", "колена", "анализ", "снимки", "Добрый"):
        assert private not in text
    # Answering it lands on the case again; its one link opens the status page, once.
    assert reply_address.case_id_from_message_ids([received["Message-ID"]]) == case.id
    [raw] = re.findall(r"/s/open/([A-Za-z0-9_-]+)", text)
    assert openers.open(raw).id == case.id and openers.open(raw) is None


RUSSIAN_REPLY = (
    "Да, даты поездки: с 10 по 20 июня.\n"
    "\n"
    "Пн, 1 июн. 2026 г. в 10:15, Medtour <no-reply@medtour.example> пишет:\n"
    "> Здравствуйте! Укажите, пожалуйста, даты поездки.\n"
    ">\n"
    "> Medtour"
)


def test_files_past_the_case_s_limit_are_refused_with_its_reason(mail_in_receiver, case, mail, monkeypatch, app):
    monkeypatch.setitem(app.config, "MAX_FILES", 2)
    message = reply(sender=case.email, to=reply_address.address_for(case.id))
    for n in range(3):
        message.add_attachment(files.pdf(f"Page {n}"), maintype="application", subtype="pdf", filename=f"page-{n}.pdf")

    mail_in_receiver.send(message)

    [kept] = messages_of(case)
    assert [f.filename for f in kept.files] == ["page-0.pdf", "page-1.pdf"]
    [(name, reason)] = kept.refused
    assert name == "page-2.pdf" and "2" in reason
    assert run_pending(FILES_REFUSED_JOB) == 1 and len(mail.messages()) == 1


@pytest.mark.parametrize("state", ["erased_at", "erasure_requested_at"])
def test_a_case_that_is_erased_or_being_erased_takes_no_reply(mail_in_receiver, case, state):
    address = reply_address.address_for(case.id)
    setattr(case, state, datetime.now(timezone.utc))
    db.session.commit()
    with mail_in_receiver.connect() as smtp:
        smtp.ehlo()
        smtp.mail(case.email)
        code, _ = smtp.rcpt(address)
    assert code == 550
    assert messages_of(case) == []


def test_a_russian_quote_is_kept_whole(mail_in_receiver):
    case = make_case(email="amina@example.org", language="ru")
    db.session.commit()
    message = reply(sender=case.email, to=reply_address.address_for(case.id), body=RUSSIAN_REPLY)
    message.set_content(RUSSIAN_REPLY, charset="koi8-r", cte="8bit")
    mail_in_receiver.send(message)
    [kept] = messages_of(case)
    assert kept.body == RUSSIAN_REPLY


def test_the_status_page_folds_the_quote_and_labels_the_automatic_reply(mail_in_receiver, client):
    token, token_hash = new_token()
    case = make_case(email="amina@example.org", language="ru", token_hash=token_hash)
    db.session.commit()
    address = reply_address.address_for(case.id)
    mail_in_receiver.send(reply(sender=case.email, to=address, body=RUSSIAN_REPLY))
    mail_in_receiver.send(reply(sender=case.email, to=address, body="Я в отпуске до 15 июня.",
                                Auto_Submitted="auto-replied"))

    page = client.get(f"/s/{token}", headers={"Accept-Language": "ru"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    thread = html[html.index('id="messages"'):]
    new_part, folded = thread.split('<details class="quoted">', 1)
    assert "Да, даты поездки: с 10 по 20 июня." in new_part and "пишет:" not in new_part
    assert "Показать цитируемый текст" in folded
    assert "пишет:" in folded.split("</details>", 1)[0]
    automatic = thread[thread.index("is-automatic"):]
    assert "Автоматический ответ" in automatic.split("</li>", 1)[0]
    assert "Я в отпуске до 15 июня." in automatic


def test_one_log_line_per_delivery_without_addresses_or_content(mail_in_receiver, case, caplog):
    caplog.set_level(logging.INFO, logger="workers.mail_in")
    address = reply_address.address_for(case.id)
    mail_in_receiver.send(reply(sender=case.email, to=address, body="My knee MRI is attached."))
    with pytest.raises(smtplib.SMTPDataError):
        mail_in_receiver.send(reply(sender="intruder@example.org", to=address, body="Knee surgery offer"))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_in_receiver.send(reply(sender=case.email, to="reply+forged@medtour.example"))

    lines = [r.getMessage() for r in caplog.records if r.name == "workers.mail_in"]
    assert len(lines) == 3, lines
    assert "accepted message for " + case.reference in lines[0]
    assert "refused message for " + case.reference in lines[1]
    assert "refused recipient" in lines[2]
    logged = "\n".join(lines).lower()
    for private in (case.email.lower(), "intruder", "reply+", "knee", "mri", "surgery", address.lower()):
        assert private not in logged


def test_a_store_that_is_down_is_a_temporary_451_and_the_retry_lands(mail_in_receiver, case, caplog, monkeypatch):
    """Nothing is kept and nothing of the message is logged; the sending server retries."""
    def down(*args, **kwargs):
        raise StorageUnavailable("store down")

    monkeypatch.setattr(get_storage(), "put", down)
    message = reply(sender=case.email, to=reply_address.address_for(case.id), body="My knee MRI.")
    message.add_attachment(files.pdf(), maintype="application", subtype="pdf", filename="knee.pdf")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        mail_in_receiver.send(message)
    assert refused.value.smtp_code == 451
    assert messages_of(case) == []
    assert "knee" not in caplog.text.lower() and "mri" not in caplog.text.lower()

    monkeypatch.undo()
    mail_in_receiver.send(message)
    [kept] = messages_of(case)
    assert kept.body == "My knee MRI." and len(kept.files) == 1


def test_flask_mail_in_listens_on_mail_in_port_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = app_env(f"sqlite:///{tmp_path / 'medtour.db'}", tmp_path, MAIL_IN_PORT=str(port), LOG_LEVEL="INFO")
    prepare_database(env)
    log_path = tmp_path / "mail-in.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "mail-in"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            assert int(smtp.esmtp_features["size"]) == limits.MAIL_IN_MAX_BYTES
            smtp.mail("amina@example.org")
            code, _ = smtp.rcpt("reply+forged@medtour.example")
            assert code == 550
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    logged = log_path.read_text()
    assert "mail-in: refused recipient" in logged
    assert "reply+forged" not in logged and "amina@example.org" not in logged
