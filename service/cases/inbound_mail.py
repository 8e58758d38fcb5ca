"""A patient's e-mail reply, from parsed message to patient message on the case.

Plain functions, no SMTP: `workers.mail_in` speaks the protocol and calls these. The
order of the checks is the receiver's: the case is found from the signed reply address
(else `In-Reply-To`/`References`), the sender must be the case's own e-mail address
(bounces excepted: they come from a mail server, never from the patient), then the
message is kept. Automatic mail (out-of-office replies, bounces, mailing-list robots)
is kept as an "automatic reply" that notifies nobody and is never answered, so two
robots cannot start a mail loop through the case.

"All-or-nothing" for e-mail: the web form refuses a whole batch so the patient can fix
it and send again, but an e-mail cannot be sent back half-edited, and refusing it whole
(a bounce) would lose the text the patient wrote. So the text and every acceptable file
are kept; each refused file is listed on the message with its reason, and the patient
gets one e-mail, in their language, saying how to add those files on the web.
"""
from __future__ import annotations

import email.policy
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Final

from flask import current_app
from flask_babel import force_locale

from service import i18n, uploads
from service.cases import case_mail, openers
from service.cases.messages import post_patient_message
from service.cases.intake import attachment_count
from service.extensions import db
from service.models import Case, CaseMessage
from service.notifications import refused_files, reply_address
from service.outbox import Job, record
from service.uploads import FileProblem, IncomingFile

log = logging.getLogger(__name__)

# RFC 3834 and the de-facto headers of autoresponders and list servers.
_AUTOMATIC_PRECEDENCE: Final = frozenset({"bulk", "auto_reply", "junk"})
_AUTOMATIC_FLAGS: Final = ("X-Autoreply", "X-Autorespond")
_DAEMONS: Final = frozenset({"mailer-daemon", "postmaster"})
# The notifications ledger's kind of the reply about refused files (with the message id).
FILES_REFUSED: Final = "files_refused"
# Text parts that are the message's words, not attachments, when they carry no file name.
_BODY_TYPES: Final = frozenset({"text/plain", "text/html"})
_MSG_ID: Final = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class InboundFile:
    """An attachment as the sender declared it; nothing about it is trusted yet."""

    filename: str
    data: bytes
    declared_type: str


@dataclass(frozen=True)
class Extracted:
    body: str
    files: list[InboundFile] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """What `deliver` kept: the message row and the files it refused."""

    message: CaseMessage
    automatic: bool
    accepted: int
    refused: list[FileProblem]


def _header(msg: EmailMessage, name: str) -> str:
    value = msg.get(name)
    return "" if value is None else str(value).strip()


def is_bounce(msg: EmailMessage) -> bool:
    """A delivery report from a mail server: the null reverse-path (`Return-Path: <>`,
    which the receiver writes from the envelope), a `multipart/report`, or a message
    from MAILER-DAEMON or postmaster."""
    if _header(msg, "Return-Path") == "<>":
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    sender = parseaddr(_header(msg, "From"))[1] or _header(msg, "Return-Path").strip("<>")
    return sender.partition("@")[0].lower() in _DAEMONS


def classify(msg: EmailMessage) -> bool:
    """Whether the message was sent by a robot rather than written by the patient."""
    auto_submitted = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if any(msg.get(name) is not None and _header(msg, name).lower() not in ("no", "false", "0")
           for name in _AUTOMATIC_FLAGS):
        return True
    if _header(msg, "Precedence").lower() in _AUTOMATIC_PRECEDENCE:
        return True
    return is_bounce(msg)


class _TextFromHtml(HTMLParser):
    """The readable text of an HTML body: block elements end lines, scripts and styles
    are dropped, entities are decoded."""

    _BLOCKS: Final = frozenset({
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr",
    })
    _HIDDEN: Final = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(" ".join(data.split()) if data.strip() else (" " if data else ""))

    def text(self) -> str:
        lines = (line.strip() for line in "".join(self.parts).splitlines())
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    return parser.text()


