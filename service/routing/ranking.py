"""Explainable clinic ranking: plain functions over plain facts.

No Flask, no SQLAlchemy, no queue here: `service.routing.facts` turns rows into the
immutable facts below, and this module decides. Every point a clinic earns is a
`Component` with a reason in words, so staff can see why a clinic was chosen.
The weights and the scoring rules are documented in `service.routing.weights`
and in the README's "Routing" section.

Cost: one pass over the clinics (constant work per clinic: components are memoised
on the plain values they depend on when those take few values, built directly
otherwise). Without a `limit`, every candidate gets its `Match` and the list is
sorted (n log n, the staff's full list). With a `limit` k (routing, re-routing), each
candidate costs only its score and a light key (no reason built, no `Match`), the best
k are kept in a heap (n log k), and only those k get their components and `Match`.
"""
from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from service.routing import fx
from service.routing import weights as w
from service.routing.collector import collector_paused


class Offer(NamedTuple):
    """A clinic's indicative starting price for one treatment (a named tuple: one is
    built per candidate row, and a tuple costs a fraction of a frozen dataclass)."""

    price_from: Decimal
    currency: str


@dataclass(frozen=True)
class CaseFacts:
    treatment_slug: str
    treatment_name: str
    language: str
    country: str
    budget: Decimal | None
    budget_currency: str | None
    preferred_clinic_slug: str | None
    # The exchange-rate table at the time of the call (budget and prices in different currencies).
    rates: fx.Rates


class ClinicFacts(NamedTuple):
    """One candidate clinic, immutable. A named tuple rather than a frozen dataclass:
    `clinic_facts` builds one per candidate row, and a frozen dataclass's __init__ sets
    each field through object.__setattr__ (change one with `_replace`)."""

    slug: str
    name: str
    country: str
    languages: tuple[str, ...]
    accreditations: tuple[str, ...]
    accepting: bool
    capacity: int
    open_referrals: int
    offers: Mapping[str, Offer]  # treatment slug -> offer
    response_hours: float | None
    acceptance_rate: float | None  # 0..1


@dataclass(frozen=True)
class Component:
    """One part of a score: a stable key, its points, and the reason in words for staff."""

    key: str
    points: float
    reason: str


@dataclass(frozen=True)
class Match:
    clinic_slug: str
    clinic_name: str
    score: float
    components: tuple[Component, ...]

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.components]


# --------------------------------------------------------------------------- filters


def _open_slots(clinic: ClinicFacts) -> bool:
    return clinic.open_referrals < clinic.capacity


def _qualifies(case: CaseFacts, clinic: ClinicFacts, exclude: Collection[str]) -> bool:
    return (
        case.treatment_slug in clinic.offers
        and clinic.accepting
        and _open_slots(clinic)
        and clinic.slug not in exclude
    )


# --------------------------------------------------------------------------- components


# Components depend on a few plain values (a list of accreditations, a number of
# hours, a load...) that repeat across clinics and cases, and are immutable, so each
# distinct one is built once and shared: ranking stays a few dictionary look-ups per
# clinic. Only values whose variety is bounded by their domain (not by the size of
# the catalogue) are memoised, so the hit rate, and the cost per clinic, do not fall
# as the catalogue grows; the caches are bounded.
_cached = lru_cache(maxsize=4096)


def _round(points: float) -> float:
    return round(points, w.POINTS_DECIMALS)


@_cached
def _language_code(code: str | None) -> str:
    """ISO 639-1 primary subtag, lower case: "RU" and "ru-KZ" both give "ru"."""
    return (code or "").strip().replace("_", "-").split("-", 1)[0].lower()


