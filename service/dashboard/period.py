"""The dashboard's date range: whole UTC days, both ends included, read from the
page's GET form with messages a coordinator can act on."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Final

from service.limits import MAX_DASHBOARD_DAYS

DEFAULT_DAYS: Final = 30
PRESETS: Final = (7, 30, 90)


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.length)]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[start of the first day, start of the day after the last) in UTC."""
        return (
            datetime.combine(self.start, time.min, timezone.utc),
            datetime.combine(self.end + timedelta(days=1), time.min, timezone.utc),
        )


def last_days(days: int, today: date) -> Period:
    return Period(today - timedelta(days=days - 1), today)


def default_period(today: date) -> Period:
    return last_days(DEFAULT_DAYS, today)


def _parse(raw: str, label: str, today: date, errors: dict[str, str], field: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = f"Enter the {label} date as year-month-day, for example {today.isoformat()}."
        return None


def parse_period(args: Mapping[str, str], today: date) -> tuple[Period, dict[str, str]]:
    """The period asked for in `from`/`to`, or the default one with a message per wrong
    field. A missing start means the 30 days up to the end; a missing end means today."""
    errors: dict[str, str] = {}
    raw_from = (args.get("from") or "").strip()
    raw_to = (args.get("to") or "").strip()
    start = _parse(raw_from, "start", today, errors, "from") if raw_from else None
    end = _parse(raw_to, "end", today, errors, "to") if raw_to else None
    if errors:
        return default_period(today), errors
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > today:
        errors["from"] = "The start date is in the future; choose today or an earlier day."
    elif start > end:
        errors["from"] = "The start date must be on or before the end date."
    elif (end - start).days + 1 > MAX_DASHBOARD_DAYS:
        errors["to"] = f"Choose at most {MAX_DASHBOARD_DAYS} days; this range has {(end - start).days + 1}."
    if errors:
        return default_period(today), errors
    return Period(start, end), errors
