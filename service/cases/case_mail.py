"""A case's e-mail sent once through the notifications ledger, to its patient or to the
clinic of one of its referrals: who receives it, which ledger row it is, and (for a
clinic) what every clinic e-mail names are written here once, so that each sender
says only which e-mail it is."""
from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from flask import current_app

from service.extensions import db
from service.links import external_url
from service.models import Case, Referral
from service.notifications import notify_once


def to_patient(case: Case, kind: str, build: Callable[[], EmailMessage]) -> bool:
    """Send the case's patient the e-mail `build` makes unless the ledger has `kind`
    for them; True if sent now. `build` runs only when it is sent."""
    return notify_once(
        db.session,
        case_id=case.id,
        kind=kind,
        recipient=case.email,
        referral_id=None,
        mail_url=current_app.config["MAIL_URL"],
        build=build,
    )


def to_clinic(referral: Referral, kind: str, build: Callable[..., EmailMessage], **values: object) -> bool:
    """Send the referral's clinic the e-mail `build` makes, once per `kind`; True if sent
    now. `build` is a `clinic_mail`/`emails` builder: it gets the reference, the portal
    link to the referral, the clinic's name, the sender and the contact address, plus
    `values`."""
    config = current_app.config
    clinic = referral.clinic
    return notify_once(
        db.session,
        case_id=referral.case_id,
        kind=kind,
        recipient=clinic.email,
        referral_id=referral.id,
        mail_url=config["MAIL_URL"],
        build=lambda: build(
            reference=referral.case.reference,
            portal_url=external_url("clinic_portal.referral", referral_id=referral.id),
            clinic_name=clinic.name,
            mail_from=config["MAIL_FROM"],
            to=clinic.email,
            contact_email=config["CONTACT_EMAIL"],
            **values,
        ),
    )
