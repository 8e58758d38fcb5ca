"""The emails themselves, as `EmailMessage` objects ready for `transport.send`.

Email travels and is stored in the clear, so no message carries health data: the
builders take nothing but a reference, a link and contact details, and anything
about the case stays behind the link. Patients read their emails in their
language: the words are in the web service's catalogue (`service/translations`), and
the builder speaks the case's language with `force_locale` (the worker has an app
context but no request, so no page's language can leak in); a language without a
catalogue reads English. Clinics and staff read English.
"""
from __future__ import annotations

import email.policy
from collections.abc import Mapping
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Final

from flask_babel import force_locale

from service import i18n
from service.i18n import N_, gettext

DEFAULT_LANGUAGE: Final = "en"

# 7-bit clean: non-ASCII text goes out quoted-printable or base64, so a relay
# without 8BITMIME still carries Russian intact.
_POLICY: Final = email.policy.default.clone(cte_type="7bit")

# The first paragraph of every patient e-mail.
GREETING: Final = N_("Hello,")

# The patient's words are msgids of the Flask-Babel catalogue (service/translations), one
# per paragraph, line breaks included: the email is plain text with lines of at most 78.
_PATIENT_PARAGRAPHS: Final = (
    GREETING,
    N_("Thank you: we have received your request for treatment abroad.\n"
       "Your reference is %(reference)s."),
    N_("Follow your case on your private status page:\n"
       "%(status_url)s"),
    N_("This link is personal: anyone who has it can see your case. Keep it\n"
       "private and do not forward this email. You can add more files on that\n"
       "page at any time."),
    N_("What happens next\n"
       "- A coordinator reviews your request, usually within one working day.\n"
       "- We send your case to the clinics best suited to you; they usually answer\n"
       "  within three days.\n"
       "- We send you the clinics' answers and quotes so that you can compare them\n"
       "  and choose."),
    N_("Questions? Write to %(contact_email)s\n"
       "and quote your reference %(reference)s."),
)
# "What happens next" with AUTO_ROUTE=1: the case goes to the clinics at once, in place
# of the paragraph above (AUTO_ROUTE=0: a coordinator routes it).
_NEXT_ROUTED_AT_ONCE: Final = N_(
    "What happens next\n"
    "- We send your case at once to the clinics best suited to you; they usually\n"
    "  answer within three days. A coordinator reviews your request alongside,\n"
    "  usually within one working day.\n"
    "- We send you the clinics' answers and quotes so that you can compare them\n"
    "  and choose."
)
_NEXT_PARAGRAPH: Final = 4

# The close of a clinic e-mail about a referral: where to ask, quoting the reference.
CLINIC_QUESTIONS: Final = (
    "Questions? Write to {contact_email}\n"
    "and quote the reference {reference}.\n"
    "\n"
    "Medtour\n"
)

_CLINIC_SUBJECT: Final = "Medtour: a new referral is waiting ({reference})"
_CLINIC_BODY: Final = (
    "Hello {clinic_name},\n"
    "\n"
    "A new referral is waiting for you in the Medtour clinic portal.\n"
    "Reference: {reference}\n"
    "\n"
    "Open it here:\n"
    "{portal_url}\n"
    "\n"
    "To protect the patient's privacy this email carries no details of the case;\n"
    "you will find them in the portal.\n"
    "\n"
) + CLINIC_QUESTIONS


def language_for(language: str | None) -> str:
    """The language we have words for: "ru", "RU" and "ru-KZ" read Russian; any
    language without a catalogue reads English. Needs the app (its catalogues)."""
    return i18n.resolve(language)


def _message(
    *, subject: str, body: str, mail_from: str, to: str, reply_to: str, language: str
) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = to
    message["Reply-To"] = reply_to
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    # The sender's own domain: make_msgid's default looks up this host's FQDN.
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    # RFC 3834: out-of-office robots must not answer an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    # After set_content, which drops every Content-* header set before it.
    message["Content-Language"] = language
    return message


def with_headers(message: EmailMessage, headers: Mapping[str, str]) -> EmailMessage:
    """`message` with `headers` in place of its own (a case's Reply-To and Message-ID,
    `reply_address.headers_for`, so that the patient's answer lands on the case)."""
    for name, value in headers.items():
        del message[name]
        message[name] = value
    return message


def patient_message(
    *, subject: str, paragraphs: list[str], language: str, mail_from: str, to: str,
    headers: Mapping[str, str], reply_to: str | None = None,
) -> EmailMessage:
    """A patient e-mail: the paragraphs (already in `language`) signed "Medtour", with
    `headers` (the case's Reply-To and Message-ID, `reply_address.headers_for`) in
    place of the defaults; `reply_to` (else `mail_from`) where `headers` has none."""
    message = _message(
        subject=subject,
        body="\n\n".join(paragraphs) + "\n\nMedtour\n",
        mail_from=mail_from,
        to=to,
        reply_to=reply_to or mail_from,
        language=language,
    )
    return with_headers(message, headers)


