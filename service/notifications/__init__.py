"""Email to patients and clinics: `emails` builds them (never with health data),
`transport` sends them over SMTP or into the log, `delivery` sends each one once."""
from service.notifications import delivery, emails, transport
from service.notifications.delivery import (
    CLINIC_REFERRAL,
    PATIENT_CONFIRMATION,
    SENDING,
    SENT,
    STAFF_CHOICE,
    notify_once,
)
from service.notifications.transport import MailError, MailRefused, MailUnavailable, parse_mail_url, send

__all__ = [
    "CLINIC_REFERRAL",
    "PATIENT_CONFIRMATION",
    "SENDING",
    "SENT",
    "STAFF_CHOICE",
    "MailError",
    "MailRefused",
    "MailUnavailable",
    "delivery",
    "emails",
    "notify_once",
    "parse_mail_url",
    "send",
    "transport",
]
