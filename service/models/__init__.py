"""The data model. Import models from here."""
from service.models.case import Attachment, Case, CaseEvent, ReferenceCounter
from service.models.catalog import CatalogVersion, Clinic, ClinicTreatment, Treatment
from service.models.document import Document
from service.models.idempotency import IdempotencyKey
from service.models.notification import Notification
from service.models.outbox_message import OutboxMessage
from service.models.quotes import Quote
from service.models.referral import Referral
from service.models.staff import PatientQuestion, User, UserSession
from service.models.staging import StagedUpload

__all__ = [
    "Attachment",
    "Case",
    "CaseEvent",
    "CatalogVersion",
    "Clinic",
    "ClinicTreatment",
    "Document",
    "IdempotencyKey",
    "Notification",
    "OutboxMessage",
    "PatientQuestion",
    "Quote",
    "ReferenceCounter",
    "Referral",
    "StagedUpload",
    "Treatment",
    "User",
    "UserSession",
]
