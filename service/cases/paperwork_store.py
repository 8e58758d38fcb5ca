"""Generated paperwork on record: render a case's PDFs with `service.paperwork`, put
them in object storage and record them as `Document` rows.

Each document has a fixed slot ("confirmation", "dossier:<referral id>",
"quote_comparison", "booking_summary", "itinerary", "visa_letter:<traveller id>", "invoice:<id>")
and a key derived from it, so
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
from service.cases import trip as trip_domain  # a module: trip records trip_changed from here
from service.extensions import db
from service.links import external_url
from service.models import Case, Document, Invoice, Quote, Referral
from service.models.document import BOOKING_SUMMARY, VISA_LETTER
from service.models.trip import Traveller, TripLeg
from service.outbox import Job, record
from service.paperwork import (
    DossierContent,
    RenderedPdf,
    booking_summary_content,
    build_confirmation_pdf,
    build_dossier_pdf,
    build_patient_pdf,
    confirmation_content,
    dossier_content,
    quote_comparison_content,
)
from service.paperwork import wording
from service.paperwork.invoice import Agency, build_invoice_pdf, invoice_content
from service.paperwork.trip import (
    build_itinerary_pdf,
    build_visa_letter_pdf,
    coordinator_name,
    itinerary_content,
    visa_letter_contents,
)
from storage import Storage

log = logging.getLogger(__name__)

DOSSIER: Final = "dossier"
CONFIRMATION: Final = "confirmation"
QUOTE_COMPARISON: Final = "quote_comparison"
ITINERARY: Final = "itinerary"
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
    document = _document(case.id, slot)
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


def store_confirmation(case: Case, storage: Storage, *, contact_email: str, routed_at_once: bool = True) -> Saved:
    """The patient's receipt; `routed_at_once` (`AUTO_ROUTE`) decides what it says happens next."""
    content = confirmation_content(case, case.attachments, contact_email, routed_at_once=routed_at_once)
    pdf = build_confirmation_pdf(content)
    return _save(
        case, CONFIRMATION, CONFIRMATION, content.language, pdf, f"{case.reference}-confirmation.pdf", storage
    )


def _document(case_id: int, slot: str) -> Document | None:
    return db.session.scalar(select(Document).where(Document.case_id == case_id, Document.slot == slot))


def store_dossier(referral: Referral, storage: Storage, *, base_url: str, link_ttl: int) -> Saved:
    """The clinic's dossier: the case without the patient's identity (until staff
    release it to this clinic), its files' de-identified copies as time-limited links,
    previews as figures (a disc's one per series) and PDFs as exhibits; it sends the
    clinic to the referral's portal page to answer."""
    case = referral.case
    pdf = build_dossier_pdf(_dossier_content(referral, storage, base_url=base_url, link_ttl=link_ttl),
                            lambda entry: storage.read(entry.storage_key))
    return _save(case, dossier_slot(referral.id), DOSSIER, "en", pdf, _dossier_filename(referral), storage, referral)


def warm_up_dossier(storage: Storage, *, base_url: str, link_ttl: int) -> bool:
    """Gather the newest referral's dossier content and throw it away: the worker does this
    once before forking, so every horse inherits the compiled SQL of the dossier's reads
    and the ORM's loaders for them, which each horse would otherwise build again (about
    10 ms of CPU a job, half of what gathering the content cost it). Reads only: no object is stored, no row
    written, and the session's transaction is rolled back (so call it with no work
    pending, as the worker does before its first job). False when there is no referral yet."""
    try:
        referral_id = db.session.scalar(select(Referral.id).order_by(Referral.id.desc()).limit(1))
        if referral_id is None:
            return False
        referral = db.session.get(Referral, referral_id)  # as the job loads it
        _dossier_content(referral, storage, base_url=base_url, link_ttl=link_ttl)
        _document(referral.case_id, dossier_slot(referral_id))
        return True
    finally:
        db.session.rollback()


def _dossier_filename(referral: Referral) -> str:
    return f"{referral.case.reference}-{referral.clinic.slug}.pdf"


def _dossier_content(referral: Referral, storage: Storage, *, base_url: str, link_ttl: int) -> DossierContent:
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

    return dossier_content(
        case, referral, derivatives.clinic_files(messages.clinic_attachments(referral)), link_for,
        portal_url=external_url("clinic_portal.referral", referral_id=referral.id),
        released=referral.contact_released_at is not None,
    )


def store_quote_comparison(case: Case, storage: Storage, *, today: date | None = None) -> Saved:
    """The patient's side-by-side PDF of the quotes that count now.

    With no quote (none yet, or every clinic's offer withdrawn since) it is still
    stored, saying that none were received: the slot always reflects the current
    quotes, so a comparison never outlives an offer that is no longer open."""
    compared = quotes.compared(case, today)
    content = quote_comparison_content(
        case, [(row.referral, row.quote, row.converted) for row in compared.rows],
        today=today, currency=compared.currency,
    )
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