def english_message(
    subject: str, body: str, *, mail_from: str, to: str, reply_to: str, **values: object
) -> EmailMessage:
    """An English e-mail to a clinic or staff: `subject` and `body` with `values` filled in."""
    return _message(
        subject=subject.format(**values),
        body=body.format(**values),
        mail_from=mail_from,
        to=to,
        reply_to=reply_to,
        language=DEFAULT_LANGUAGE,
    )


def patient_confirmation(
    *, reference: str, status_url: str, language: str | None, contact_email: str, mail_from: str, to: str,
    headers: dict[str, str] | None = None, routed_at_once: bool = True,
) -> EmailMessage:
    """"We received request <reference>" with the private status link, in the patient's
    language; what happens next as `AUTO_ROUTE` has it (`routed_at_once`)."""
    lang = language_for(language)
    values = {"reference": reference, "status_url": status_url, "contact_email": contact_email}
    texts = list(_PATIENT_PARAGRAPHS)
    if routed_at_once:
        texts[_NEXT_PARAGRAPH] = _NEXT_ROUTED_AT_ONCE
    with force_locale(lang):
        subject = gettext("Medtour: we have received your request %(reference)s", reference=reference)
        paragraphs = [gettext(paragraph, **values) for paragraph in texts]
    return patient_message(subject=subject, paragraphs=paragraphs, language=lang, mail_from=mail_from, to=to,
                           headers=headers or {}, reply_to=contact_email)


def clinic_referral(
    *, reference: str, portal_url: str, clinic_name: str, mail_from: str, to: str, contact_email: str
) -> EmailMessage:
    """"A new referral is waiting" with the portal link; of the patient, only the reference."""
    return english_message(_CLINIC_SUBJECT, _CLINIC_BODY, mail_from=mail_from, to=to, reply_to=contact_email,
                    reference=reference, portal_url=portal_url, clinic_name=clinic_name, contact_email=contact_email)


_STAFF_CHOICE_SUBJECT: Final = "Medtour: the patient chose a clinic for {reference}"
_STAFF_CHOICE_BODY: Final = (
    "The patient chose a clinic for {reference}.\n"
    "\n"
    "Open the case file to arrange the next steps:\n"
    "{case_url}\n"
    "\n"
    "Medtour\n"
)


def staff_choice(*, reference: str, case_url: str, mail_from: str, to: str) -> EmailMessage:
    """"The patient chose a clinic for <reference>" with the staff case link; the
    clinic, the price and everything else stay behind the staff sign-in."""
    return english_message(_STAFF_CHOICE_SUBJECT, _STAFF_CHOICE_BODY, mail_from=mail_from, to=to, reply_to=mail_from,
                    reference=reference, case_url=case_url)


_SIGNIN_LINK_SUBJECT: Final = "Medtour clinic portal: your sign-in link"
_SIGNIN_LINK_BODY: Final = (
    "Hello,\n"
    "\n"
    "Someone (we hope you) asked to sign in to the Medtour clinic portal as {email}.\n"
    "Open this link within {minutes} minutes to sign in:\n"
    "{link_url}\n"
    "\n"
    "The link works once. If you did not ask for it, ignore this email: nobody can\n"
    "sign in without the link, and it expires by itself.\n"
    "\n"
    "Questions? Write to {contact_email}\n"
    "\n"
    "Medtour\n"
)


def clinic_signin_link(
    *, link_url: str, minutes: int, mail_from: str, to: str, contact_email: str
) -> EmailMessage:
    """A clinic user's one-time sign-in link; nothing about any case."""
    return english_message(_SIGNIN_LINK_SUBJECT, _SIGNIN_LINK_BODY, mail_from=mail_from, to=to, reply_to=contact_email,
                    email=to, minutes=minutes, link_url=link_url, contact_email=contact_email)


_RESET_LINK_SUBJECT: Final = "Medtour: reset your password"
_RESET_LINK_BODY: Final = (
    "Hello,\n"
    "\n"
    "A Medtour administrator sent you this link to set a new password for\n"
    "{email}. Open it within {hours} hours:\n"
    "{link_url}\n"
    "\n"
    "The link works once. If you sign in with a code from an authenticator app,\n"
    "the page also gives you a new key for it; your old codes stop working.\n"
    "You have been signed out everywhere.\n"
    "\n"
    "If you did not expect this email, tell us: {contact_email}\n"
    "\n"
    "Medtour\n"
)


def password_reset_link(
    *, link_url: str, hours: int, email: str, mail_from: str, to: str, contact_email: str
) -> EmailMessage:
    """A staff or clinic user's one-time reset link (`service.accounts.password_reset`)."""
    return english_message(_RESET_LINK_SUBJECT, _RESET_LINK_BODY, mail_from=mail_from, to=to, reply_to=contact_email,
                           link_url=link_url, hours=hours, email=email, contact_email=contact_email)
