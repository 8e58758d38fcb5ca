"""Telling the clinics that quoted how the patient's choice went: the chosen clinic gets
"chosen: next steps", every other clinic that quoted "not chosen" (its referral then
reads "Not chosen" in the portal and can no longer be revised: `Referral.state`).

`record_outcomes` is called with the choice (patient or staff) and records one outbox
job per quoting referral; the job calls `notify`, which reads the referral's state when
it runs, so a choice that staff record again later tells each clinic its latest
standing. Each e-mail goes once per referral through the notifications ledger."""
from __future__ import annotations

from sqlalchemy import select

from service.cases import case_mail
from service.cases.status import ReferralState, ReferralStatus
from service.extensions import db
from service.models import Case, OutboxMessage, Referral
from service.notifications import clinic_mail
from service.outbox import Job, record


def record_outcomes(case: Case) -> list[OutboxMessage]:
    """One NOTIFY_CLINIC_OUTCOME per clinic that quoted (accepted) on this case."""
    quoted = db.session.scalars(
        select(Referral.id).where(Referral.case_id == case.id, Referral.status == ReferralStatus.ACCEPTED)
        .order_by(Referral.id)
    )
    return [record(Job.NOTIFY_CLINIC_OUTCOME, case_id=case.id, referral_id=referral_id) for referral_id in quoted]


def record_outcome(referral: Referral) -> OutboxMessage:
    """The same for one referral: a clinic that quoted after the patient had chosen."""
    return record(Job.NOTIFY_CLINIC_OUTCOME, case_id=referral.case_id, referral_id=referral.id)


def notify(referral: Referral) -> bool:
    """Send the referral's clinic the e-mail its state calls for, once; True if sent now.
    Nothing for a referral that is neither chosen nor not chosen (withdrawn since, say),
    or on an erased case."""
    state = referral.state
    if state not in (ReferralState.CHOSEN, ReferralState.NOT_CHOSEN) or referral.case.erased_at is not None:
        return False
    build = clinic_mail.chosen if state == ReferralState.CHOSEN else clinic_mail.not_chosen
    base = clinic_mail.CHOSEN if state == ReferralState.CHOSEN else clinic_mail.NOT_CHOSEN
    return case_mail.to_clinic(referral, clinic_mail.kind(base, referral.id), build)
