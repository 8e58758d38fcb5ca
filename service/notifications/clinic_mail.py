"""E-mails that tell a clinic where it stands on a referral: chosen, not chosen, or
reminded that its answer is due. English (clinics read English); like every clinic
e-mail they name the reference and link to the portal, never anything about the
patient or the treatment beyond what the portal shows behind the sign-in."""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Final

from service.i18n import format_when
from service.notifications.emails import CLINIC_QUESTIONS, english_message

# Ledger kinds (service.notifications.delivery): one per referral, since two clinics of
# a case may share an address.
NOT_CHOSEN: Final = "clinic_not_chosen"
CHOSEN: Final = "clinic_chosen"
REMINDER: Final = "clinic_reminder"


def kind(base: str, referral_id: int) -> str:
    """The ledger kind of one referral's e-mail, e.g. "clinic_reminder:17"."""
    return f"{base}:{referral_id}"


_NOT_CHOSEN_SUBJECT: Final = "Medtour: the patient chose another clinic ({reference})"
_NOT_CHOSEN_BODY: Final = (
    "Hello {clinic_name},\n"
    "\n"
    "Thank you for your quote for referral {reference}. The patient has chosen\n"
    "another clinic, so nothing more is needed from you on this referral. It now\n"
    "shows as \"Not chosen\" in the clinic portal and can no longer be revised:\n"
    "{portal_url}\n"
    "\n"
) + CLINIC_QUESTIONS

_CHOSEN_SUBJECT: Final = "Medtour: the patient chose your clinic ({reference})"
_CHOSEN_BODY: Final = (
    "Hello {clinic_name},\n"
    "\n"
    "Good news: the patient chose your quote for referral {reference}.\n"
    "\n"
    "What happens next\n"
    "- We send the patient the booking summary and the visa support letter made\n"
    "  from your quote.\n"
    "- A Medtour coordinator contacts you to confirm the dates, the stay and the\n"
    "  transfer.\n"
    "- The patient's name and contact details appear on the referral in the\n"
    "  clinic portal as soon as our staff release them to you; until then, please\n"
    "  write to us rather than to the patient.\n"
    "\n"
    "The referral:\n"
    "{portal_url}\n"
    "\n"
) + CLINIC_QUESTIONS

_REMINDER_SUBJECT: Final = "Medtour: referral {reference} is waiting for your answer"
_REMINDER_BODY: Final = (
    "Hello {clinic_name},\n"
    "\n"
    "Referral {reference} is still waiting for your answer. It is due by\n"
    "{due}, in about {hours_left} hours.\n"
    "\n"
    "Please accept it with a quote or decline it in the clinic portal; if you\n"
    "need more information first, ask the agency from the same page:\n"
    "{portal_url}\n"
    "\n"
    "A late answer is still accepted, but the agency may offer the case to another\n"
    "clinic once the time is up.\n"
    "\n"
    "Medtour\n"
)


def _clinic_message(subject: str, body: str, *, mail_from: str, to: str, contact_email: str,
                    **values: object) -> EmailMessage:
    return english_message(subject, body, mail_from=mail_from, to=to, reply_to=contact_email,
                           contact_email=contact_email, **values)


def not_chosen(*, reference: str, portal_url: str, clinic_name: str, mail_from: str, to: str,
               contact_email: str) -> EmailMessage:
    """"The patient chose another clinic" for <reference>; nothing more is asked."""
    return _clinic_message(_NOT_CHOSEN_SUBJECT, _NOT_CHOSEN_BODY, mail_from=mail_from, to=to,
                           contact_email=contact_email, reference=reference, portal_url=portal_url,
                           clinic_name=clinic_name)


def chosen(*, reference: str, portal_url: str, clinic_name: str, mail_from: str, to: str,
           contact_email: str) -> EmailMessage:
    """"The patient chose your clinic" with what the agency does next."""
    return _clinic_message(_CHOSEN_SUBJECT, _CHOSEN_BODY, mail_from=mail_from, to=to,
                           contact_email=contact_email, reference=reference, portal_url=portal_url,
                           clinic_name=clinic_name)


def reminder(*, reference: str, portal_url: str, clinic_name: str, due: datetime, hours_left: int,
             mail_from: str, to: str, contact_email: str) -> EmailMessage:
    """"Referral <reference> is waiting for your answer", with the deadline."""
    return _clinic_message(_REMINDER_SUBJECT, _REMINDER_BODY, mail_from=mail_from, to=to,
                           contact_email=contact_email, reference=reference, portal_url=portal_url,
                           clinic_name=clinic_name, hours_left=hours_left,
                           due=format_when(due, "UTC", "en"))
