"""The conversation on a case: the patient writes (status page or e-mail reply), staff
answer from the case file, and a staff member may forward one patient message to a
clinic's referral. Plain functions; the caller commits.

Messages are between the patient and the agency only: nothing here is shown to a
clinic except what `forward_to_referral` forwarded explicitly (`forwarded_to`,
`clinic_attachments`). A message's files are `Attachment` rows with `message_id`
set, stored exactly like the request form's (same checks, same per-case limit, the
same all-or-nothing write), so erasure deletes them with the rest of the case."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from flask import current_app
from sqlalchemy import select

from service import limits, uploads
from service.cases import events, intake, patient_mail, reply_templates, sla
from service.extensions import db
from service.i18n import format_integer, gettext
from service.models import Attachment, Case, CaseEvent, CaseMessage, Referral, User
from service.models.message import Direction, MessageSource
from service.models.status import ReferralStatus
from service.outbox import Job, record
from service.uploads import FileProblem, IncomingFile
from storage import Storage, StorageUnavailable

log = logging.getLogger(__name__)

# The notifications ledger's kinds of the e-mail to the assignee, with the message's or
# question's id: one e-mail per message, one per answer.
PATIENT_WROTE: Final = "patient_wrote"
PATIENT_ANSWERED: Final = "patient_answered"


class MessageRefused(ValueError):
    """Nothing was recorded; the message says why, in the page's language."""


# ---------------------------------------------------------------- writing


def _refused_entries(refused: Iterable[FileProblem | dict]) -> list[dict[str, str]]:
    """The refused files of an e-mail as stored: [{"filename", "reason"}]."""
    entries = []
    for item in refused:
        if isinstance(item, FileProblem):
            entries.append({"filename": item.filename, "reason": item.message})
        else:
            entries.append({"filename": str(item.get("filename", "")), "reason": str(item.get("reason", ""))})
    return entries


def _check_text(body: str, *, required: bool) -> str:
    text = (body or "").strip()
    if required and not text:
        raise MessageRefused(gettext("Write a message or choose a file to send."))
    if len(text) > limits.MESSAGE_MAX_CHARS:
        raise MessageRefused(gettext("Keep your message under %(max)s characters.",
                                     max=format_integer(limits.MESSAGE_MAX_CHARS)))
    return text


def post_patient_message(
    case: Case,
    body: str,
    files: Sequence[IncomingFile],
    *,
    source: str = "web",
    automatic: bool = False,
    email_message_id: str | None = None,
    refused_files: Iterable[FileProblem | dict] = (),
    storage: Storage | None = None,
) -> CaseMessage:
    """Record what the patient wrote, with its files, in the caller's transaction.

    `files` are `service.uploads.IncomingFile`s, each already through
    `uploads.inspect` (the status page's form does it, `inbound_mail.check_files`
    does it for an e-mail's attachments). Here the case's file limit is checked once
    more, against the files on record now (the caller holds the case's row lock), and
    the files are written all or none: one over the limit refuses the whole message
    with `MessageRefused` naming the limit, a store that is down with
    `intake.FilesNotStored`; either way nothing is recorded.

    `refused_files` are the e-mail attachments that failed the checks (`FileProblem`s
    or {"filename", "reason"} dicts); they are listed on the message. An `automatic`
    message (an auto-reply or bounce) is kept but notifies nobody.

    The caller commits with `commit_or_clean(message)`, which deletes the written
    objects if the commit fails."""
    if case.erased_at is not None or case.erasure_requested_at is not None:
        raise MessageRefused(gettext("This request is being erased; nothing more can be added to it."))
    files = list(files)
    if source == MessageSource.WEB:
        text = _check_text(body, required=not files)
    else:
        text = (body or "").strip()[: limits.MESSAGE_EMAIL_MAX_CHARS]
    max_files = current_app.config["MAX_FILES"]
    too_many = uploads.count_problem(len(files), intake.attachment_count(case), max_files)
    if too_many is not None:
        raise MessageRefused(too_many.message)
    message = CaseMessage(
        case_id=case.id, author=events.Actor.PATIENT, direction=Direction.PATIENT, body=text,
        source=source, automatic=automatic, email_message_id=email_message_id,
        refused_files=_refused_entries(refused_files),
    )
    db.session.add(message)
    db.session.flush()
    if files:
        try:
            # The intake's writer: every file or none, at the case's server-made keys.
            attachments = intake._store_files(case, files, storage or _storage())
        except StorageUnavailable as exc:
            db.session.rollback()
            raise intake.FilesNotStored(str(exc)) from exc
        for attachment in attachments:
            attachment.message_id = message.id
        intake.refresh_paperwork(case)
    events.record_event(case, events.Actor.PATIENT, events.EventKind.PATIENT_MESSAGE,
                        message_id=message.id, source=source, files=len(files),
                        **({"automatic": True} if automatic else {}))
    if not automatic:
        announce_to_assignee(case, message_id=message.id)
    log.info("case %s: patient message %s (%s%s, %d file(s))", case.reference, message.id, source,
             ", automatic" if automatic else "", len(files))
    return message


