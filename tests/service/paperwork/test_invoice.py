"""The deposit's pro-forma invoice, rendered by its job and read back like a patient's
viewer would: letterhead, number, dates, amount, bank details and payment reference,
the Girocode (an EPC QR of exactly the transfer's details) for EUR and a note instead
for other currencies, the patient's language, and no health-data footer."""
from __future__ import annotations

import io
from decimal import Decimal

import segno
import segno.helpers
from PIL import Image, ImageChops
from sqlalchemy import select

from service.cases import paperwork_store
from service.extensions import db
from service.models import Case, Document
from service.outbox import Job
from service.paperwork import wording
from service.paperwork.invoice import Agency, epc_payload
from tests.fixtures.invoices import due_day, issued
from tests.fixtures.outbox_jobs import run_pending
from tests.service.paperwork.pdfs import flat, page_texts, reader


def stored(storage, invoice) -> tuple[Document, bytes]:
    assert run_pending(Job.RENDER_INVOICE) >= 1
    document = db.session.scalars(select(Document).where(
        Document.case_id == invoice.case_id, Document.slot == paperwork_store.invoice_slot(invoice.id))).one()
    with storage.open(document.storage_key) as stream:
        return document, stream.read()


def text_of(data: bytes) -> str:
    return flat(" ".join(page_texts(data)))


def test_the_invoice_names_the_transfer_and_nothing_of_the_patients_health(app, db_session, storage):
    invoice = issued(amount="1500", due_on=due_day(17), full_name="Aigerim Nurlanova",
                     description="Severe arthrosis of the left knee")
    document, data = stored(storage, invoice)
    text = text_of(data)
    case = db.session.get(Case, invoice.case_id)
    agency = Agency.from_config(app.config)
    clinic = case.chosen_quote.referral.clinic.name
    assert document.kind == "invoice" and document.language == "en" and document.pages == 1
    for expected in (
        agency.name, agency.address, agency.registration, agency.bank_name, agency.bic,
        f"Pro-forma invoice {invoice.number}", "Aigerim Nurlanova", case.reference,
        f"Deposit for treatment at {clinic} — {case.treatment.name}",
        "1,500.00 EUR", f"Due date {wording.format_date(invoice.due_on)}",
        "DE89 3704 0044 0532 0130 00", f"Payment reference {invoice.payment_reference}",
        "No card payments; pay by bank transfer.",
    ):
        assert expected in text, expected
    assert "arthrosis" not in text and "Confidential" not in text
    assert f"{agency.name} · {agency.registration}" in text  # the footer, where the others have the banner


def qr_image(qr: segno.QRCode) -> Image.Image:
    out = io.BytesIO()
    qr.save(out, kind="png", scale=4, border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


def test_a_eur_invoice_carries_a_girocode_of_exactly_the_transfer(app, db_session, storage):
    invoice = issued(amount="1500")
    _, data = stored(storage, invoice)
    agency = Agency.from_config(app.config)
    payload = epc_payload(name=agency.name, iban=agency.iban, amount=Decimal("1500.00"),
                          text=invoice.payment_reference, bic=agency.bic)
    assert payload == "\n".join(["BCD", "002", "2", "SCT", "COBADEFFXXX", "Medtour Patient Services GmbH (demo)",
                                 "DE89370400440532013000", "EUR1500", "", "", invoice.number])
    # The payload is what segno's EPC helper encodes for these details...
    from_payload = segno.make_qr(payload.encode("iso-8859-1"), error="m", boost_error=False)
    epc = segno.helpers.make_epc_qr(name=agency.name, iban=agency.iban, amount=Decimal("1500.00"),
                                    text=invoice.payment_reference, bic=agency.bic)
    assert from_payload.matrix == epc.matrix
    # ...and the image in the PDF is that QR, module for module.
    pictures = reader(data).pages[0].images
    assert len(pictures) == 1
    embedded = pictures[0].image.convert("L")
    expected = qr_image(from_payload)
    assert embedded.size == expected.size
    assert ImageChops.difference(embedded, expected).getbbox() is None


def test_other_currencies_get_no_qr_and_say_why(db_session, storage):
    invoice = issued(amount="250000", currency="INR")
    _, data = stored(storage, invoice)
    text = text_of(data)
    assert "250,000.00 INR" in text
    assert "The QR code (Girocode) is for EUR transfers only" in text
    assert len(reader(data).pages[0].images) == 0


def test_the_invoice_is_in_russian_for_a_russian_speaking_patient(db_session, storage):
    invoice = issued(amount="1500", language="ru", full_name="Амина Петрова")
    document, data = stored(storage, invoice)
    text = text_of(data)
    assert document.language == "ru"
    for expected in ("Счёт на предоплату", invoice.number, "Амина Петрова", "Оплатить до",
                     wording.format_date(invoice.due_on, "ru"), "1 500,00 EUR",
                     "Оплата картой не принимается; оплатите банковским переводом.",
                     "Депозит за лечение в клинике", "Назначение платежа (референс)"):
        assert expected in text, expected
    assert "Pro-forma invoice" not in text


def test_rendering_again_replaces_the_same_document(app, db_session, storage):
    invoice = issued()
    first, _ = stored(storage, invoice)
    saved = paperwork_store.store_invoice(invoice, storage, agency=Agency.from_config(app.config))
    assert not saved.created and saved.document.id == first.id