def _text_of(part: EmailMessage) -> str:
    """The part's text in its declared charset (koi8-r, windows-1251 and the rest);
    an unknown or wrong charset reads as UTF-8 with replacement characters rather
    than losing the message."""
    raw = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        text = raw.decode(charset, errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_attachment(part: EmailMessage, parent_type: str) -> bool:
    if part.get_content_disposition() == "attachment" or part.get_filename():
        # An image embedded in an HTML body (a signature logo) is not a file the patient sent.
        return not (parent_type == "multipart/related" and part.get("Content-ID") and
                    part.get_content_disposition() != "attachment")
    return part.get_content_type() not in _BODY_TYPES and part.get_content_maintype() != "multipart"


def _leaves(part: EmailMessage, parent_type: str = "") -> Iterator[tuple[EmailMessage, str]]:
    """Every non-multipart part with its parent's type. A forwarded message
    (message/rfc822) is one attachment, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for child in part.iter_parts():
            yield from _leaves(child, part.get_content_type())
    else:
        yield part, parent_type


def extract(msg: EmailMessage) -> Extracted:
    """The message's text (text/plain preferred, else the text of its HTML) and its
    attachments as sent."""
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        text = _text_of(body_part)
        body = html_to_text(text) if body_part.get_content_type() == "text/html" else text
    files: list[InboundFile] = []
    for part, parent_type in _leaves(msg):
        if part is body_part or not _is_attachment(part, parent_type):
            continue
        if part.get_content_type() == "message/rfc822":
            data = part.get_payload(0).as_bytes()
        else:
            data = part.get_payload(decode=True) or b""
        name = part.get_filename() or f"attachment-{len(files) + 1}"
        files.append(InboundFile(filename=name, data=data, declared_type=part.get_content_type()))
    return Extracted(body=body.strip("\n"), files=files)


def _ids_in(value: str) -> list[str]:
    """The `<id>`s of a threading header, spaced or not."""
    return _MSG_ID.findall(value)


def _reported_ids(msg: EmailMessage) -> list[str]:
    """A bounce's own threading: the Message-ID of the e-mail it reports on, from its
    returned copy (message/rfc822) or returned headers (text/rfc822-headers)."""
    ids: list[str] = []
    for part, _parent in _leaves(msg):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            ids += _ids_in(str(part.get_payload(0).get("Message-ID", "")))
        elif kind == "text/rfc822-headers":
            returned = BytesParser(policy=email.policy.default).parsebytes(part.get_payload(decode=True) or b"")
            ids += _ids_in(str(returned.get("Message-ID", "")))
    return ids


def _message_ids(msg: EmailMessage) -> list[str]:
    """The ids of `In-Reply-To` then `References` (newest reference first), then, for a
    bounce, the id of the e-mail it returns."""
    values = _ids_in(_header(msg, "In-Reply-To")) + list(reversed(_ids_in(_header(msg, "References"))))
    return values + (_reported_ids(msg) if is_bounce(msg) else [])


def case_for_address(address: str) -> Case | None:
    """The live case whose signed reply address this is."""
    case_id = reply_address.case_id_from_address(address)
    return _live(case_id)


def is_sender_address(address: str) -> bool:
    """Whether this is our own MAIL_FROM address: a mail client that ignores Reply-To
    answers there, and such a reply is taken only if its `In-Reply-To`/`References`
    name a Message-ID of ours (checked on the message, `find_case`)."""
    ours = parseaddr(current_app.config["MAIL_FROM"])[1].lower()
    given = parseaddr(address.strip())[1].lower() or address.strip().strip("<>").lower()
    return bool(ours) and given == ours


def _live(case_id: int | None, *, for_update: bool = False) -> Case | None:
    """The case unless it is gone, erased or being erased (it takes no more messages)."""
    if case_id is None:
        return None
    case = db.session.get(Case, case_id, with_for_update=for_update)
    if case is None or case.erased_at is not None or case.erasure_requested_at is not None:
        return None
    return case


def find_case(recipients: Iterable[str], msg: EmailMessage) -> Case | None:
    """The case a reply is for: a signed reply address among the recipients first, else
    a Message-ID of ours in `In-Reply-To`/`References`. Its row is locked, as the web
    form's is, so that two replies at once cannot pass the case's file limit together."""
    for address in recipients:
        case_id = reply_address.case_id_from_address(address)
        if case_id is not None:
            return _live(case_id, for_update=True)
    return _live(reply_address.case_id_from_message_ids(_message_ids(msg)), for_update=True)


def sender_address(msg: EmailMessage) -> str | None:
    """The one address in `From`, or None when there is none or more than one."""
    addresses = [address for _, address in getaddresses([_header(msg, "From")]) if address]
    return addresses[0] if len(addresses) == 1 else None


def sender_matches(case: Case, msg: EmailMessage) -> bool:
    """Whether the message is from the case's e-mail address (case-insensitive)."""
    sender = sender_address(msg)
    return sender is not None and sender.strip().lower() == case.email.strip().lower()


def may_deliver(case: Case, msg: EmailMessage) -> bool:
    """The sender rule: the patient's own address, or a mail server's bounce."""
    return sender_matches(case, msg) or is_bounce(msg)


def check_files(case: Case, files: list[InboundFile]) -> tuple[list[IncomingFile], list[FileProblem]]:
    """Every attachment through the upload checks, in the case's language (the
    reasons are shown to the patient); files past the case's file limit are refused
    with the limit's reason."""
    config = current_app.config
    accepted: list[IncomingFile] = []
    refused: list[FileProblem] = []
    room = config["MAX_FILES"] - attachment_count(case)
    with force_locale(i18n.resolve(case.language)):
        for inbound in files:
            checked = uploads.inspect(inbound.filename, io.BytesIO(inbound.data), config["MAX_FILE_BYTES"])
            if isinstance(checked, FileProblem):
                refused.append(checked)
            elif len(accepted) >= room:
                problem = uploads.count_problem(len(accepted) + 1, config["MAX_FILES"] - room, config["MAX_FILES"])
                refused.append(FileProblem(checked.filename, uploads.Problem.COUNT, problem.message if problem else ""))
            else:
                accepted.append(checked)
    return accepted, refused


def deliver(case: Case, msg: EmailMessage, *, email_message_id: str | None = None) -> Delivery:
    """Keep the e-mail on the case as a patient message (in the caller's transaction).

    Automatic mail keeps its text only: no file of a robot is stored, nobody is told,
    nothing is sent back. A patient's reply keeps its text and acceptable files; when
    files were refused, a reply pointing to the web upload is recorded for the outbox."""
    automatic = classify(msg)
    extracted = extract(msg)
    message_id = email_message_id or _header(msg, "Message-ID") or None
    if automatic:
        stored = post_patient_message(case, extracted.body, [], source="email", automatic=True,
                                      email_message_id=message_id)
        return Delivery(message=stored, automatic=True, accepted=0, refused=[])
    accepted, refused = check_files(case, extracted.files)
    stored = post_patient_message(case, extracted.body, accepted, source="email", automatic=False,
                                  email_message_id=message_id, refused_files=tuple(refused))
    if refused:
        db.session.flush()
        record(Job.NOTIFY_PATIENT_FILES_REFUSED, case_id=case.id, message_id=stored.id,
               count=len(refused), in_reply_to=message_id)
    return Delivery(message=stored, automatic=False, accepted=len(accepted), refused=refused)


def files_refused_kind(message_id: int | None) -> str:
    """The ledger's kind: one reply per patient message."""
    return f"{FILES_REFUSED}:{message_id}"


def _upload_url(case: Case) -> str:
    """A single-use opener to the status page, where files are added."""
    return openers.url(openers.issue(case))


def files_refused_reply(case: Case, *, message_id: int | None, count: int, in_reply_to: str | None) -> bool:
    """Send the reply about refused files once (the notifications ledger); True if sent now.
    The opener is issued inside `build`, so only when the e-mail is actually sent."""
    config = current_app.config
    return case_mail.to_patient(case, files_refused_kind(message_id), lambda: refused_files.patient_files_refused(
        reference=case.reference,
        count=count,
        upload_url=_upload_url(case),
        max_files=config["MAX_FILES"],
        max_file_bytes=config["MAX_FILE_BYTES"],
        language=case.language,
        mail_from=config["MAIL_FROM"],
        to=case.email,
        reply_headers=reply_address.headers_for(case.id),
        in_reply_to=in_reply_to,
    ))