def _storage() -> Storage:
    from service.store import get_storage

    return get_storage()


def commit_or_clean(message: CaseMessage, storage: Storage | None = None) -> None:
    """Commit (relaying the work recorded with it), or delete the message's objects."""
    written = list(db.session.scalars(select(Attachment).where(Attachment.message_id == message.id)))
    intake._commit_or_clean(storage or _storage(), written)


def post_staff_message(case: Case, user: User, body: str) -> CaseMessage:
    """A coordinator's message to the patient; the patient is e-mailed (once) that a
    message waits on their status page, never its text."""
    if case.erased_at is not None:
        raise MessageRefused("The case's personal data was erased; there is nobody to write to.")
    text = (body or "").strip()
    if not text:
        raise MessageRefused("Write the message first.")
    if len(text) > limits.MESSAGE_MAX_CHARS:
        raise MessageRefused(f"Keep the message under {limits.MESSAGE_MAX_CHARS:,} characters.")
    left = reply_templates.unfilled(text)
    if left:
        names = ", ".join("{" + name + "}" for name in left)
        raise MessageRefused(f"Replace {names} in the message before sending it.")
    message = CaseMessage(
        case_id=case.id, author=events.Actor.user(user), direction=Direction.STAFF, body=text,
        source=MessageSource.WEB, refused_files=[],
    )
    db.session.add(message)
    db.session.flush()
    events.record_event(case, events.Actor.user(user), events.EventKind.STAFF_MESSAGE, message_id=message.id)
    if case.first_response_at is None:
        case.first_response_at = message.created_at
        sla.refresh_deadline(case)
    patient_mail.announce(case, patient_mail.PatientEvent.COORDINATOR_MESSAGE, ref=message.id)
    return message


def announce_to_assignee(case: Case, *, message_id: int | None = None, question_id: int | None = None) -> None:
    """Record the e-mail telling the case's assignee that the patient wrote (or answered
    a question); nothing when the case has no assignee (it is on the queue)."""
    if case.assignee_id is None:
        return
    record(Job.NOTIFY_STAFF_PATIENT_WROTE, case_id=case.id, message_id=message_id, question_id=question_id)


def notify_assignee(case: Case, *, message_id: int | None = None, question_id: int | None = None) -> bool:
    """Send the e-mail `announce_to_assignee` recorded, once (the notifications ledger);
    True if sent now. English, a link to the case file, nothing of what was written."""
    from service.links import external_url
    from service.notifications import notify_once, staff_mail

    if case.assignee is None or case.erased_at is not None:
        return False
    config = current_app.config
    answered = question_id is not None
    kind = f"{PATIENT_ANSWERED}:{question_id}" if answered else f"{PATIENT_WROTE}:{message_id}"
    recipient = case.assignee.email
    return notify_once(
        db.session,
        case_id=case.id,
        kind=kind,
        recipient=recipient,
        referral_id=None,
        mail_url=config["MAIL_URL"],
        build=lambda: staff_mail.patient_wrote(
            reference=case.reference,
            case_url=external_url("staff_case.show", reference=case.reference, _anchor="messages"),
            answered=answered,
            mail_from=config["MAIL_FROM"],
            to=recipient,
        ),
    )


