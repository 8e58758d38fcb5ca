"""The data model. Import models from here."""
from service.models.case import Attachment, Case, CaseEvent, ReferenceCounter
from service.models.catalog import CatalogVersion, Clinic, ClinicTreatment, Treatment
from service.models.idempotency import IdempotencyKey
from service.models.quotes import Quote
from service.models.staff import PatientQuestion, User, UserSession
from service.models.staging import StagedUpload
from service.models.work import Document, Notification, OutboxMessage, Referral

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
