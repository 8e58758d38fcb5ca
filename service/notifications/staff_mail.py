"""E-mails to the agency's staff about a case's conversation: English, the reference
and a link to the case file behind the staff sign-in, never what the patient wrote."""
from __future__ import annotations

from email.message import EmailMessage
from typing import Final

from service.notifications.emails import english_message

_WROTE_SUBJECT: Final = "Medtour: the patient wrote on {reference}"
_ANSWERED_SUBJECT: Final = "Medtour: the patient answered your question on {reference}"
_BODY: Final = (
    "The patient {what} on case {reference}.\n"
    "\n"
    "Read it in the case file:\n"
    "{case_url}\n"
    "\n"
    "Medtour\n"
)


def patient_wrote(*, reference: str, case_url: str, answered: bool, mail_from: str, to: str) -> EmailMessage:
    """"The patient wrote on <reference>" (or answered a question) with the case link."""
    return english_message(
        _ANSWERED_SUBJECT if answered else _WROTE_SUBJECT, _BODY, mail_from=mail_from, to=to, reply_to=mail_from,
        reference=reference, case_url=case_url, what="answered your question" if answered else "sent a new message",
    )
