"""PDF paperwork: the referral dossier a clinic quotes from, and the patient's
confirmation. Pure functions from data to PDF bytes; see ``documents`` for the
contract with the caller (a background job) and ``render`` for the sandbox."""
from service.paperwork.content import (
    AttachmentEntry,
    ConfirmationContent,
    DossierContent,
    confirmation_content,
    dossier_content,
)
from service.paperwork.documents import (
    RenderedPdf,
    build_confirmation_pdf,
    build_dossier_pdf,
    prepare_dossier,
)
from service.paperwork.render import FetchRefused, SandboxedFetcher, render_pdf

__all__ = [
    "AttachmentEntry",
    "ConfirmationContent",
    "DossierContent",
    "FetchRefused",
    "RenderedPdf",
    "SandboxedFetcher",
    "build_confirmation_pdf",
    "build_dossier_pdf",
    "confirmation_content",
    "dossier_content",
    "prepare_dossier",
    "render_pdf",
]
