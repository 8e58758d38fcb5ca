"""Every background job, as a plain function taking ids, and the registry that maps
each `service.outbox.Job` to it and to its queue. Jobs are thin: the work itself lives
in `service` (routing, paperwork, notifications). They run inside `outbox.execute`,
which commits their effects together with the row's "done" mark; the follow-up
work they record is relayed after that commit.

The chain for a new case: `route_case` → `render_dossier` per referral →
`notify_clinic`; beside it `render_confirmation` and `notify_patient`. When AUTO_ASSIGN
is on, `route_case` also assigns the case (`assign_case` alone when AUTO_ROUTE is off)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from service.accounts import password_reset, signin_links
from service.cases import link_recovery
from service.cases import assignment, erasure, inbound_mail, paperwork_store, referrals
from service.cases import messages as messages_domain
from service.cases import clinic_outcome, derivatives, referral_clock
from service.cases import patient_mail
from service.cases import case_mail
from service.cases.secrets_box import open_secret
from service.cases.status import CaseStatus
from service.extensions import db
from service.links import external_url
from service.models import Attachment, Case, Invoice, Referral
from service.paperwork.invoice import Agency
from service.notifications import CLINIC_REFERRAL, PATIENT_CONFIRMATION, STAFF_CHOICE, emails, notify_once, reply_address
from service.outbox import Job, commit, record
from service.store import get_storage
from workers import queues


def route_case(case_id: int, assign: bool = False) -> None:
    """First routing of a new case; a case already routed (or flagged) is left alone,
    so a second run refers nobody twice. Staff re-routing calls `referrals.route`, which
    records each new referral's dossier in both cases.

    With `assign` (intake sets it when AUTO_ASSIGN is on) the job is also the case's
    automatic assignment, after the routing, so the coordinators' lock is held only up
    to the commit. Routing that fails does not hold the assignment back: its changes are
    rolled back, the assignment is committed on its own, and the failure goes on to be
    retried (a second assignment leaves an assigned case alone)."""
    case = db.session.get(Case, case_id)
    if case is None:
        return
    if case.status == CaseStatus.SUBMITTED:
        try:
            referrals.route(case, current_app.config["ROUTING_TOP_N"])
        except Exception:
            if assign:
                db.session.rollback()
                assignment.assign_arriving(db.session.get(Case, case_id))
                commit()
            raise
    if assign:
        assignment.assign_arriving(case)


def render_dossier(case_id: int, referral_id: int) -> None:
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.case_id != case_id:
        return
    config = current_app.config
    saved = paperwork_store.store_dossier(
        referral,
        get_storage(),
        base_url=config["BASE_URL"],
        link_ttl=config["DOSSIER_LINK_TTL"],
    )
    if saved.created:
        record(Job.NOTIFY_CLINIC, case_id=case_id, referral_id=referral_id)


def render_confirmation(case_id: int) -> None:
    case = db.session.get(Case, case_id)
    if case is None:
        return
    paperwork_store.store_confirmation(case, get_storage(), contact_email=current_app.config["CONTACT_EMAIL"],
                                       routed_at_once=current_app.config["AUTO_ROUTE"])


def notify_patient(case_id: int, sealed_token: str) -> None:
    """The status link exists only in this job's sealed payload (the case keeps a hash)."""
    case = db.session.get(Case, case_id)
    if case is None:
        return
    config = current_app.config
    status_url = external_url("status.show", token=open_secret(sealed_token))
    case_mail.to_patient(case, PATIENT_CONFIRMATION, lambda: emails.patient_confirmation(
        reference=case.reference,
        status_url=status_url,
        language=case.language,
        contact_email=config["CONTACT_EMAIL"],
        mail_from=config["MAIL_FROM"],
        to=case.email,
        headers=reply_address.headers_for(case.id),
        routed_at_once=config["AUTO_ROUTE"],
    ))


def notify_clinic(case_id: int, referral_id: int) -> None:
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.case_id != case_id:
        return
    case_mail.to_clinic(referral, CLINIC_REFERRAL, emails.clinic_referral)


def assign_case(case_id: int) -> None:
    """Automatic assignment of a new case: first the cases already queued for lack of
    capacity (oldest first), then this one, or it joins the queue. Running it twice
    assigns nobody twice (an assigned case is left alone)."""
    assignment.assign_arriving(db.session.get(Case, case_id))


