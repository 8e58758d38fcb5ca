"""Loading the exchange-rate table from its data file: idempotent like the catalogue,
the file is the whole table, bad files refused with the reason; `flask fx load`."""
from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from service.catalog.rates import RatesError, load_rates, load_rates_file
from service.extensions import db
from service.models import ExchangeRate
from service.routing import exchange_rates
from tests.fixtures.exchange_rates import RATES_FILE, file_rates


@pytest.fixture
def data() -> dict:
    return json.loads(RATES_FILE.read_text(encoding="utf-8"))


def table() -> dict[str, ExchangeRate]:
    return {row.currency: row for row in db.session.scalars(select(ExchangeRate))}


def test_the_data_file_says_its_source_and_date(data):
    assert data["source"] and "indicative" in data["source"].lower()
    assert date.fromisoformat(data["as_of"])
    assert data["rates"]["EUR"] == "1"


def test_loading_is_idempotent_and_reads_back_as_the_file_says(app_ctx, data):
    first = load_rates(data)
    assert (first.created, first.updated, first.unchanged, first.removed) == (len(data["rates"]), 0, 0, 0)
    again = load_rates(data)
    assert (again.created, again.updated, again.unchanged, again.removed) == (0, 0, len(data["rates"]), 0)
    rows = table()
    assert rows["USD"].eur_per_unit == Decimal(data["rates"]["USD"])
    assert rows["USD"].as_of == date.fromisoformat(data["as_of"]) and rows["USD"].source == data["source"]
    assert exchange_rates(db.session) == file_rates()


def test_a_changed_rate_is_updated_and_a_dropped_currency_removed(app_ctx, data):
    load_rates(data)
    changed = copy.deepcopy(data)
    changed["rates"]["USD"] = "0.9000"
    del changed["rates"]["BRL"]
    report = load_rates(changed)
    assert (report.created, report.updated, report.removed) == (0, 1, 1)
    assert table()["USD"].eur_per_unit == Decimal("0.9") and "BRL" not in table()
    dated = copy.deepcopy(changed)
    dated["as_of"] = "2026-12-31"
    assert load_rates(dated).updated == len(changed["rates"])


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("source"), "missing 'source'"),
    (lambda d: d.update(as_of="30/11/2026"), "is not a date"),
    (lambda d: d.update(rates={}), "missing 'rates'"),
    (lambda d: d["rates"].update(XYZ="1"), "'XYZ' is not an ISO 4217 code"),
    (lambda d: d["rates"].update(USD="abc"), "USD: 'abc' is not a number"),
    (lambda d: d["rates"].update(USD="-1"), "must be a positive number"),
    (lambda d: d["rates"].update(USD="NaN"), "must be a positive number"),
    (lambda d: d["rates"].update(EUR="0.9"), "EUR must be 1"),
    (lambda d: d["rates"].update(USD="0.00000000001"), "too small"),
])
def test_a_bad_file_is_refused_with_the_reason_and_changes_nothing(app_ctx, data, change, message):
    load_rates(data)
    bad = copy.deepcopy(data)
    change(bad)
    with pytest.raises(RatesError, match=message):
        load_rates(bad)
    db.session.rollback()
    assert exchange_rates(db.session) == file_rates()


def test_not_json_is_refused(app_ctx, tmp_path):
    path = tmp_path / "rates.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RatesError, match="not valid JSON"):
        load_rates_file(path)


def test_the_command_loads_the_file(app, app_ctx, tmp_path, data):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fx", "load", str(RATES_FILE)])
    assert result.exit_code == 0, result.output
    assert f"exchange rates {RATES_FILE}: " in result.output and "unchanged" in result.output
    assert set(table()) == set(data["rates"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "as_of": "yesterday"}), encoding="utf-8")
    result = runner.invoke(args=["fx", "load", str(bad)])
    assert result.exit_code != 0 and "is not a date" in result.output