# ---------------------------------------------------------------- forwarding


def _forward_events(case: Case) -> list[CaseEvent]:
    return list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == events.EventKind.MESSAGE_FORWARDED)
        .order_by(CaseEvent.id)
    ))


# What of a message a forward lets the clinic see.
TEXT: Final = "text"
FILES: Final = "files"


def _parts_of(details: dict) -> set[str]:
    """The parts one forward event passed on; a forward recorded without `parts`
    passed on both."""
    parts = details.get("parts")
    return set(parts) if parts is not None else {TEXT, FILES}


def forwards(case: Case) -> dict[int, dict[int, set[str]]]:
    """Message id → referral id → what of the message that referral's clinic may see."""
    found: dict[int, dict[int, set[str]]] = {}
    for event in _forward_events(case):
        details = event.details or {}
        to = found.setdefault(details.get("message_id"), {})
        to.setdefault(details.get("referral_id"), set()).update(_parts_of(details))
    return found


def _forwarded_parts(referral: Referral) -> dict[int, set[str]]:
    """Message id → what of it this referral's clinic may see."""
    return {message_id: to[referral.id] for message_id, to in forwards(referral.case).items() if referral.id in to}


def _own_text(message: CaseMessage) -> str:
    """The text the patient wrote, without the quoted part of an e-mail reply."""
    return split_quoted(message.body)[0] if message.source == MessageSource.EMAIL else message.body


def forward_to_referral(case: Case, user: User, message: CaseMessage, referral: Referral, *,
                        text: bool = True, files: bool = True) -> CaseEvent:
    """Let one clinic see one patient message, its text, its files or both, on its
    referral page (and the files in its dossier): recorded on the timeline. A part is
    passed on once per clinic; forwarding again passes on only what it did not have."""
    if message.case_id != case.id or referral.case_id != case.id:
        raise MessageRefused("That message or referral belongs to another case.")
    if message.direction != Direction.PATIENT or message.automatic:
        raise MessageRefused("Only the patient's own messages can be forwarded to a clinic.")
    if referral.status not in ReferralStatus.open():
        raise MessageRefused(f"{referral.clinic.name} no longer works on this case; nothing was forwarded.")
    wanted = {part for part, asked, present in (
        (TEXT, text, bool(_own_text(message).strip())), (FILES, files, bool(message.attachments)),
    ) if asked and present}
    if not wanted:
        raise MessageRefused("Nothing to forward: choose the message's text, its files, or both.")
    new = wanted - _forwarded_parts(referral).get(message.id, set())
    if not new:
        raise MessageRefused(f"This message was already forwarded to {referral.clinic.name}.")
    event = events.record_event(
        case, events.Actor.user(user), events.EventKind.MESSAGE_FORWARDED,
        message_id=message.id, referral_id=referral.id, clinic_name=referral.clinic.name,
        files=len(message.attachments) if FILES in new else 0, parts=sorted(new),
    )
    if FILES in new:
        record(Job.RENDER_DOSSIER, case_id=case.id, referral_id=referral.id)
    return event


def _messages(ids: Iterable[int]) -> list[CaseMessage]:
    ids = list(ids)
    if not ids:
        return []
    return list(db.session.scalars(select(CaseMessage).where(CaseMessage.id.in_(ids)).order_by(CaseMessage.id)))


def forwarded_to(referral: Referral) -> list[CaseMessage]:
    """The patient messages forwarded to this referral (any part of them), oldest
    first: all a clinic sees of the conversation."""
    return _messages(_forwarded_parts(referral))


def clinic_attachments(referral: Referral) -> list[Attachment]:
    """The case's files a clinic may see: the request's and "add files" ones, and those
    of the messages whose files were forwarded to it."""
    forwarded = {message_id for message_id, parts in _forwarded_parts(referral).items() if FILES in parts}
    return [a for a in referral.case.attachments if a.message_id is None or a.message_id in forwarded]


# ---------------------------------------------------------------- reading


