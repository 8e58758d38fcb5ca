"""The patient's confirmation and the clinic's "new referral" email: the right words
and links, the headers of an automatic message, Russian intact through a real SMTP
server, and nothing about anyone's health."""
from __future__ import annotations

import email
import email.policy
import inspect
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask

from service import i18n
from service.notifications import emails, send
from tests.fixtures.smtp import Mailbox

MAIL_FROM = "Medtour <no-reply@medtour.example>"
CONTACT = "care@medtour.example"
STATUS_URL = "http://medtour.test/s/Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
PORTAL_URL = "http://medtour.test/clinic/referrals/42"

# What the case holds besides its reference: none of it may reach an email.
CASE = {
    "reference": "MT-2026-000123",
    "email": "amina@example.org",
    "full_name": "Amina Petrova",
    "date_of_birth": "1979-04-02",
    "treatment": "Osseointegrated prosthesis (transfemoral)",
    "treatment_slug": "osseointegrated-prosthesis-transfemoral",
    "description": "Above-knee amputation in 2019; the socket prosthesis causes sores.",
    "medications": "Metformin 500 mg",
    "allergies": "Penicillin",
    "conditions": "Type 2 diabetes, controlled",
    "diagnosis": "Transfemoral amputation, socket intolerance",
    "attachment": "MRI_left_femur_2026.pdf",
}
HEALTH_FIELDS = ("treatment", "treatment_slug", "description", "medications", "allergies", "conditions",
                 "diagnosis", "attachment", "date_of_birth")


@pytest.fixture(autouse=True)
def app_context(app: Flask):
    """The builders read the catalogues of the app (as the worker's job does: an app
    context, no request)."""
    with app.app_context():
        yield


def patient(language: str | None = "en") -> EmailMessage:
    return emails.patient_confirmation(
        reference=CASE["reference"],
        status_url=STATUS_URL,
        language=language,
        contact_email=CONTACT,
        mail_from=MAIL_FROM,
        to=CASE["email"],
    )


def clinic() -> EmailMessage:
    return emails.clinic_referral(
        reference=CASE["reference"],
        portal_url=PORTAL_URL,
        clinic_name="Klinikum Nord",
        mail_from=MAIL_FROM,
        to="referrals@klinikum-nord.example",
        contact_email=CONTACT,
    )


def reparsed(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(bytes(message), policy=email.policy.default)


def everything(message: EmailMessage) -> str:
    """Every header decoded, the body decoded and the raw bytes: all a reader could see."""
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    return "\n".join([headers, message.get_body(("plain",)).get_content(), bytes(message).decode("ascii")])


# --------------------------------------------------------------------------- the patient


def test_patient_confirmation_in_english_carries_reference_link_and_contact():
    message = reparsed(patient("en"))
    assert message["Subject"] == f"Medtour: we have received your request {CASE['reference']}"
    assert message["To"] == CASE["email"]
    body = message.get_content()
    assert f"Your reference is {CASE['reference']}." in body
    assert STATUS_URL in body.splitlines()
    assert "Keep it\nprivate and do not forward this email" in body
    assert "What happens next" in body
    assert CONTACT in body


def test_the_headers_of_an_automatic_message():
    message = reparsed(patient())
    assert message["From"] == MAIL_FROM
    assert message["Reply-To"] == CONTACT
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@medtour.example>")
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Content-Language"] == "en"
    assert patient()["Message-ID"] != patient()["Message-ID"]


def test_russian_arrives_intact_through_smtp(smtp_server: Mailbox, smtp_url: str):
    sent = patient("ru")
    assert bytes(sent).isascii()  # 7-bit clean on the wire: no 8BITMIME needed
    send(sent, smtp_url)
    [received] = smtp_server.messages()
    assert received["Subject"] == f"Medtour: мы получили ваш запрос {CASE['reference']}"
    assert received["Content-Language"] == "ru"
    body = received.get_content()
    assert body.startswith("Здравствуйте!\n")
    assert f"Номер вашего запроса: {CASE['reference']}." in body
    assert "Никому её\nне сообщайте и не пересылайте это письмо" in body
    assert "трёх дней" in body
    assert STATUS_URL in body.splitlines()


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "en"), ("ru", "ru"), ("RU", "ru"), ("ru-KZ", "ru"), ("ru_RU", "ru"),
     ("de", "en"), ("kk", "en"), ("", "en"), (None, "en")],
)
def test_languages_without_a_translation_read_english(language, expected):
    assert emails.language_for(language) == expected
    assert patient(language)["Content-Language"] == expected


