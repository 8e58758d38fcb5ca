"""The data model. Import models from here."""
from service.models.case import Attachment, Case, CaseEvent, ReferenceCounter
from service.models.catalog import CatalogVersion, Clinic, ClinicTreatment, Treatment
from service.models.derived import DerivedFile
from service.models.document import Document
from service.models.exchange_rate import ExchangeRate
from service.models.idempotency import IdempotencyKey
from service.models.invoice import Invoice, Payment
from service.models.message import CaseMessage, ReplyTemplate
from service.models.notification import Notification
from service.models.opener import Opener
from service.models.outbox_message import OutboxMessage
from service.models.quotes import Quote
from service.models.referral import Referral
from service.models.staff import PatientQuestion, User, UserSession
from service.models.staging import StagedUpload
from service.models.trip import Traveller, TripLeg

__all__ = [
    "Attachment",
    "Case",
    "CaseEvent",
    "CaseMessage",
    "CatalogVersion",
    "Clinic",
    "ClinicTreatment",
    "DerivedFile",
    "Document",
    "ExchangeRate",
    "IdempotencyKey",
    "Invoice",
    "Notification",
    "Opener",
    "OutboxMessage",
    "PatientQuestion",
    "Payment",
    "Quote",
    "ReferenceCounter",
    "ReplyTemplate",
    "Referral",
    "StagedUpload",
    "Traveller",
    "Treatment",
    "TripLeg",
    "User",
    "UserSession",
]
