"""The answer to a patient's e-mail whose attachments were not all accepted: how many,
what is accepted, and where to add them on the web.

It names no file (a file name such as "MRI knee.pdf" is health data) and no reason per
file (those are on the status page, behind the link). It is `Auto-Submitted:
auto-replied` (RFC 3834), so an autoresponder on the patient's side does not answer it,
and the receiver keeps any answer that does come as an automatic reply, unanswered: no
mail loop either way.
"""
from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Final

from flask_babel import force_locale

from service import i18n, uploads
from service.i18n import N_, gettext, ngettext
from service.notifications.emails import GREETING, patient_message

_SUBJECT: Final = N_("Medtour: some files of your e-mail were not added (%(reference)s)")
_RECEIVED: Final = N_("Thank you for your e-mail about your request %(reference)s: we have\n"
                      "added it to your case.")
_RULES: Final = N_("We accept %(types)s files of up to %(size)s each, at most\n"
                   "%(max_files)d files per case.")
_WITH_LINK: Final = N_("Please add the files on your status page, where you will also see why\n"
                       "each one was not accepted:\n"
                       "%(url)s")
_LINK_PRIVATE: Final = N_("This link is personal: do not forward this email.")


def patient_files_refused(
    *,
    reference: str,
    count: int,
    upload_url: str,
    max_files: int,
    max_file_bytes: int,
    language: str | None,
    mail_from: str,
    to: str,
    reply_headers: Mapping[str, str],
    in_reply_to: str | None = None,
) -> EmailMessage:
    """The reply, in the patient's language, with a single-use opener (`upload_url`).
    `reply_headers` are the case's Reply-To and Message-ID (`reply_address.headers_for`),
    so that answering it lands on the case again."""
    lang = i18n.resolve(language)
    with force_locale(lang):
        subject = gettext(_SUBJECT, reference=reference)
        paragraphs = [
            gettext(GREETING),
            gettext(_RECEIVED, reference=reference),
            ngettext("%(num)d file attached to it could not be accepted.",
                     "%(num)d files attached to it could not be accepted.", count),
            gettext(_RULES, types=uploads.accepted_labels(), size=i18n.format_size(max_file_bytes),
                    max_files=max_files),
            gettext(_WITH_LINK, url=upload_url),
            gettext(_LINK_PRIVATE),
        ]
    threading = {"In-Reply-To": in_reply_to, "References": in_reply_to} if in_reply_to else {}
    return patient_message(subject=subject, paragraphs=paragraphs, language=lang, mail_from=mail_from, to=to,
                           headers={**reply_headers, **threading, "Auto-Submitted": "auto-replied"})
