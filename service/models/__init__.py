"""The data model. Import models from here."""
from service.models.case import Attachment, Case, CaseEvent, ReferenceCounter
from service.models.catalog import Clinic, ClinicTreatment, Treatment

__all__ = ["Attachment", "Case", "CaseEvent", "ReferenceCounter", "Clinic", "ClinicTreatment", "Treatment"]