def _case(case_id: int) -> Case | None:
    """The case, unless it is gone or its personal data was erased (nothing to render)."""
    case = db.session.get(Case, case_id)
    return None if case is None or case.erased_at is not None else case


def render_quote_comparison(case_id: int) -> None:
    """The patient's side-by-side PDF of the quotes received, after any quote change."""
    case = _case(case_id)
    if case is not None:
        paperwork_store.store_quote_comparison(case, get_storage())


def render_booking_summary(case_id: int) -> None:
    case = _case(case_id)
    if case is not None and case.chosen_quote is not None:
        paperwork_store.store_booking_summary(case, get_storage(), contact_email=current_app.config["CONTACT_EMAIL"])


def render_visa_letter(case_id: int) -> None:
    """A visa-support letter per traveller; nothing while the letters cannot be made
    (no clinic chosen, no passport entered: `paperwork_store.visa_letter_blocker`, shown to staff)."""
    case = _case(case_id)
    if case is None or paperwork_store.visa_letter_blocker(case) is not None:
        return
    config = current_app.config
    paperwork_store.store_visa_letters(case, get_storage(), agency=Agency.from_config(config),
                                       default_coordinator=config["AGENCY_COORDINATOR"])


def render_itinerary(case_id: int) -> None:
    """The patient's itinerary, after any change to the trip."""
    case = _case(case_id)
    if case is not None and case.chosen_quote is not None:
        config = current_app.config
        paperwork_store.store_itinerary(case, get_storage(), agency=Agency.from_config(config),
                                        default_coordinator=config["AGENCY_COORDINATOR"])


def notify_staff_choice(case_id: int) -> None:
    """Tell the case's coordinator (or the agency's inbox) that the patient chose."""
    case = _case(case_id)
    if case is None or case.chosen_quote is None:
        return
    config = current_app.config
    recipient = case.assignee.email if case.assignee is not None else config["CONTACT_EMAIL"]
    notify_once(
        db.session,
        case_id=case.id,
        kind=STAFF_CHOICE,
        recipient=recipient,
        referral_id=case.chosen_quote.referral_id,
        mail_url=config["MAIL_URL"],
        build=lambda: emails.staff_choice(
            reference=case.reference,
            case_url=external_url("staff_case.show", reference=case.reference),
            mail_from=config["MAIL_FROM"],
            to=recipient,
        ),
    )


def send_signin_link(sealed_email: str, next_url: str | None) -> None:
    """A clinic user's sign-in link, asked for on /clinic/login/link. The page records
    this job for every address it is given, so that it works alike for all of them; an
    address without a clinic account ends here, with nothing sent."""
    signin_links.send_link(open_secret(sealed_email), next_url)


def send_reset_link(user_id: int) -> None:
    """A password (and second factor) reset link an administrator sent from /staff/users."""
    password_reset.send_reset(user_id)


def erase_case(case_id: int) -> None:
    """The patient asked for erasure: files, documents and personal fields go."""
    case = db.session.get(Case, case_id)
    if case is not None:
        erasure.erase(case, get_storage())


def notify_patient_files_refused(case_id: int, message_id: int | None, count: int,
                                 in_reply_to: str | None = None) -> None:
    """The reply to a patient's e-mail some of whose files were refused; once per message."""
    case = _case(case_id)
    if case is None:
        return
    inbound_mail.files_refused_reply(case, message_id=message_id, count=count, in_reply_to=in_reply_to)


def notify_staff_patient_wrote(case_id: int, message_id: int | None = None, question_id: int | None = None) -> None:
    """Tell the case's assignee that the patient wrote or answered; once per message."""
    case = _case(case_id)
    if case is not None:
        messages_domain.notify_assignee(case, message_id=message_id, question_id=question_id)


def notify_patient_event(case_id: int, event: str, ref: int | None = None, step: int | None = None) -> None:
    """One lifecycle e-mail to the patient (`patient_mail.announce`); once per event and ref."""
    case = _case(case_id)
    if case is not None:
        patient_mail.send(case, patient_mail.PatientEvent(event), ref=ref, step=step)