@dataclass(frozen=True)
class _Language:
    """The language components for one case's language, built once per ranking: each
    clinic then costs a set of its (few) language codes and two look-ups, whatever the
    number of distinct language lists in the catalogue."""

    language: str
    match: Component
    fallback: Component
    neither: Component
    # A clinic's language list -> its component: lists repeat across a catalogue, so
    # each distinct one is compared once per ranking (a memo that lives as long as it).
    seen: dict[tuple[str, ...], Component] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, language: str) -> _Language:
        wanted = language or "the patient's language"
        neither = (
            Component("language", 0.0, f"does not speak {language}")
            if language == w.FALLBACK_LANGUAGE
            else Component("language", 0.0, f"speaks neither {wanted} nor English")
        )
        return cls(
            language,
            Component("language", w.LANGUAGE_MATCH, f"speaks {language}"),
            Component("language", w.LANGUAGE_FALLBACK, f"speaks English (not {wanted})"),
            neither,
        )

    def compare(self, languages: tuple[str, ...]) -> Component:
        found = self.seen.get(languages)
        if found is None:
            found = self.seen[languages] = self._compare(languages)
        return found

    def _compare(self, languages: tuple[str, ...]) -> Component:
        english = False
        for code in languages:
            spoken = _language_code(code)
            if spoken == self.language and spoken:
                return self.match
            english = english or spoken == w.FALLBACK_LANGUAGE
        return self.fallback if english and self.language != w.FALLBACK_LANGUAGE else self.neither


# Accreditations that are certifications rather than accreditations, for the wording.
_CERTIFICATIONS = frozenset({"ISO 9001", "TEMOS"})
_ACCREDITATION_POINTS = {name.upper(): points for name, points in w.ACCREDITATION_POINTS.items()}


@_cached
def _accreditations(accreditations: tuple[str, ...]) -> tuple[Component, ...]:
    """One component per distinct accreditation, best first, the total capped."""
    seen: dict[str, str] = {}
    for name in accreditations:
        label = " ".join(str(name).split())
        if label and label.upper() not in seen:
            seen[label.upper()] = label
    ranked = sorted(
        seen.items(), key=lambda item: (-_ACCREDITATION_POINTS.get(item[0], w.OTHER_ACCREDITATION), item[0])
    )
    remaining = w.ACCREDITATION_CAP
    components = []
    for key, label in ranked:
        full = _ACCREDITATION_POINTS.get(key, w.OTHER_ACCREDITATION)
        points = min(full, remaining)
        remaining -= points
        reason = f"{label} {'certified' if key in _CERTIFICATIONS else 'accredited'}"
        if points < full:
            reason += f" (accreditation points capped at {w.ACCREDITATION_CAP:g})"
        components.append(Component(f"accreditation:{key}", _round(points), reason))
    return tuple(components)


_WITHIN_BUDGET = Component("budget", w.BUDGET_WITHIN, "within budget")


def _over_budget_points(percent: float) -> float:
    return _round(-min(percent * w.BUDGET_OVER_PER_PERCENT, w.BUDGET_OVER_MAX_PENALTY))


def _over_budget(percent: float) -> Component:
    """Not memoised: percentages take as many values as there are prices and budgets."""
    return Component("budget", _over_budget_points(percent), f"over budget by ~{max(1, round(percent))}%")


@dataclass(frozen=True)
class _Budget:
    """The case's budget, prepared once per ranking."""

    amount: Decimal
    currency: str  # upper case, may have no indicative rate
    eur: Decimal | None  # None when the currency has no indicative rate
    rates: fx.Rates
    # An offer's currency as written -> (its code, EUR per unit or None): a catalogue
    # uses a few currencies, so each is normalised and looked up once per ranking.
    seen: dict[str, tuple[str, Decimal | None]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, case: CaseFacts) -> _Budget | None:
        if case.budget is None or case.budget <= 0 or not case.budget_currency:
            return None
        currency = case.budget_currency.strip().upper()
        return cls(case.budget, currency, fx.to_eur(case.budget, currency, case.rates), case.rates)

    def compare(self, offer: Offer) -> Component | None:
        """Indicative price against the budget; None when there is nothing to compare.
        Same currency: compared as given. Otherwise both in EUR at indicative rates."""
        over = self.over(offer)
        if over is None:
            return None
        return _WITHIN_BUDGET if over < 0 else _over_budget(over)

    def points(self, offer: Offer) -> float | None:
        """The points `compare` would give, without building the component's reason."""
        over = self.over(offer)
        if over is None:
            return None
        return _WITHIN_BUDGET.points if over < 0 else _over_budget_points(over)

    def over(self, offer: Offer) -> float | None:
        """The percentage over budget (rounded as the reason and the points use it),
        -1 when within it, None when there is nothing to compare."""
        known = self.seen.get(offer.currency)
        if known is None:
            code = offer.currency.strip().upper()
            known = self.seen[offer.currency] = (code, fx.rate_to_eur(code, self.rates))
        currency, rate = known
        if currency == self.currency:
            price, budget = offer.price_from, self.amount
        else:
            budget = self.eur
            if rate is None or budget is None:
                return None
            price = offer.price_from * rate
        if price <= budget:
            return -1.0
        return round(float(price / budget - 1) * 100, 2)