# "On Tue, 1 Dec 2026 at 10:00, Medtour <…> wrote:" (one line, or wrapped before "wrote:").
_EN_HEADER: Final = re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE)
_EN_HEADER_START: Final = re.compile(r"^\s*On\s.+", re.IGNORECASE)
_WROTE_END: Final = re.compile(r"^.*\bwrote:\s*$", re.IGNORECASE)
# Thunderbird, Yandex, Mail.ru in Russian: "…, Medtour пишет:", "… написал(а):".
_RU_HEADER: Final = re.compile(r"(пишет|написал\(а\)|написала?)\s*:\s*$", re.IGNORECASE)
# Outlook's separators, in English and Russian.
_SEPARATOR: Final = re.compile(
    r"^\s*-{2,}\s*(Original Message|Исходное сообщение|Пересланное сообщение|Forwarded message)\s*-{2,}\s*$",
    re.IGNORECASE,
)


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _header_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _EN_HEADER.match(line) or _RU_HEADER.search(line) or _SEPARATOR.match(line):
        return True
    # A header wrapped over two lines: "On …, Medtour <…>" then "wrote:".
    return bool(_EN_HEADER_START.match(line) and index + 1 < len(lines) and _WROTE_END.match(lines[index + 1])
                and not _EN_HEADER_START.match(lines[index + 1]))


def split_quoted(text: str) -> tuple[str, str]:
    """The new part of an e-mail reply and the quoted rest ("" when nothing is quoted).

    The quote starts at its header ("On … wrote:", "… пишет:", "… написал(а):",
    "-----Original Message-----") or, without one, at the trailing block of "> " lines.
    Only the display folds it: the whole text stays on record."""
    lines = (text or "").splitlines()
    for index in range(len(lines)):
        if _header_at(lines, index):
            return "\n".join(lines[:index]).strip(), "\n".join(lines[index:]).strip()
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (_is_quote(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    if start < end and any(_is_quote(line) for line in lines[start:end]):
        return "\n".join(lines[:start]).strip(), "\n".join(lines[start:end]).strip()
    return (text or "").strip(), ""


@dataclass(frozen=True)
class ThreadEntry:
    """One message as the status page and the case file show it."""

    message: CaseMessage
    text: str
    quoted: str
    attachments: list[Attachment]
    # Referral id → what of the message was forwarded to that clinic (TEXT, FILES).
    forwarded_to: dict[int, set[str]]

    @property
    def from_patient(self) -> bool:
        return self.message.direction == Direction.PATIENT

    @property
    def parts(self) -> set[str]:
        """What of the message there is to forward."""
        return {part for part, present in ((TEXT, bool(self.text.strip())), (FILES, bool(self.attachments))) if present}

    def left_for(self, referral_id: int) -> set[str]:
        """What of the message that clinic does not have yet."""
        return self.parts - self.forwarded_to.get(referral_id, set())


def thread(case: Case) -> list[ThreadEntry]:
    """The case's messages, oldest first, with e-mail quotes folded."""
    messages = list(db.session.scalars(
        select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.created_at, CaseMessage.id)
    ))
    forwarded = forwards(case) if messages else {}
    entries = []
    for message in messages:
        text, quoted = split_quoted(message.body) if message.source == MessageSource.EMAIL else (message.body, "")
        entries.append(ThreadEntry(
            message=message, text=text, quoted=quoted, attachments=list(message.attachments),
            forwarded_to=forwarded.get(message.id, {}),
        ))
    return entries


@dataclass(frozen=True)
class ForwardedMessage:
    """A patient message as the clinic reads it: the text (the patient's identity
    redacted until released, as in the dossier) and when it was written."""

    text: str
    created_at: object
    files: int


def forwarded_for_clinic(referral: Referral) -> list[ForwardedMessage]:
    """The messages whose text was forwarded to this referral; the files count only when
    they were forwarded too (files alone are listed with the case's files)."""
    from service.paperwork.content import _redactor

    redact = (lambda text: text) if referral.contact_released_at is not None else _redactor(referral.case)
    parts = _forwarded_parts(referral)
    shown = []
    for message in _messages(m for m, p in parts.items() if TEXT in p):
        files = len(message.attachments) if FILES in parts[message.id] else 0
        shown.append(ForwardedMessage(text=redact(_own_text(message)), created_at=message.created_at, files=files))
    return shown
