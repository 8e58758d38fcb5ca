"""Generated paperwork on record: render a case's PDFs with `service.paperwork`, put
them in object storage and record them as `Document` rows.

Each document has a fixed slot ("confirmation", "dossier:<referral id>",
"quote_comparison", "booking_summary", "visa_letter") and a key derived from it, so
regenerating overwrites the same object and updates the same row: running a job twice
never leaves two documents."""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import select

from service.cases import derivatives, messages, patient_mail, quotes
from service.extensions import db
from service.models import Case, Document, Quote, Referral
from service.models.document import BOOKING_SUMMARY, VISA_LETTER
from service.paperwork import (
    RenderedPdf,
    booking_summary_content,
    build_confirmation_pdf,
    build_dossier_pdf,
    build_patient_pdf,
    confirmation_content,
    dossier_content,
    quote_comparison_content,
    visa_letter_content,
)
from storage import Storage

log = logging.getLogger(__name__)

DOSSIER: Final = "dossier"
CONFIRMATION: Final = "confirmation"
QUOTE_COMPARISON: Final = "quote_comparison"
PDF: Final = "application/pdf"


@dataclass(frozen=True)
class Saved:
    document: Document
    created: bool


def document_key(case_id: int, slot: str) -> str:
    return f"cases/{case_id}/documents/{slot.replace(':', '-')}.pdf"


def dossier_slot(referral_id: int) -> str:
    return f"{DOSSIER}:{referral_id}"


def _save(
    case: Case, slot: str, kind: str, language: str, pdf: RenderedPdf, filename: str,
    storage: Storage, referral: Referral | None = None,
) -> Saved:
    key = document_key(case.id, slot)
    stored = storage.put(key, io.BytesIO(pdf.data), content_type=PDF, filename=filename)
    document = db.session.scalar(select(Document).where(Document.case_id == case.id, Document.slot == slot))
    created = document is None
    if document is None:
        document = Document(case_id=case.id, slot=slot, storage_key=key)
        db.session.add(document)
    document.kind = kind
    document.referral_id = referral.id if referral is not None else None
    document.language = language
    document.size = stored.size
    document.sha256 = stored.sha256
    document.pages = pdf.pages
    db.session.flush()
    log.info("case %s: %s %s (%d pages)", case.reference, "stored" if created else "replaced", slot, pdf.pages)
    return Saved(document, created)


def store_confirmation(case: Case, storage: Storage, *, contact_email: str) -> Saved:
    content = confirmation_content(case, case.attachments, contact_email)
    pdf = build_confirmation_pdf(content)
    return _save(
        case, CONFIRMATION, CONFIRMATION, content.language, pdf, f"{case.reference}-confirmation.pdf", storage
    )


def store_dossier(
    referral: Referral, storage: Storage, *, base_url: str, link_ttl: int, reply_to: str
) -> Saved:
    """The clinic's dossier: the case without the patient's identity (until staff
    release it to this clinic), its files' de-identified copies as time-limited links,
    previews as figures (a disc's one per series) and PDFs as exhibits."""
    case = referral.case

    def link_for(file: derivatives.ClinicFile) -> str:
        """The clean copy's link, under a neutral name (a file's own name can name the
        patient); none for a file withheld or not ready."""
        if not file.storage_key:
            return ""
        url = storage.url(
            file.storage_key,
            filename=derivatives.copy_filename(f"{case.reference}-file-{file.id}", file.content_type),
            content_type=file.content_type,
            expires_in=link_ttl,
        )
        return base_url + url if url.startswith("/") else url

    def attachment_bytes(entry) -> bytes:
        with storage.open(entry.storage_key) as stream:
            return stream.read()

    content = dossier_content(
        case, referral, derivatives.clinic_files(messages.clinic_attachments(referral)), link_for,
        reply_to=reply_to, released=referral.contact_released_at is not None,
    )
    pdf = build_dossier_pdf(content, attachment_bytes)
    return _save(
        case, dossier_slot(referral.id), DOSSIER, "en", pdf,
        f"{case.reference}-{referral.clinic.slug}.pdf", storage, referral,
    )


def store_quote_comparison(case: Case, storage: Storage, *, today: date | None = None) -> Saved:
    """The patient's side-by-side PDF of the quotes that count now.

    With no quote (none yet, or every clinic's offer withdrawn since) it is still
    stored, saying that none were received: the slot always reflects the current
    quotes, so a comparison never outlives an offer that is no longer open."""
    content = quote_comparison_content(case, quotes.comparison(case, today), today=today)
    pdf = build_patient_pdf(content)
    return _save(
        case, QUOTE_COMPARISON, QUOTE_COMPARISON, content.language, pdf,
        f"{case.reference}-quotes.pdf", storage,
    )


def _chosen(case: Case) -> Quote:
    quote = case.chosen_quote
    if quote is None:
        raise ValueError(f"case {case.reference} has no chosen quote to write paperwork for")
    return quote


def store_booking_summary(case: Case, storage: Storage, *, contact_email: str) -> Saved:
    """The patient's summary of the chosen quote: clinic, dates, price, what to bring.
    It names the patient, so it is not tied to the referral (the clinic's documents are)."""
    content = booking_summary_content(case, _chosen(case), case.attachments, contact_email)
    pdf = build_patient_pdf(content)
    saved = _save(
        case, BOOKING_SUMMARY, BOOKING_SUMMARY, content.language, pdf,
        f"{case.reference}-booking-summary.pdf", storage,
    )
    patient_mail.booking_document_stored(case)
    return saved


def store_visa_letter(case: Case, storage: Storage, *, contact_email: str) -> Saved:
    """The letter supporting the patient's medical visa application, for the chosen quote."""
    content = visa_letter_content(case, _chosen(case), contact_email)
    pdf = build_patient_pdf(content)
    saved = _save(
        case, VISA_LETTER, VISA_LETTER, content.language, pdf,
        f"{case.reference}-visa-letter.pdf", storage,
    )
    patient_mail.booking_document_stored(case)
    return saved
