"""The comparison PDF in the patient's currency, from plain data (no database): each
quote's own price with the converted one and the rate's date, the rate missing said
in words; English and Russian, read back with pypdf."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.paperwork import build_patient_pdf, quote_comparison_content
from service.paperwork.wording import format_date, format_money, format_whole_money
from service.routing import fx
from tests.service.paperwork import fakes, pdfs

TODAY = date(2026, 11, 25)
AS_OF = date(2026, 11, 30)
RATES = fx.Rates({"EUR": fx.Rate(Decimal(1), AS_OF), "USD": fx.Rate(Decimal("0.862"), AS_OF),
                  "INR": fx.Rate(Decimal("0.0098"), AS_OF)})


def rows(currency: str):
    made = []
    for name, price, ccy in (("Apollo Chennai", "410000", "INR"), ("Mayo Phoenix", "6800", "USD"),
                             ("Charité Berlin", "9450", "EUR"), ("Dakar Clinic", "5000000", "XOF")):
        quote = fakes.quote(fakes.Clinic(name=name), price=Decimal(price), currency=ccy, valid_until=date(2027, 1, 31))
        made.append((quote.referral, quote, fx.convert(quote.price, ccy, currency, RATES)))
    return made


@pytest.mark.parametrize(("language", "said", "missing"), [
    ("en", "at the rate of", "No exchange rate for XOF: this quote cannot be converted to USD"),
    ("ru", "по курсу на", "Нет курса для XOF: это предложение нельзя пересчитать в USD"),
])
def test_every_quote_shows_its_price_and_the_converted_one_with_the_rates_date(language, said, missing):
    made = rows("USD")
    content = quote_comparison_content(fakes.Case(language=language), made, today=TODAY, currency="USD")
    text = pdfs.flat(" ".join(pdfs.page_texts(build_patient_pdf(content).data))).replace("\u00a0", " ")
    for _, quote, converted in made:
        assert format_money(quote.price, quote.currency, language).replace("\u00a0", " ") in text
        if converted is not None and converted.rate_date is not None:
            amount = format_whole_money(converted.amount, "USD", language).replace("\u00a0", " ")
            assert f"≈ {amount} {said} {format_date(AS_OF, language)}" in text
    assert pdfs.flat(missing) in text
    assert text.count("≈") == 2  # the USD quote needs no conversion; XOF has no rate


def test_pairs_without_a_currency_show_no_conversion():
    content = quote_comparison_content(fakes.Case(language="en"), [r[:2] for r in rows("USD")], today=TODAY)
    assert all(q.converted == "" and not q.rate_missing for q in content.quotes)
    text = pdfs.flat(" ".join(pdfs.page_texts(build_patient_pdf(content).data)))
    assert "≈" not in text and "within each currency" in text
