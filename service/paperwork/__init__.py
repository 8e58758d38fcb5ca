"""PDF paperwork: the referral dossier a clinic quotes from, and the patient's
confirmation, quote comparison, booking summary; the trip's itinerary and visa-support letters are in ``trip``. Pure
functions from data to PDF bytes; see ``documents`` for the contract with the caller
(a background job) and ``render`` for the sandbox."""
from service.paperwork.content import (
    AttachmentEntry,
    BookingSummaryContent,
    ConfirmationContent,
    DossierContent,
    QuoteComparisonContent,
    QuoteEntry,
    booking_summary_content,
    confirmation_content,
    dossier_content,
    quote_comparison_content,
)
from service.paperwork.documents import (
    RenderedPdf,
    build_confirmation_pdf,
    build_dossier_pdf,
    build_patient_pdf,
    prepare_dossier,
)
from service.paperwork.render import FetchRefused, SandboxedFetcher, render_pdf

__all__ = [
    "AttachmentEntry",
    "BookingSummaryContent",
    "ConfirmationContent",
    "DossierContent",
    "FetchRefused",
    "QuoteComparisonContent",
    "QuoteEntry",
    "RenderedPdf",
    "SandboxedFetcher",
    "booking_summary_content",
    "build_confirmation_pdf",
    "build_dossier_pdf",
    "build_patient_pdf",
    "confirmation_content",
    "dossier_content",
    "prepare_dossier",
    "quote_comparison_content",
    "render_pdf",
]
