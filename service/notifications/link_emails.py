"""The e-mail that answers "I lost my link" (/s/lost): one message listing every open
request of the address, each with its own single-use opener.

Like every patient e-mail it carries the references and links only, never anything of
the cases (no treatment, clinic or text the patient typed), in the language of the
newest request, with the Reply-To and Message-ID of that request so that an answer
lands on it. Someone else may have typed the address: the message says so, and that
nothing can be opened without the links."""
from __future__ import annotations

from email.message import EmailMessage
from typing import Final

from flask_babel import force_locale

from service import i18n
from service.i18n import N_, gettext, ngettext
from service.notifications.emails import GREETING, patient_message

_ASKED: Final = N_("Someone, we hope you, asked on our website for the links to the requests\n"
                   "made with this e-mail address. Here they are:")
_ONE: Final = N_("Request %(reference)s:\n"
                 "%(url)s")
_NOT_YOU: Final = N_("If you did not ask for them, ignore this e-mail: nobody can open your\n"
                     "requests without these links.")


def _lifetime(days: int) -> str:
    return ngettext(
        "Each link opens its status page once and works for %(num)d day. Do not\n"
        "forward this e-mail: a used or expired link offers to send you a new one.",
        "Each link opens its status page once and works for %(num)d days. Do not\n"
        "forward this e-mail: a used or expired link offers to send you a new one.",
        days,
    )


def lost_links(
    *,
    links: list[tuple[str, str]],
    opener_days: int,
    language: str | None,
    mail_from: str,
    to: str,
    headers: dict[str, str],
) -> EmailMessage:
    """`links`: (reference, opener URL) of each open request, newest first; `headers`
    (`reply_address.headers_for` of the newest) replace the defaults."""
    lang = i18n.resolve(language)
    with force_locale(lang):
        subject = ngettext("Medtour: the link to your request", "Medtour: the links to your requests", len(links))
        paragraphs = [
            gettext(GREETING),
            gettext(_ASKED),
            *(gettext(_ONE, reference=reference, url=url) for reference, url in links),
            _lifetime(opener_days),
            gettext(_NOT_YOU),
        ]
    return patient_message(subject=subject, paragraphs=paragraphs, language=lang, mail_from=mail_from, to=to,
                           headers=headers)
