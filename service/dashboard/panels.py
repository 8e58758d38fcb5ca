"""The dashboard page's content: headline figures and one panel per question, each
with its chart, a summary sentence (the chart's description), a data table for anyone
who would rather read, and an empty state. Wording and colours live here, once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from markupsafe import Markup

from service.cases.status import CaseStatus
from service.choices import countries
from service.dashboard import charts
from service.dashboard.metrics import ClinicAnswers, Dashboard

# Okabe–Ito-like hues darkened to at least 3:1 against white; segments are also named
# in the legend, the tooltips and the table, so colour is never the only cue.
STATUS_COLOURS: Final[dict[CaseStatus, str]] = {
    CaseStatus.SUBMITTED: "#1f5fa8",
    CaseStatus.ROUTED: "#2b8cbe",
    CaseStatus.NEEDS_ATTENTION: "#c0392b",
    CaseStatus.AWAITING_PATIENT: "#b26b00",
    CaseStatus.CHOSEN: "#1e7f4f",
    CaseStatus.TRAVEL_BOOKED: "#5b3e96",
    CaseStatus.IN_TREATMENT: "#8a3b78",
    CaseStatus.RETURNED: "#3d6b2f",
    CaseStatus.CLOSED: "#6b7785",
}


def format_hours(hours: float | None) -> str:
    if hours is None:
        return "none yet"
    return f"{hours:.1f} h" if hours < 10 else f"{hours:.0f} h"


def format_rate(rate: float | None) -> str:
    return "none yet" if rate is None else f"{rate * 100:.0f}%"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun: 1 request, 2 requests."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def format_day(day: date) -> str:
    return f"{day.day} {day:%b}"


def country_name(code: str) -> str:
    name = dict(countries()).get(code)
    return f"{name} ({code})" if name else code


@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Panel:
    slug: str
    title: str
    summary: str
    charts: list[tuple[str, Markup]]  # (visible caption, or "" when the title says it; svg)
    table: Table
    empty: bool
    empty_message: str
    note: str = ""


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Page:
    figures: list[Figure]
    panels: list[Panel] = field(default_factory=list)


def _period_words(data: Dashboard) -> str:
    p = data.period
    return f"{p.start.isoformat()} to {p.end.isoformat()}"


def _per_day(data: Dashboard) -> Panel:
    title = "Requests received per day, by current status"
    empty = "No requests were received in this period."
    per_day = data.per_day
    busiest = max(per_day.days, key=lambda d: (per_day.day_total(d), -d.toordinal()))
    summary = (
        f"{count(per_day.total, 'request')} from {_period_words(data)}; the busiest day was "
        f"{busiest.isoformat()} with {per_day.day_total(busiest)}."
        if per_day.total else empty
    )
    statuses = per_day.statuses
    chart = charts.stacked_bar_chart(
        title=title, description=summary, labels=[format_day(d) for d in per_day.days],
        series=[
            charts.Series(s.staff_label, STATUS_COLOURS[s], [per_day.counts[d][s] for d in per_day.days])
            for s in statuses
        ],
        empty_message=empty,
    )
    rows = [
        (d.isoformat(), *(str(per_day.counts[d][s]) for s in statuses), str(per_day.day_total(d)))
        for d in per_day.days if per_day.day_total(d)
    ]
    return Panel(
        "per-day", title, summary, [("", chart)], Table(("Day", *(s.staff_label for s in statuses), "Total"), rows),
        not per_day.total, empty, note="Days without requests are left out of the table.",
    )


def _first_response(data: Dashboard) -> Panel:
    title = "Time to first response"
    r = data.response
    empty = "None of the requests in this period has had a first response yet."
    summary = (
        f"Median {format_hours(r.median)}, 90th percentile {format_hours(r.p90)}, over "
        f"{count(r.responded, 'request')}; {r.waiting} still waiting for a first response."
        if r.responded else empty
    )
    histogram = r.histogram
    chart = charts.column_chart(
        title=title, description=summary,
        bars=[charts.Bar(label, count, str(count)) for label, count in histogram], empty_message=empty,
    )
    return Panel(
        "first-response", title, summary, [("", chart)],
        Table(("From submission to the first staff action", "Requests"), [(label, str(n)) for label, n in histogram]),
        not r.responded, empty,
    )


def _counts(slug: str, title: str, heading: str, rows: list[tuple[str, int]], empty: str, noun: str,
            plural: str | None = None) -> Panel:
    summary = f"{count(len(rows), noun, plural)}; the most requests: {rows[0][0]} ({rows[0][1]})." if rows else empty
    chart = charts.bar_chart(
        title=title, description=summary, bars=[charts.Bar(label, n, str(n)) for label, n in rows], empty_message=empty,
    )
    return Panel(slug, title, summary, [("", chart)], Table((heading, "Requests"), [(label, str(n)) for label, n in rows]),
                 not rows, empty)


def _clinics(clinics: list[ClinicAnswers]) -> Panel:
    title = "Clinics: answer time and acceptance rate"
    empty = "No referrals were sent to clinics in this period."
    answered = [c for c in clinics if c.answered]
    if answered:
        fastest = min((c for c in answered if c.median_answer_hours is not None), key=lambda c: c.median_answer_hours, default=None)
        summary = f"{count(len(clinics), 'clinic')} received referrals; {len(answered)} answered at least one."
        if fastest is not None:
            summary += f" Fastest median answer: {fastest.name}, {format_hours(fastest.median_answer_hours)}."
    elif clinics:
        summary = f"{count(len(clinics), 'clinic')} received referrals; none has answered yet."
    else:
        summary = empty
    timed = [c for c in clinics if c.median_answer_hours is not None]
    speed_title = "Median time for a clinic to answer a referral"
    acceptance_title = "Share of answered referrals each clinic accepted"
    speed = charts.bar_chart(
        title=speed_title, description=summary,
        bars=[charts.Bar(c.name, c.median_answer_hours or 0, format_hours(c.median_answer_hours)) for c in timed],
        empty_message="No clinic has answered a referral sent in this period yet.",
    )
    acceptance = charts.bar_chart(
        title=acceptance_title, description=summary,
        bars=[
            charts.Bar(c.name, c.acceptance_rate or 0, f"{format_rate(c.acceptance_rate)} ({c.accepted} of {c.answered})")
            for c in answered
        ],
        empty_message="No clinic has answered a referral sent in this period yet.", maximum=1.0,
    )
    rows = [
        (c.name, country_name(c.country), str(c.referred), str(c.answered), format_hours(c.median_answer_hours),
         str(c.accepted), format_rate(c.acceptance_rate))
        for c in clinics
    ]
    head = ("Clinic", "Country", "Referred", "Answered", "Median answer time", "Accepted", "Acceptance rate")
    return Panel(
        "clinics", title, summary, [(speed_title, speed), (acceptance_title, acceptance)], Table(head, rows), not clinics, empty,
        note="Referrals sent in the period. An answer is an acceptance or a refusal; the rate is accepted ÷ answered.",
    )


def _funnel(data: Dashboard) -> Panel:
    title = "From request to booking"
    empty = "No requests were received in this period."
    stages = data.funnel
    requests = stages[0].count

    def share(n: int) -> str:
        return format_rate(n / requests if requests else None)

    summary = (
        "; ".join(f"{s.label}: {s.count} ({share(s.count)})" for s in stages) + "." if requests else empty
    )
    chart = charts.bar_chart(
        title=title, description=summary,
        bars=[charts.Bar(s.label, s.count, f"{s.count} ({share(s.count)})") for s in stages],
        empty_message=empty, maximum=max(requests, 1), colour="#1e7f4f",
    )
    return Panel(
        "funnel", title, summary, [("", chart)],
        Table(("Stage", "Requests", "Share of requests"), [(s.label, str(s.count), share(s.count)) for s in stages]),
        not requests, empty, note="Each stage counts the requests that got at least that far.",
    )


def build(data: Dashboard) -> Page:
    booked = data.funnel[-1].count
    figures = [
        Figure("Requests received", str(data.requests)),
        Figure("Median first response", format_hours(data.response.median),
               f"90th percentile {format_hours(data.response.p90)}" if data.response.responded else ""),
        Figure("Waiting for a first response", str(data.response.waiting)),
        Figure(data.funnel[-1].label, str(booked), f"{format_rate(booked / data.requests)} of requests" if data.requests else ""),
        Figure("Clinic acceptance rate", format_rate(data.acceptance_rate),
               "accepted ÷ answered referrals" if data.acceptance_rate is not None else ""),
    ]
    panels = [
        _per_day(data),
        _first_response(data),
        _funnel(data),
        _counts("treatments", "Requests per treatment", "Treatment", data.treatments,
                "No requests were received in this period.", "treatment"),
        _counts("destinations", "Requests per destination country", "Clinic country",
                [(country_name(code), n) for code, n in data.destinations],
                "No request in this period was sent to a clinic.", "country", "countries"),
        _counts("residences", "Requests per patient's country of residence", "Patient's country",
                [(country_name(code), n) for code, n in data.residences],
                "No requests were received in this period.", "country", "countries"),
        _clinics(data.clinics),
    ]
    return Page(figures, panels)
