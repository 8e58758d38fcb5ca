"""The e-mails that tell a patient their case moved (`service.cases.patient_mail`): a
question, quotes ready, a revised quote, booking documents, a message, the case closed.

Each names the reference and says in one generic sentence what happened, then gives a
single-use opener to the status page, where the details are. Nothing else of the case
travels: no treatment, clinic, price, question or message text (e-mail is stored and
carried in the clear). The words are in the catalogue, in the case's language.
"""
from __future__ import annotations

from collections.abc import Mapping
import textwrap
from email.message import EmailMessage
from typing import Final

from flask_babel import force_locale

from service import i18n
from service.i18n import N_, gettext, ngettext
from service.notifications.emails import GREETING, patient_message

# Keyed by `PatientEvent` values (the notifications layer may not import the cases
# layer, so the values are written here and a test checks both agree).
SUBJECTS: Final[dict[str, str]] = {
    "question": N_("Medtour: your coordinator asked you a question (%(reference)s)"),
    "question_reminder": N_("Medtour: reminder: your coordinator is waiting for your answer (%(reference)s)"),
    "quotes_ready_first": N_("Medtour: a first quote is ready (%(reference)s)"),
    "quotes_ready_all": N_("Medtour: quotes are ready (%(reference)s)"),
    "revised_quote": N_("Medtour: a revised quote waits for your acceptance (%(reference)s)"),
    "booking_documents": N_("Medtour: your booking documents are ready (%(reference)s)"),
    "coordinator_message": N_("Medtour: a new message from your coordinator (%(reference)s)"),
    "case_closed": N_("Medtour: your request is closed (%(reference)s)"),
    "case_withdrawn": N_("Medtour: your request is withdrawn (%(reference)s)"),
    "new_link": N_("Medtour: a new link to your request (%(reference)s)"),
    "deposit_invoice": N_("Medtour: your deposit invoice %(number)s (%(reference)s)"),
    "travel_booked": N_("Medtour: your travel is booked (%(reference)s)"),
    "trip_reminder": N_("Medtour: your trip is coming up (%(reference)s)"),
}

# What happened, one paragraph (lines of at most 78 characters).
SENTENCES: Final[dict[str, str]] = {
    "question": N_("Your coordinator asked you a question about your request %(reference)s.\n"
                   "Please answer it on your status page."),
    "question_reminder": N_("Your coordinator is still waiting for your answer to a question about\n"
                            "your request %(reference)s. Please answer it on your status page."),
    "quotes_ready_first": N_("A first clinic has sent a quote for your request %(reference)s. More may\n"
                             "follow: we will write again when every clinic has answered."),
    "quotes_ready_all": N_("Quotes are ready: the clinics have answered your request %(reference)s.\n"
                           "Compare the quotes and choose a clinic on your status page."),
    "revised_quote": N_("A clinic revised its quote for your request %(reference)s. The new terms\n"
                        "count only once you accept them: accept or decline on your status page."),
    "booking_documents": N_("Your booking documents for your request %(reference)s are ready.\n"
                            "Download them from your status page."),
    "coordinator_message": N_("Your coordinator sent you a message about your request %(reference)s.\n"
                              "Read it on your status page."),
    "case_closed": N_("Your request %(reference)s is now closed. You can still see it on your\n"
                      "status page."),
    "case_withdrawn": N_("As you asked, your request %(reference)s is withdrawn and closed; the\n"
                         "clinics will not work on it any more."),
    "new_link": N_("Here is a new link to your request %(reference)s; the previous link no\n"
                   "longer works."),
    "deposit_invoice": N_("Your deposit invoice %(number)s: %(amount)s\n"
                          "due by %(due)s. Pay by bank transfer (no card payments); the invoice\n"
                          "with our bank details is on your status page."),
    "travel_booked": N_("Your travel for your request %(reference)s is booked. Your flights,\n"
                        "stay and transfers are on your status page, day by day."),
    "trip_reminder": N_("Your trip for your request %(reference)s is coming up. Every time and\n"
                        "place is on your status page, day by day."),
}

# The trip's calendar (`calendar_url`), in the "travel booked" e-mail.
_CALENDAR: Final = N_("Add the trip to your calendar:\n"
                      "%(url)s")

_OPEN: Final = N_("Open your status page:\n"
                  "%(url)s")
_REPLY: Final = N_("You can also answer by replying to this e-mail: your reply reaches your\n"
                   "coordinator.")


def _opener_note(days: int) -> str:
    return ngettext(
        "This link opens your status page once and works for %(num)d day. Do not\n"
        "forward this e-mail: if the link has expired, the page offers to send you a\n"
        "new one.",
        "This link opens your status page once and works for %(num)d days. Do not\n"
        "forward this e-mail: if the link has expired, the page offers to send you a\n"
        "new one.",
        days,
    )


def patient_event(
    *,
    event: str,
    reference: str,
    opener_url: str,
    opener_days: int,
    language: str | None,
    mail_from: str,
    to: str,
    headers: dict[str, str],
    details: Mapping[str, str] | None = None,
    calendar_url: str | None = None,
) -> EmailMessage:
    """The e-mail about `event`, in the patient's language; `headers` (the case's
    Reply-To and Message-ID, `reply_address.headers_for`) replace the defaults; `details`
    fill the event's other placeholders (a deposit invoice's number, amount, due date)."""
    lang = i18n.resolve(language)
    values = {**(details or {}), "reference": reference}
    with force_locale(lang):
        subject = gettext(SUBJECTS[event], **values)
        paragraphs = [gettext(GREETING)]
        if event == "trip_reminder" and details:
            # The flight and when it leaves, in the local time of its airport.
            leaves = ngettext("Your flight %(flight)s leaves %(city)s at %(time)s (%(zone)s) in %(num)d day.",
                              "Your flight %(flight)s leaves %(city)s at %(time)s (%(zone)s) in %(num)d days.",
                              int(details.get("days") or 0), flight=details.get("flight", ""),
                              city=details.get("city", ""), time=details.get("time", ""), zone=details.get("zone", ""))
            paragraphs.append(textwrap.fill(leaves, 78))
        paragraphs += [
            gettext(SENTENCES[event], **values),
            *([gettext(_CALENDAR, url=calendar_url)] if calendar_url else []),
            gettext(_OPEN, url=opener_url),
            _opener_note(opener_days),
            gettext(_REPLY),
        ]
    return patient_message(subject=subject, paragraphs=paragraphs, language=lang, mail_from=mail_from, to=to,
                           headers=headers)
