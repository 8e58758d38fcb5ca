"""The deposit over HTTP: staff issue an invoice, record a partial payment, are refused
an over-payment with the outstanding amount named (and what they typed kept), record a
refund and cancel an unpaid invoice from the case file; the patient's status page shows
what is paid and what is still due, in Russian, with the invoice's PDF to download."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

from sqlalchemy import select

from service.accounts.roles import COORDINATOR
from service.cases import deposit
from service.cases.tokens import new_token
from service.extensions import db
from service.models import Invoice
from service.outbox import Job
from tests.fixtures.invoices import due_day, issued
from tests.fixtures.outbox_jobs import run_pending
from tests.fixtures.staff import make_user, sign_in
from tests.fixtures.trips import chosen_case
from tests.service.paperwork.pdfs import flat, page_texts

TODAY = due_day(0).isoformat()


def deposit_section(page: str) -> str:
    match = re.search(r'<section[^>]*id="deposit".*?</section>', page, re.S)
    assert match, "no deposit section"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match[0])).split())


def invoices(case) -> list[Invoice]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invoice).where(Invoice.case_id == case.id).order_by(Invoice.id)))


def test_staff_issue_pay_part_are_refused_an_over_payment_and_refund(client, db_session):
    case = chosen_case()
    sign_in(client, make_user(COORDINATOR))
    page = client.get(f"/staff/cases/{case.reference}").text
    assert "No deposit invoice yet." in deposit_section(page)
    assert page.count('id="deposit"') == 1

    response = client.post(f"/staff/cases/{case.reference}/invoices",
                           data={"amount": "1500", "currency": "EUR", "due_on": due_day(17).isoformat()})
    assert response.status_code == 303
    (invoice,) = invoices(case)
    assert invoice.number == f"{case.reference}-D1"
    base = f"/staff/cases/{case.reference}/invoices/{invoice.id}"

    assert client.post(f"{base}/payments", data={"kind": "payment", "amount": "1000",
                                                  "received_on": TODAY}).status_code == 303
    refused = client.post(f"{base}/payments", data={"kind": "payment", "amount": "700.25", "received_on": TODAY,
                                                     "note": "second transfer"})
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert f"700.25 EUR is more than the outstanding 500.00 EUR on invoice {invoice.number}." in text
    assert 'value="700.25"' in refused.text and 'value="second transfer"' in refused.text

    assert client.post(f"{base}/payments", data={"kind": "refund", "amount": "200",
                                                  "received_on": TODAY}).status_code == 303
    section = deposit_section(client.get(f"/staff/cases/{case.reference}").text)
    assert f"{invoice.number}" in section and "1,500.00 EUR 1,000.00 200.00 700.00" in section
    assert "Part-paid" in section


def test_a_refused_invoice_keeps_what_was_typed_beside_its_field(client, db_session):
    case = chosen_case()
    sign_in(client, make_user(COORDINATOR))
    response = client.post(f"/staff/cases/{case.reference}/invoices",
                           data={"amount": "12.345", "currency": "EUR", "due_on": due_day(3).isoformat()})
    assert response.status_code == 422
    assert "use at most two decimal places" in response.text and 'value="12.345"' in response.text
    assert invoices(case) == []


def test_cancelling_an_unpaid_invoice_and_not_a_paid_one(client, db_session):
    case = chosen_case()
    paid, unpaid = issued(case, amount="100"), issued(case, amount="50")
    deposit.record_payment(paid, None, amount="100", received_on=due_day(0))
    db.session.commit()
    sign_in(client, make_user(COORDINATOR))
    base = f"/staff/cases/{case.reference}/invoices"
    assert client.post(f"{base}/{unpaid.id}/cancel").status_code == 303
    refused = client.post(f"{base}/{paid.id}/cancel")
    assert refused.status_code == 422 and "only an unpaid invoice can be cancelled" in refused.text
    assert [deposit.invoice_view(i).status for i in invoices(case)] == ["paid", "cancelled"]
    # Another case's invoice is no invoice here.
    other = chosen_case()
    assert client.post(f"/staff/cases/{other.reference}/invoices/{paid.id}/cancel").status_code == 404


def test_the_status_page_shows_paid_and_due_in_russian_with_the_invoice(client, db_session, storage):
    token, digest = new_token()
    case = chosen_case(language="ru", token_hash=digest)
    invoice = issued(case, amount="1500")
    deposit.record_payment(invoice, None, amount="500", received_on=due_day(0))
    db.session.commit()
    section = deposit_section(client.get(f"/s/{token}").text)
    assert "Ваш депозит" in section and "(PDF готовится)" in section
    run_pending(Job.RENDER_INVOICE)
    page = client.get(f"/s/{token}").text
    section = deposit_section(page)
    for expected in ("Оплачено", "Осталось оплатить", "1 500,00 EUR", "500,00 EUR", "1 000,00 EUR",
                     "Оплачен частично", "Осталось оплатить: 1 000,00 EUR.", invoice.number):
        assert expected in section, expected
    assert page.count('id="deposit"') == 1
    link = f"/s/{token}/invoices/{invoice.id}"
    assert link in page
    download = client.get(link)
    assert download.status_code == 303
    pdf = client.get(download.location)
    assert pdf.status_code == 200
    assert "Счёт на предоплату" in flat(" ".join(page_texts(pdf.data)))


def test_a_cancelled_invoice_is_neither_shown_nor_downloadable(client, db_session):
    token, digest = new_token()
    case = chosen_case(token_hash=digest)
    invoice = issued(case)
    run_pending(Job.RENDER_INVOICE)
    deposit.cancel_invoice(invoice, None)
    db.session.commit()
    assert 'id="deposit"' not in client.get(f"/s/{token}").text
    assert client.get(f"/s/{token}/invoices/{invoice.id}").status_code == 404
    assert deposit.invoice_view(invoice).outstanding == Decimal("0.00")