@_cached
def _response(hours: float | None) -> Component:
    if hours is None:
        return Component("response", 0.0, "no response history yet")
    span = w.RESPONSE_SLOW_HOURS - w.RESPONSE_FAST_HOURS
    share = min(1.0, max(0.0, (w.RESPONSE_SLOW_HOURS - hours) / span))
    return Component("response", _round(w.RESPONSE_MAX * share), f"answers in ~{max(1, round(hours))} h")


@_cached
def _acceptance(rate: float | None) -> Component:
    if rate is None:
        return Component("acceptance", 0.0, "no acceptance history yet")
    rate = min(1.0, max(0.0, rate))
    return Component("acceptance", _round(w.ACCEPTANCE_MAX * rate), f"accepts {round(rate * 100)}% of referrals")


@_cached
def _load(open_referrals: int, capacity: int) -> Component:
    free = 1 - open_referrals / capacity
    return Component("load", _round(w.LOAD_MAX * free), f"{open_referrals} of {capacity} open cases")


_PREFERRED = Component("preferred", w.PREFERRED_CLINIC_BONUS, "patient's chosen clinic")


# --------------------------------------------------------------------------- public


def rank_clinics(
    case: CaseFacts, clinics: Iterable[ClinicFacts], *, exclude: Collection[str] = (), limit: int | None = None,
) -> list[Match]:
    """Every clinic that passes the hard filters, best first, each with its components;
    with `limit`, only the first `limit` of that list (the same matches, in the same
    order), found without building the others' components.

    Order: score descending, then the lower load ratio (open referrals / capacity),
    then the slug alphabetically. `exclude` holds slugs of clinics the case was already
    referred to; they never appear. Reads `clinics` once.
    """
    with collector_paused():
        scoring = _Scoring.of(case)
        if limit is None:
            return _rank(scoring, clinics, exclude)
        return _best(scoring, clinics, exclude, limit)


@dataclass(frozen=True)
class _Scoring:
    """What one ranking prepares once for every clinic."""

    case: CaseFacts
    language: _Language
    budget: _Budget | None
    offered: Component

    @classmethod
    def of(cls, case: CaseFacts) -> _Scoring:
        return cls(
            case,
            _Language.of(_language_code(case.language)),
            _Budget.of(case),
            Component("treatment", w.TREATMENT_OFFERED, f"offers {case.treatment_name}"),
        )

    def components(self, clinic: ClinicFacts) -> list[Component]:
        """The clinic's components, in the documented order."""
        parts = [_PREFERRED, self.offered] if clinic.slug == self.case.preferred_clinic_slug else [self.offered]
        parts.append(self.language.compare(_tuple(clinic.languages)))
        parts.extend(_accreditations(_tuple(clinic.accreditations)))
        if self.budget is not None:
            price = self.budget.compare(clinic.offers[self.case.treatment_slug])
            if price is not None:
                parts.append(price)
        parts.append(_response(clinic.response_hours))
        parts.append(_acceptance(clinic.acceptance_rate))
        parts.append(_load(clinic.open_referrals, clinic.capacity))
        return parts

    def points(self, clinic: ClinicFacts) -> list[float]:
        """The points of `components`, the same floats in the same order (so their sum,
        the score, is the same to the bit), without building any reason."""
        if clinic.slug == self.case.preferred_clinic_slug:
            points = [_PREFERRED.points, self.offered.points]
        else:
            points = [self.offered.points]
        points.append(self.language.compare(_tuple(clinic.languages)).points)
        points.extend(_accreditation_points(_tuple(clinic.accreditations)))
        if self.budget is not None:
            price = self.budget.points(clinic.offers[self.case.treatment_slug])
            if price is not None:
                points.append(price)
        points.append(_response(clinic.response_hours).points)
        points.append(_acceptance(clinic.acceptance_rate).points)
        points.append(_load(clinic.open_referrals, clinic.capacity).points)
        return points

    def match(self, clinic: ClinicFacts) -> Match:
        parts = self.components(clinic)
        return Match(clinic.slug, clinic.name, _round(sum(c.points for c in parts)), tuple(parts))