def notify_clinic_outcome(case_id: int, referral_id: int) -> None:
    """Tell a clinic that quoted whether the patient chose it; once per referral."""
    referral = db.session.get(Referral, referral_id)
    if referral is not None and referral.case_id == case_id:
        clinic_outcome.notify(referral)


def remind_clinic(case_id: int, referral_id: int) -> None:
    """Remind a clinic that its answer is due soon; once per referral."""
    referral = db.session.get(Referral, referral_id)
    if referral is not None and referral.case_id == case_id:
        referral_clock.remind(referral)


def send_lost_links(sealed_email: str, request: str) -> None:
    """The links asked for on /s/lost. The page records this job for every address it is
    given, so that it answers alike for all of them; an address without open requests
    ends here, with nothing sent."""
    link_recovery.send_lost_links(open_secret(sealed_email), request)


def derive_file(case_id: int, attachment_id: int) -> None:
    """A file's previews and clinic copy, once (`derivatives.derive`); an erased case has none."""
    case = _case(case_id)
    attachment = db.session.get(Attachment, attachment_id)
    if case is not None and attachment is not None and attachment.case_id == case_id:
        derivatives.derive(attachment, get_storage(), secret=current_app.config["SECRET_KEY"])


def render_invoice(case_id: int, invoice_id: int) -> None:
    """The deposit invoice's PDF (and, once stored, the patient's e-mail about it)."""
    case = _case(case_id)
    invoice = db.session.get(Invoice, invoice_id)
    if case is not None and invoice is not None and invoice.case_id == case_id:
        paperwork_store.store_invoice(invoice, get_storage(), agency=Agency.from_config(current_app.config))


@dataclass(frozen=True)
class JobSpec:
    func: Callable[..., None]
    queue: str


JOBS: dict[Job, JobSpec] = {
    Job.ROUTE_CASE: JobSpec(route_case, queues.ROUTING),
    Job.RENDER_DOSSIER: JobSpec(render_dossier, queues.PAPERWORK),
    Job.RENDER_CONFIRMATION: JobSpec(render_confirmation, queues.PAPERWORK),
    Job.NOTIFY_PATIENT: JobSpec(notify_patient, queues.NOTIFICATIONS),
    Job.NOTIFY_CLINIC: JobSpec(notify_clinic, queues.NOTIFICATIONS),
    Job.ASSIGN_CASE: JobSpec(assign_case, queues.ROUTING),
    Job.RENDER_QUOTE_COMPARISON: JobSpec(render_quote_comparison, queues.PAPERWORK),
    Job.RENDER_BOOKING_SUMMARY: JobSpec(render_booking_summary, queues.PAPERWORK),
    Job.RENDER_VISA_LETTER: JobSpec(render_visa_letter, queues.PAPERWORK),
    Job.NOTIFY_STAFF_CHOICE: JobSpec(notify_staff_choice, queues.NOTIFICATIONS),
    Job.SEND_SIGNIN_LINK: JobSpec(send_signin_link, queues.NOTIFICATIONS),
    Job.ERASE_CASE: JobSpec(erase_case, queues.DEFAULT),
    Job.NOTIFY_PATIENT_FILES_REFUSED: JobSpec(notify_patient_files_refused, queues.NOTIFICATIONS),
    Job.NOTIFY_STAFF_PATIENT_WROTE: JobSpec(notify_staff_patient_wrote, queues.NOTIFICATIONS),
    Job.NOTIFY_CLINIC_OUTCOME: JobSpec(notify_clinic_outcome, queues.NOTIFICATIONS),
    Job.REMIND_CLINIC: JobSpec(remind_clinic, queues.NOTIFICATIONS),
    Job.NOTIFY_PATIENT_EVENT: JobSpec(notify_patient_event, queues.NOTIFICATIONS),
    Job.SEND_LOST_LINKS: JobSpec(send_lost_links, queues.NOTIFICATIONS),
    Job.DERIVE_FILE: JobSpec(derive_file, queues.FILES),
    Job.RENDER_INVOICE: JobSpec(render_invoice, queues.PAPERWORK),
    Job.RENDER_ITINERARY: JobSpec(render_itinerary, queues.PAPERWORK),
    Job.SEND_RESET_LINK: JobSpec(send_reset_link, queues.NOTIFICATIONS),
}