def visa_letter_slot(traveller_id: int) -> str:
    return f"{VISA_LETTER}:{traveller_id}"


def trip_changed(case: Case) -> None:
    """A traveller or a leg changed: the itinerary and the visa letters are rendered
    again (in the caller's transaction; the outbox relays them once it commits)."""
    record(Job.RENDER_ITINERARY, case_id=case.id)
    record(Job.RENDER_VISA_LETTER, case_id=case.id)


def _travellers(case: Case) -> list[tuple[Traveller, str, object]]:
    """The case's travellers (the patient first) with their opened passports."""
    rows = db.session.scalars(
        select(Traveller).where(Traveller.case_id == case.id).order_by(Traveller.position, Traveller.id)
    )
    return [(row, row.role, trip_domain.passport_of(row)) for row in rows]


def _legs(case: Case) -> list[TripLeg]:
    return list(db.session.scalars(select(TripLeg).where(TripLeg.case_id == case.id).order_by(TripLeg.id)))


def _clinic_address(clinic, language: str) -> str:
    """The street address, or where there is none the city and country in `language`."""
    return clinic.address or clinic.place(wording.resolve(language))


def visa_letter_blocker(case: Case) -> str | None:
    """Why the visa letters cannot be made now (staff see it on the case), or None."""
    if case.chosen_quote is None:
        return "No visa letter yet: the patient has not chosen a clinic."
    if db.session.scalar(select(Traveller.id).where(Traveller.case_id == case.id).limit(1)) is None:
        return ("No visa letter yet: enter the travellers' passport details (the patient first); "
                "one letter is made per traveller.")
    return None


def store_itinerary(case: Case, storage: Storage, *, agency: Agency, default_coordinator: str) -> Saved:
    """The patient's itinerary, in their language, from the legs as they stand now."""
    clinic = _chosen(case).referral.clinic
    content = itinerary_content(
        reference=case.reference, language=case.language, legs=_legs(case),
        travellers=[(role, passport) for _row, role, passport in _travellers(case)],
        clinic_name=clinic.name, clinic_address=_clinic_address(clinic, case.language), agency=agency,
        coordinator=coordinator_name(case, default_coordinator),
    )
    pdf = build_itinerary_pdf(content)
    return _save(case, ITINERARY, ITINERARY, content.language, pdf, f"{case.reference}-itinerary.pdf", storage)


def store_visa_letters(case: Case, storage: Storage, *, agency: Agency, default_coordinator: str) -> list[Saved]:
    """One visa-support letter per traveller (slot "visa_letter:<traveller id>"), in
    English with the patient's language below; the letters of travellers no longer on
    the trip are deleted. Raises `NoTravellers` when nobody's passport is entered yet
    (`visa_letter_blocker` tells staff)."""
    quote = _chosen(case)
    clinic = quote.referral.clinic
    travellers = _travellers(case)
    contents = visa_letter_contents(
        reference=case.reference, language=case.language, legs=_legs(case),
        travellers=[(role, passport) for _row, role, passport in travellers],
        treatment=case.treatment.name, clinic_name=clinic.name, clinic_address=_clinic_address(clinic, "en"),
        treatment_translated=case.treatment.text("name", wording.resolve(case.language)),
        clinic_country=clinic.country, earliest_date=quote.earliest_date, stay_days=quote.stay_days,
        agency=agency, coordinator=coordinator_name(case, default_coordinator),
    )
    saved = []
    for (row, _role, passport), content in zip(travellers, contents, strict=True):
        saved.append(_save(
            case, visa_letter_slot(row.id), VISA_LETTER, "en", build_visa_letter_pdf(content),
            f"{case.reference}-visa-letter-{passport.surname.lower()}.pdf", storage,
        ))
    keep = {visa_letter_slot(row.id) for row, _role, _passport in travellers}
    for stale in db.session.scalars(select(Document).where(
        Document.case_id == case.id, Document.slot.like(f"{VISA_LETTER}:%"), Document.slot.not_in(keep),
    )).all():
        storage.delete(stale.storage_key)
        db.session.delete(stale)
    db.session.flush()
    return saved


INVOICE: Final = "invoice"


def invoice_slot(invoice_id: int) -> str:
    return f"{INVOICE}:{invoice_id}"


def store_invoice(invoice: Invoice, storage: Storage, *, agency: Agency) -> Saved:
    """The deposit's pro-forma invoice (`service.paperwork.invoice`), in the patient's
    language, under "invoice:<id>"; the patient is e-mailed once it is stored (once per
    invoice: the ledger), unless it was cancelled meanwhile."""
    case = db.session.get(Case, invoice.case_id)
    content = invoice_content(case, invoice, agency)
    saved = _save(case, invoice_slot(invoice.id), INVOICE, content.language, build_invoice_pdf(content),
                  f"{invoice.number}.pdf", storage)
    if invoice.cancelled_at is None:
        patient_mail.announce(case, patient_mail.PatientEvent.DEPOSIT_INVOICE, ref=invoice.id)
    return saved
