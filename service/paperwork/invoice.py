"""The deposit's pro-forma invoice: content, the EPC "Girocode" and the PDF.

The invoice is on the agency's letterhead (from configuration), in the patient's
language, and says what the deposit is for by clinic and treatment only: no diagnosis,
no health data, so it carries no "confidential — health data" footer. Money moves by
bank transfer only; for EUR a Girocode (EPC069-12 QR, made by `segno`) lets a banking
app fill the transfer in. The QR reaches the sandboxed renderer as registered PNG bytes
(`medtour-attachment:girocode`), the one way the sandbox lets an image in."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Final

import segno
import segno.helpers

from service.paperwork import exhibits, wording
from service.paperwork.documents import RenderedPdf
from service.paperwork.render import Resource, SandboxedFetcher, render_document, render_template

GIROCODE: Final = "girocode"
# What an EPC QR can carry (EPC069-12): euros only, 0.01 to 999,999,999.99.
EPC_CURRENCY: Final = "EUR"
EPC_MAX: Final = Decimal("999999999.99")
_EPC_CHARSETS: Final = ("utf-8", "iso-8859-1")


@dataclass(frozen=True)
class Agency:
    """The agency as its paperwork names it (configuration: AGENCY_*, CONTACT_EMAIL)."""

    name: str
    address: str
    registration: str
    phone: str
    email: str
    bank_name: str
    iban: str
    bic: str

    @classmethod
    def from_config(cls, config: Any) -> Agency:
        return cls(
            name=config["AGENCY_NAME"], address=config["AGENCY_ADDRESS"],
            registration=config["AGENCY_REGISTRATION"], phone=config["AGENCY_PHONE"],
            email=config["CONTACT_EMAIL"], bank_name=config["AGENCY_BANK_NAME"],
            iban=config["AGENCY_IBAN"], bic=config["AGENCY_BIC"],
        )

    @property
    def iban_grouped(self) -> str:
        """"DE89 3704 0044 0532 0130 00": how an IBAN is printed for people."""
        compact = "".join(self.iban.split())
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


@dataclass(frozen=True)
class InvoiceContent:
    number: str
    language: str
    issued_on: date
    due_on: date
    patient_name: str
    reference: str
    clinic_name: str
    treatment: str
    amount: Decimal
    currency: str
    payment_reference: str
    agency: Agency
    cancelled: bool = False

    @property
    def girocode(self) -> bool:
        """A Girocode is printed for euro amounts an EPC QR can carry."""
        return self.currency == EPC_CURRENCY and Decimal("0.01") <= self.amount <= EPC_MAX and not self.cancelled


def invoice_content(case: Any, invoice: Any, agency: Agency) -> InvoiceContent:
    """The invoice of `case` (its chosen quote's clinic, its treatment) from the `Invoice` row."""
    quote = case.chosen_quote
    issued = invoice.issued_at or datetime.now(timezone.utc)
    language = wording.resolve(case.language)
    return InvoiceContent(
        number=invoice.number,
        language=language,
        issued_on=issued.date() if isinstance(issued, datetime) else issued,
        due_on=invoice.due_on,
        patient_name=case.full_name,
        reference=case.reference,
        clinic_name=quote.referral.clinic.name if quote is not None else "",
        treatment=case.treatment.text("name", language),
        amount=invoice.amount,
        currency=invoice.currency,
        payment_reference=invoice.payment_reference,
        agency=agency,
        cancelled=invoice.cancelled_at is not None,
    )


def epc_payload(*, name: str, iban: str, amount: Decimal, text: str, bic: str = "") -> str:
    """The text an EPC QR (version 002, SEPA credit transfer) holds, one field a line:
    service tag, version, character set (1 UTF-8, 2 ISO 8859-1), "SCT", BIC, the
    beneficiary's name and IBAN, "EUR" and the amount, purpose, structured reference
    (none), and the remittance text: the payment reference. The same as segno's
    `make_epc_qr` encodes for these values (the tests hold the two together)."""
    iban = "".join(iban.split())
    fields = ["BCD", "002", "", "SCT", bic.strip(), name.strip(), iban,
              f"EUR{amount:.2f}".rstrip("0").rstrip("."), "", "", text.rstrip()]
    joined = "\n".join(fields)
    try:
        joined.encode("iso-8859-1")
        fields[2] = "2"
    except UnicodeEncodeError:
        fields[2] = "1"
    return "\n".join(fields)


def girocode(content: InvoiceContent) -> segno.QRCode:
    """The EPC QR of `content` (EUR only): beneficiary, IBAN, BIC, amount, payment reference."""
    agency = content.agency
    return segno.helpers.make_epc_qr(
        name=agency.name, iban="".join(agency.iban.split()), amount=content.amount,
        text=content.payment_reference, bic=agency.bic.strip() or None,
    )


def girocode_png(content: InvoiceContent, *, scale: int = 4, border: int = 4) -> bytes:
    out = io.BytesIO()
    girocode(content).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def invoice_html(content: InvoiceContent, qr_url: str | None) -> str:
    language = content.language
    return render_template(
        "paperwork/invoice.html",
        c=content,
        a=content.agency,
        qr_url=qr_url,
        _=wording.words(language),
        lang=language,
        g=exhibits.GEOMETRY,
        date=lambda value: wording.format_date(value, language),
        amount=wording.format_money(content.amount, content.currency, language),
        # No health data on an invoice: the agency's name and registration in the footer instead.
        confidential=False,
        footer_note=f"{content.agency.name} · {content.agency.registration}",
    )


def build_invoice_pdf(content: InvoiceContent, *, fetcher: SandboxedFetcher | None = None) -> RenderedPdf:
    """The invoice PDF, in `content.language`, with the Girocode for EUR."""
    fetcher = fetcher if fetcher is not None else SandboxedFetcher()
    qr_url = None
    if content.girocode:
        qr_url = fetcher.register(GIROCODE, Resource(girocode_png(content), "image/png"))
    output = render_document(invoice_html(content, qr_url), fetcher)
    return RenderedPdf.of(output.data, output.pages)
