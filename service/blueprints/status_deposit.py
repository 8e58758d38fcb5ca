"""The status page's Deposit section: what the patient was asked to pay, what has
arrived and what is still due, with each invoice's PDF (`GET
/s/<token>/invoices/<invoice_id>`, a link that expires after DOWNLOAD_URL_TTL). The
section (`status/_deposit.html`, included by `status/show.html`) draws from
`patient_deposit`, a template global; the rules are in `service.cases.deposit`."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, redirect
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.blueprints import status
from service.cases import deposit, paperwork_store
from service.extensions import db
from service.i18n import gettext
from service.models import Case, Document
from service.store import get_storage

bp = Blueprint("status_deposit", __name__)
bp.after_request(status._private)


@dataclass(frozen=True)
class PatientDeposit:
    view: deposit.DepositView
    documents: dict[int, Document]  # invoice id -> its stored PDF, for invoices not cancelled


def _documents(case: Case, view: deposit.DepositView) -> dict[int, Document]:
    slots = {paperwork_store.invoice_slot(v.invoice.id): v.invoice.id for v in view.open}
    if not slots:
        return {}
    return {slots[d.slot]: d for d in db.session.scalars(
        select(Document).where(Document.case_id == case.id, Document.slot.in_(slots))
    )}


@bp.app_template_global()
def patient_deposit(case: Case) -> PatientDeposit:
    view = deposit.deposit_view(case)
    return PatientDeposit(view=view, documents=_documents(case, view))


@bp.get("/s/<token>/invoices/<int:invoice_id>")
def invoice(token: str, invoice_id: int) -> Response:
    """The invoice's PDF; a cancelled invoice, another case's or one not rendered yet is 404."""
    case = status._case_or_404(token)
    found = deposit.invoice_of(case, invoice_id)
    document = _documents(case, deposit.deposit_view(case)).get(invoice_id) if found is not None else None
    if found is None or document is None:
        abort(404, gettext("This document is not available for your request."))
    url = get_storage().url(
        document.storage_key, filename=f"{found.number}.pdf", content_type=paperwork_store.PDF,
        expires_in=current_app.config["DOWNLOAD_URL_TTL"],
    )
    return redirect(url, code=303)