@_cached
def _accreditation_points(accreditations: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(c.points for c in _accreditations(accreditations))


def _excluded(exclude: Collection[str]) -> Collection[str]:
    return exclude if isinstance(exclude, (set, frozenset)) else frozenset(exclude)


def _rank(scoring: _Scoring, clinics: Iterable[ClinicFacts], exclude: Collection[str]) -> list[Match]:
    excluded = _excluded(exclude)
    case = scoring.case
    keyed: list[tuple[float, float, str, int, Match]] = []
    for clinic in clinics:
        if not _qualifies(case, clinic, excluded):
            continue
        match = scoring.match(clinic)
        keyed.append((-match.score, clinic.open_referrals / clinic.capacity, clinic.slug, len(keyed), match))
    # The position breaks any tie left, so the tuples never compare their Match; sorting
    # the tuples themselves (no key function) uses the interpreter's fast path for
    # float heads.
    keyed.sort()
    return [item[4] for item in keyed]


def _best(scoring: _Scoring, clinics: Iterable[ClinicFacts], exclude: Collection[str], limit: int) -> list[Match]:
    """The first `limit` of `_rank`'s list: the same keys (the score from the same
    floats, summed in the same order and rounded alike) with the same tie-breaks, each
    candidate costing a key tuple; only the winners get their components."""
    if limit <= 0:
        return []
    excluded = _excluded(exclude)
    case = scoring.case
    points = scoring.points
    keyed = (
        (-_round(sum(points(clinic))), clinic.open_referrals / clinic.capacity, clinic.slug, position, clinic)
        for position, clinic in enumerate(clinics)
        if _qualifies(case, clinic, excluded)
    )
    return [scoring.match(item[4]) for item in heapq.nsmallest(limit, keyed)]


def _tuple(values: Collection[str]) -> tuple[str, ...]:
    return values if isinstance(values, tuple) else tuple(values)


def top(matches: list[Match], n: int) -> list[Match]:
    """The first `n` of an already ranked list (none when n <= 0)."""
    return matches[: max(0, n)]


def unqualified_reason(
    case: CaseFacts, clinics: Iterable[ClinicFacts], *, exclude: Collection[str] = ()
) -> str:
    """One sentence for staff saying why no clinic qualified for the case."""
    excluded = exclude if isinstance(exclude, (set, frozenset)) else frozenset(exclude)
    treatment = case.treatment_name
    offering = sorted(
        (c for c in clinics if case.treatment_slug in c.offers), key=lambda c: c.slug
    )
    if not offering:
        return f"No clinic offers {treatment}."
    qualifying = [c for c in offering if _qualifies(case, c, excluded)]
    if qualifying:
        n = len(qualifying)
        return f"{n} clinic{'s' if n != 1 else ''} can take this case for {treatment}."

    details: list[str] = []
    referred = blocked = 0
    for clinic in offering:
        why: list[str] = []
        if clinic.slug in excluded:
            why.append("already referred")
        if not clinic.accepting:
            why.append("not accepting")
        if not _open_slots(clinic):
            why.append(f"{clinic.open_referrals} of {clinic.capacity} open cases")
        if clinic.slug in excluded and len(why) == 1:
            referred += 1
        else:
            blocked += 1
        details.append(f"{clinic.slug} ({'; '.join(why)})")

    n = len(offering)
    if n == 1:
        head = f"1 clinic offers {treatment} but "
        if referred:
            head += "the case was already referred to it"
        else:
            head += "it is not accepting cases or is at capacity"
    else:
        head = f"{n} clinics offer {treatment} but "
        if not referred:
            head += "none is accepting cases or all are at capacity"
        elif not blocked:
            head += "the case was already referred to all of them"
        else:
            head += "the case was already referred to some and the others are not accepting cases or are at capacity"
    return f"{head}: {', '.join(details)}."