def test_the_patient_email_speaks_the_cases_language_not_the_pages(app: Flask):
    """A request that speaks Russian (the form page) does not make an English case's email
    Russian, nor does an English page make a Russian case's email English."""
    with app.test_request_context():
        i18n.use_language("ru")
        english = reparsed(patient("en"))
        assert english["Subject"].startswith("Medtour: we have received")
        assert english.get_content().startswith("Hello,\n")
        assert i18n.current_language() == "ru"  # the page's language is untouched
    with app.test_request_context():
        russian = reparsed(patient("ru"))
        assert russian.get_content().startswith("Здравствуйте!\n")
        assert i18n.current_language() == "en"


def test_the_patient_email_words_come_from_the_catalogue(app: Flask):
    """One source of translations: the email's Russian is the .po's msgstr."""
    from babel.messages.pofile import read_po

    from tests.service.test_i18n import TRANSLATIONS

    with (TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="ru")
    subject = catalog.get("Medtour: we have received your request %(reference)s")
    assert subject is not None and subject.string
    assert reparsed(patient("ru"))["Subject"] == subject.string % {"reference": CASE["reference"]}


# --------------------------------------------------------------------------- the clinic


def test_clinic_referral_says_a_referral_is_waiting_with_the_portal_link(smtp_server: Mailbox, smtp_url: str):
    send(clinic(), smtp_url)
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["referrals@klinikum-nord.example"]
    [received] = smtp_server.messages()
    assert received["Subject"] == f"Medtour: a new referral is waiting ({CASE['reference']})"
    assert received["Auto-Submitted"] == "auto-generated"
    body = received.get_content()
    assert "A new referral is waiting" in body
    assert "Klinikum Nord" in body
    assert PORTAL_URL in body.splitlines()
    assert CONTACT in body


# --------------------------------------------------------------------------- no health data


@pytest.mark.parametrize("build", [patient, clinic, lambda: patient("ru")], ids=["patient", "clinic", "patient-ru"])
def test_no_email_carries_health_data_or_the_patients_name(build):
    text = everything(build())
    assert CASE["reference"] in text
    for name in (*HEALTH_FIELDS, "full_name"):
        assert CASE[name] not in text, name
    for word in ("amputation", "prosthesis", "diabetes", "Metformin", "MRI", ".pdf"):
        assert word.lower() not in text.lower(), word


def test_builders_cannot_be_handed_case_details():
    """The guarantee is structural: no builder has a parameter that could carry them."""
    # headers: the case's Reply-To and Message-ID (reply_address.headers_for), nothing else;
    # routed_at_once: the AUTO_ROUTE setting, not a fact of the case.
    allowed = {"reference", "status_url", "portal_url", "language", "contact_email", "mail_from", "to", "clinic_name",
               "headers", "routed_at_once"}
    for builder in (emails.patient_confirmation, emails.clinic_referral):
        parameters = inspect.signature(builder).parameters
        assert set(parameters) <= allowed, builder.__name__
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())


@pytest.mark.parametrize(("language", "at_once", "waiting"), [
    ("en", "We send your case at once to the clinics best suited to you",
     "- A coordinator reviews your request, usually within one working day.\n- We send your case"),
    ("ru", "Мы сразу направим ваше дело в клиники", "- Координатор рассмотрит ваш запрос, обычно"),
])
def test_what_happens_next_is_what_auto_route_does(language, at_once, waiting):
    def body(routed_at_once: bool) -> str:
        message = emails.patient_confirmation(
            reference=CASE["reference"], status_url=STATUS_URL, language=language, contact_email=CONTACT,
            mail_from=MAIL_FROM, to=CASE["email"], routed_at_once=routed_at_once,
        )
        return message.get_body(("plain",)).get_content()

    routed, manual = body(True), body(False)
    assert at_once in routed and waiting not in routed
    assert waiting in manual and at_once not in manual
    assert all(len(line) <= 78 for line in routed.splitlines())
