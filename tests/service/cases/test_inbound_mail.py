"""The inbound e-mail's parsing without SMTP: which mail is automatic, and what text and
files a message carries, whatever its structure and charset."""
from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from service.cases import inbound_mail
from tests.fixtures import files


def message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Amina <amina@example.org>")
    msg["To"] = "reply+token@medtour.example"
    msg["Subject"] = "Re: your request"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Here are my results.")
    return msg


def reparse(msg: EmailMessage) -> EmailMessage:
    """As the receiver sees it: parsed back from the bytes on the wire."""
    return BytesParser(policy=email.policy.default).parsebytes(msg.as_bytes())  # type: ignore[return-value]


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"Auto_Submitted": "auto-generated"},
    {"Auto_Submitted": "auto-notified; owner-email=x@example.org"},
    {"X_Autoreply": "yes"},
    {"X_Autorespond": "Out of office"},
    {"Precedence": "bulk"},
    {"Precedence": "auto_reply"},
    {"Precedence": "JUNK"},
    {"Return_Path": "<>"},
    {"From": "Mail Delivery System <MAILER-DAEMON@mx.example.org>"},
    {"From": "postmaster@mx.example.org"},
])
def test_robots_mail_is_automatic(headers):
    assert inbound_mail.classify(reparse(message(**headers))) is True


@pytest.mark.parametrize("headers", [
    {},
    {"Auto_Submitted": "no"},
    {"Precedence": "first-class"},
    {"Return_Path": "<amina@example.org>"},
])
def test_a_person_s_mail_is_not_automatic(headers):
    assert inbound_mail.classify(reparse(message(**headers))) is False


def test_a_delivery_report_is_automatic_and_a_bounce():
    report = EmailMessage()
    report["From"] = "mx@example.org"
    report.set_content("Delivery failed.")
    report.make_mixed()
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")
    parsed = reparse(report)
    assert inbound_mail.classify(parsed) and inbound_mail.is_bounce(parsed)


def test_plain_text_is_preferred_to_html():
    msg = message()
    msg.add_alternative("<p>HTML <b>copy</b></p>", subtype="html")
    assert inbound_mail.extract(reparse(msg)).body == "Here are my results."


def test_an_html_only_message_reads_as_its_text():
    msg = EmailMessage()
    msg["From"] = "amina@example.org"
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Hello,</p><p>my results&nbsp;&amp; scans"
        "<br>attached.</p><script>alert(1)</script></body></html>",
        subtype="html",
    )
    body = inbound_mail.extract(reparse(msg)).body
    assert body == "Hello,\n\nmy results & scans\nattached."


@pytest.mark.parametrize("charset", ["koi8-r", "windows-1251", "utf-8"])
def test_russian_text_is_decoded_from_its_charset(charset):
    text = "Здравствуйте! Высылаю анализы.\n\n10 мая 2026 г., Medtour пишет:\n> Добрый день"
    raw = (
        "From: amina@example.org\r\nSubject: Re\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + text.replace("\n", "\r\n").encode(charset)
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert inbound_mail.extract(parsed).body == text  # the quote and its header kept whole


def test_an_unknown_charset_still_gives_the_text():
    raw = (b"From: amina@example.org\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\nplain words\r\n")
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert inbound_mail.extract(parsed).body == "plain words"


def test_attachments_come_out_with_name_bytes_and_declared_type():
    msg = message()
    pdf = files.pdf("Blood test")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="Анализ крови.pdf")
    msg.add_attachment(files.png(), maintype="image", subtype="png", filename="scan.png")
    msg.add_attachment(b"notes", maintype="text", subtype="plain", filename="notes.txt")
    extracted = inbound_mail.extract(reparse(msg))
    assert extracted.body == "Here are my results."
    assert [(f.filename, f.declared_type) for f in extracted.files] == [
        ("Анализ крови.pdf", "application/pdf"), ("scan.png", "image/png"), ("notes.txt", "text/plain"),
    ]
    assert extracted.files[0].data == pdf


def test_an_image_embedded_in_the_html_is_not_an_attachment_but_an_attached_one_is():
    msg = message()
    msg.add_alternative('<p>Hi <img src="cid:logo"></p>', subtype="html")
    html = msg.get_payload()[1]
    html.add_related(files.png(), maintype="image", subtype="png", cid="<logo>", filename="logo.png",
                     disposition="inline")
    msg.make_mixed()
    msg.add_attachment(files.jpeg(), maintype="image", subtype="jpeg", filename="knee.jpg")
    extracted = inbound_mail.extract(reparse(msg))
    assert [f.filename for f in extracted.files] == ["knee.jpg"]


def test_a_nameless_attachment_gets_a_name():
    msg = message()
    msg.add_attachment(files.pdf(), maintype="application", subtype="pdf")
    del msg.get_payload()[1]["Content-Disposition"]
    msg.get_payload()[1]["Content-Disposition"] = "attachment"
    [attached] = inbound_mail.extract(reparse(msg)).files
    assert attached.filename == "attachment-1"


@pytest.mark.parametrize(("sender", "expected"), [
    ("Amina <amina@example.org>", "amina@example.org"),
    ("AMINA@Example.ORG", "AMINA@Example.ORG"),
    ("a@example.org, b@example.org", None),
    ("", None),
])
def test_the_sender_is_the_one_address_in_from(sender, expected):
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    assert inbound_mail.sender_address(msg) == expected
