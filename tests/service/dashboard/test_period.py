"""The dashboard's date range: defaults, and a clear message for each wrong input."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from service.dashboard.period import DEFAULT_DAYS, Period, default_period, parse_period
from service.limits import MAX_DASHBOARD_DAYS

TODAY = date(2026, 3, 15)


def test_no_dates_means_the_last_30_days_up_to_today():
    period, errors = parse_period({}, TODAY)
    assert errors == {}
    assert period == Period(date(2026, 2, 14), TODAY)
    assert period.length == DEFAULT_DAYS == 30


def test_both_ends_are_whole_utc_days_included():
    period, errors = parse_period({"from": "2026-03-01", "to": "2026-03-07"}, TODAY)
    assert errors == {}
    assert period.length == 7
    assert period.days[0] == date(2026, 3, 1) and period.days[-1] == date(2026, 3, 7)
    assert period.bounds == (
        datetime(2026, 3, 1, tzinfo=timezone.utc),
        datetime(2026, 3, 8, tzinfo=timezone.utc),
    )


def test_a_missing_end_is_today_and_a_missing_start_is_30_days_before_the_end():
    assert parse_period({"from": "2026-03-10", "to": ""}, TODAY)[0] == Period(date(2026, 3, 10), TODAY)
    assert parse_period({"to": "2026-01-31"}, TODAY)[0] == Period(date(2026, 1, 2), date(2026, 1, 31))


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"from": "15/03/2026"}, "from", "Enter the start date as year-month-day, for example 2026-03-15."),
        ({"to": "2026-02-30"}, "to", "Enter the end date as year-month-day, for example 2026-03-15."),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "from", "The start date must be on or before the end date."),
        ({"from": "2026-04-01", "to": "2026-04-30"}, "from", "The start date is in the future; choose today or an earlier day."),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "to", f"Choose at most {MAX_DASHBOARD_DAYS} days; this range has 791."),
    ],
)
def test_wrong_dates_are_refused_with_a_message_and_the_default_period_is_shown(args, field, message):
    period, errors = parse_period(args, TODAY)
    assert errors == {field: message}
    assert period == default_period(TODAY)


def test_a_whole_year_is_allowed():
    period, errors = parse_period({"from": "2025-03-15", "to": "2026-03-15"}, TODAY)
    assert errors == {} and period.length == 366
