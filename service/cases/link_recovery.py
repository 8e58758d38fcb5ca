"""Getting back in: "I lost my link" (/s/lost) and "my link leaked" (rotation).

Asking for the links records one outbox row whatever the address, with the address
sealed (`secrets_box`; wiped once the job is done) and no lookup in the request, so the
answer and its timing say nothing about which addresses have requests. The job
(`send_lost_links`) finds the address's open requests and sends one e-mail with an
opener for each, or nothing.

Rotation replaces the permanent status token: the old link, every opener not used yet
and every browser let in by one stop working in the same commit (a browser's access is
tied to the token it was granted under: `service.blueprints.status_access`), and the
patient is e-mailed an opener (`patient_mail.PatientEvent.NEW_LINK`). The new token
itself is never shown to anyone: the mailbox is the way back in."""
from __future__ import annotations

import secrets
from typing import Final

from flask import current_app
from sqlalchemy import func, select

from service.cases import case_mail, openers, patient_mail
from service.cases.events import Actor, EventKind, record_event
from service.cases.secrets_box import seal
from service.cases.status import CaseStatus
from service.cases.tokens import new_token
from service.extensions import db
from service.limits import OPENER_TTL_DAYS
from service.models import Case, OutboxMessage
from service.notifications import link_emails, reply_address
from service.outbox import Job, record

# The ledger kind of one "lost links" e-mail: one per request on /s/lost (its id).
LOST_LINKS_KIND: Final = "lost_links:{request}"


def normalized(email: str) -> str:
    """How addresses are compared: case-insensitively, without surrounding spaces."""
    return email.strip().lower()


def ask_for_links(email: str) -> OutboxMessage:
    """Record that the links of `email` were asked for; the same work for every address."""
    return record(Job.SEND_LOST_LINKS, case_id=None, sealed_email=seal(normalized(email)),
                  request=secrets.token_hex(8))


def open_cases(email: str) -> list[Case]:
    """The address's requests a link is worth sending for, newest first: not closed
    (withdrawn ones are closed too) and not being erased."""
    return list(db.session.scalars(
        select(Case)
        .where(func.lower(Case.email) == normalized(email), Case.status != CaseStatus.CLOSED,
               Case.erasure_requested_at.is_(None))
        .order_by(Case.created_at.desc(), Case.id.desc())
    ))


def send_lost_links(email: str, request: str) -> bool:
    """The job's work: one e-mail listing each open request of `email` with a new
    opener; False, with nothing sent, when there is none. Sent once per request (the
    ledger row is the newest case's); the openers and the timeline events commit with
    the ledger's "sent" mark."""
    cases = open_cases(email)
    if not cases:
        return False
    newest = cases[0]
    config = current_app.config

    def build():
        links = []
        for case in cases:
            links.append((case.reference, openers.url(openers.issue(case))))
            record_event(case, Actor.SYSTEM, EventKind.LINKS_EMAILED)
        return link_emails.lost_links(
            links=links, opener_days=OPENER_TTL_DAYS, language=newest.language,
            mail_from=config["MAIL_FROM"], to=newest.email, headers=reply_address.headers_for(newest.id),
        )

    return case_mail.to_patient(newest, LOST_LINKS_KIND.format(request=request), build)


def rotate(case: Case) -> None:
    """Replace the case's status token ("my link leaked"); the caller commits. The old
    link, its unused openers and the browsers let in under it stop working at that
    commit, and the new link is e-mailed as an opener."""
    case.token_hash = new_token()[1]
    openers.void_all(case)
    event = record_event(case, Actor.PATIENT, EventKind.LINK_ROTATED)
    db.session.flush()
    patient_mail.announce(case, patient_mail.PatientEvent.NEW_LINK, ref=event.id)


def masked(email: str) -> str:
    """The address as the status page shows it: enough to recognise, not to copy
    ("a•••@example.com")."""
    local, at, domain = email.partition("@")
    if not at:
        return "•••"
    return f"{local[:1]}•••@{domain}"
