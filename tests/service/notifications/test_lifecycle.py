"""The lifecycle e-mails as built: a subject and a sentence for every event, in English
and Russian, plain lines of at most 78 characters, and the headers every patient
e-mail carries."""
from __future__ import annotations

import pytest
from flask_babel import force_locale

from service.cases.patient_mail import PatientEvent
from service.i18n import gettext
from service.notifications import lifecycle

REFERENCE = "MT-2026-000123"
OPENER = "https://medtour.example/s/open/" + "x" * 43
HEADERS = {"Reply-To": "reply+7-abcdefghijklmnop@medtour.example", "Message-ID": "<case.7.abc.def@medtour.example>"}
# What events beyond the reference name (the deposit invoice's number, amount, due date), at their longest.
DETAILS = {"number": "MT-2026-000123-D12", "amount": "9,999,999,999.99 EUR", "due": "20 September 2026"}


def build(event: str, language: str | None = "en"):
    return lifecycle.patient_event(
        event=event, reference=REFERENCE, opener_url=OPENER, opener_days=7, language=language,
        mail_from="Medtour <no-reply@medtour.example>", to="amina@example.org", headers=HEADERS,
        details=DETAILS,
    )


def test_every_event_has_a_subject_and_a_sentence():
    values = {event.value for event in PatientEvent}
    assert set(lifecycle.SUBJECTS) == values
    assert set(lifecycle.SENTENCES) == values


@pytest.mark.parametrize("event", [event.value for event in PatientEvent])
def test_every_event_reads_in_russian(app_ctx, event):
    with force_locale("ru"):
        for msgid in (lifecycle.SUBJECTS[event], lifecycle.SENTENCES[event]):
            assert gettext(msgid, reference=REFERENCE, **DETAILS) != msgid % {"reference": REFERENCE, **DETAILS}
    message = build(event, "ru")
    assert message["Content-Language"] == "ru"
    text = message.get_content()
    assert "Здравствуйте" in text and "Откройте страницу статуса" in text and "7 дней" in text
    assert REFERENCE in message["Subject"] and REFERENCE in text


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("event", [event.value for event in PatientEvent])
def test_lines_are_at_most_78_characters(app_ctx, event, language):
    text = build(event, language).get_content()
    assert OPENER in text
    assert max(len(line) for line in text.splitlines() if line != OPENER) <= 78


def test_the_headers_of_every_patient_email(app_ctx):
    message = build("question")
    assert message.get_all("Reply-To") == [HEADERS["Reply-To"]]
    assert message.get_all("Message-ID") == [HEADERS["Message-ID"]]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "en"
    assert message["To"] == "amina@example.org"


@pytest.mark.parametrize(("asked", "read"), [("ru-KZ", "ru"), ("de", "en"), (None, "en")])
def test_a_language_without_words_reads_english(app_ctx, asked, read):
    assert build("case_closed", asked)["Content-Language"] == read
