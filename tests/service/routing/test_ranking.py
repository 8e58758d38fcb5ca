"""The ranking alone, on crafted catalogues (no database). Each test arranges the
clinics so that, without the behaviour it names, the alphabetical tie-break would
produce the opposite order."""
from __future__ import annotations

import ast
import random
from decimal import Decimal
from pathlib import Path

import pytest

from service.routing import (
    CaseFacts,
    ClinicFacts,
    Component,
    Match,
    Offer,
    rank_clinics,
    top,
    unqualified_reason,
)
from service.routing import fx
from service.routing import weights as w
from tests.fixtures.exchange_rates import file_rates

TREATMENT = "osseointegrated-prosthesis-transfemoral"
TREATMENT_NAME = "Osseointegrated prosthesis, above knee"
RATES = file_rates()


def make_case(**overrides) -> CaseFacts:
    values = dict(
        treatment_slug=TREATMENT,
        treatment_name=TREATMENT_NAME,
        language="ru",
        country="KZ",
        budget=None,
        budget_currency=None,
        preferred_clinic_slug=None,
        rates=RATES,
    )
    values.update(overrides)
    return CaseFacts(**values)


def make_clinic(slug: str, *, price: str = "30000", currency: str = "EUR", **overrides) -> ClinicFacts:
    """A neutral clinic: speaks only German, no accreditation, no history, empty."""
    values = dict(
        slug=slug,
        name=slug.replace("-", " ").title(),
        country="DE",
        languages=("de",),
        accreditations=(),
        accepting=True,
        capacity=10,
        open_referrals=0,
        offers={TREATMENT: Offer(Decimal(price), currency)},
        response_hours=None,
        acceptance_rate=None,
    )
    values.update(overrides)
    return ClinicFacts(**values)


def slugs(matches: list[Match]) -> list[str]:
    return [m.clinic_slug for m in matches]


def component(match: Match, key: str) -> Component:
    [found] = [c for c in match.components if c.key == key]
    return found


def keys(match: Match) -> list[str]:
    return [c.key for c in match.components]


# --------------------------------------------------------------------------- chosen clinic


def test_the_patients_chosen_clinic_is_first_even_when_worst_on_everything_else():
    best = make_clinic(
        "a-best", languages=("ru", "en"), accreditations=("JCI", "DNV"), price="1000",
        response_hours=1, acceptance_rate=1.0,
    )
    chosen = make_clinic(
        "z-chosen", price="90000", response_hours=500, acceptance_rate=0.0, open_referrals=9,
    )
    case = make_case(budget=Decimal("10000"), budget_currency="EUR", preferred_clinic_slug="z-chosen")
    ranked = rank_clinics(case, [best, chosen])
    assert slugs(ranked) == ["z-chosen", "a-best"]
    assert component(ranked[0], "preferred") == Component("preferred", w.PREFERRED_CLINIC_BONUS, "patient's chosen clinic")
    assert "preferred" not in keys(ranked[1])


def test_the_bonus_exceeds_any_gap_the_other_components_can_make():
    assert w.PREFERRED_CLINIC_BONUS > w.PREFERENCE_SPREAD


def test_a_chosen_clinic_that_fails_a_filter_is_not_rescued():
    full = make_clinic("a-chosen", capacity=5, open_referrals=5)
    other = make_clinic("b-other")
    case = make_case(preferred_clinic_slug="a-chosen")
    assert slugs(rank_clinics(case, [full, other])) == ["b-other"]


# --------------------------------------------------------------------------- language


def test_speaking_the_patients_language_beats_english_which_beats_neither():
    clinics = [
        make_clinic("a-german", languages=("de",)),
        make_clinic("b-english", languages=("de", "en")),
        make_clinic("c-russian", languages=("RU",)),
    ]
    ranked = rank_clinics(make_case(language="ru-KZ"), clinics)
    assert slugs(ranked) == ["c-russian", "b-english", "a-german"]
    assert [component(m, "language") for m in ranked] == [
        Component("language", w.LANGUAGE_MATCH, "speaks ru"),
        Component("language", w.LANGUAGE_FALLBACK, "speaks English (not ru)"),
        Component("language", 0.0, "speaks neither ru nor English"),
    ]


def test_an_english_speaking_patient_needs_no_fallback():
    clinics = [make_clinic("a-german"), make_clinic("b-english", languages=("en",))]
    ranked = rank_clinics(make_case(language="en"), clinics)
    assert slugs(ranked) == ["b-english", "a-german"]
    assert component(ranked[0], "language") == Component("language", w.LANGUAGE_MATCH, "speaks en")
    assert component(ranked[1], "language").reason == "does not speak en"


# --------------------------------------------------------------------------- accreditation


def test_accreditation_ranks_higher_and_each_has_its_own_weight():
    clinics = [
        make_clinic("a-none"),
        make_clinic("b-iso", accreditations=("ISO 9001",)),
        make_clinic("c-jci", accreditations=("JCI",)),
    ]
    ranked = rank_clinics(make_case(), clinics)
    assert slugs(ranked) == ["c-jci", "b-iso", "a-none"]
    assert component(ranked[0], "accreditation:JCI") == Component(
        "accreditation:JCI", w.ACCREDITATION_POINTS["JCI"], "JCI accredited"
    )
    assert component(ranked[1], "accreditation:ISO 9001") == Component(
        "accreditation:ISO 9001", w.ACCREDITATION_POINTS["ISO 9001"], "ISO 9001 certified"
    )
    assert not [k for k in keys(ranked[2]) if k.startswith("accreditation")]


def test_accreditation_points_are_capped_and_unknown_ones_count_a_little():
    many = make_clinic("a-many", accreditations=("iso 9001", "JCI", "DNV", "JCI"))
    unknown = make_clinic("b-unknown", accreditations=("Regional Health Board",))
    [first, second] = rank_clinics(make_case(), [unknown, many])
    parts = [c for c in first.components if c.key.startswith("accreditation")]
    assert [c.key for c in parts] == ["accreditation:JCI", "accreditation:DNV", "accreditation:ISO 9001"]
    assert sum(c.points for c in parts) == w.ACCREDITATION_CAP
    assert "capped" in parts[1].reason and "capped" in parts[2].reason
    assert component(second, "accreditation:REGIONAL HEALTH BOARD") == Component(
        "accreditation:REGIONAL HEALTH BOARD", w.OTHER_ACCREDITATION, "Regional Health Board accredited"
    )


# --------------------------------------------------------------------------- budget


def test_within_budget_beats_over_budget():
    clinics = [make_clinic("a-over", price="36000"), make_clinic("b-within", price="25000")]
    ranked = rank_clinics(make_case(budget=Decimal("30000"), budget_currency="EUR"), clinics)
    assert slugs(ranked) == ["b-within", "a-over"]
    assert component(ranked[0], "budget") == Component("budget", w.BUDGET_WITHIN, "within budget")
    assert component(ranked[1], "budget") == Component(
        "budget", -20 * w.BUDGET_OVER_PER_PERCENT, "over budget by ~20%"
    )


def test_the_over_budget_penalty_grows_with_the_gap_and_is_capped():
    clinics = [make_clinic("a-far", price="900000"), make_clinic("b-near", price="33000")]
    ranked = rank_clinics(make_case(budget=Decimal("30000"), budget_currency="EUR"), clinics)
    assert slugs(ranked) == ["b-near", "a-far"]
    assert component(ranked[0], "budget").reason == "over budget by ~10%"
    assert component(ranked[1], "budget").points == -w.BUDGET_OVER_MAX_PENALTY


def test_prices_in_other_currencies_are_compared_at_indicative_rates():
    # 900,000 THB is about 23,900 EUR: within a 30,000 EUR budget; 40,000 USD is not.
    clinics = [make_clinic("a-usd", price="40000", currency="USD"), make_clinic("b-thb", price="900000", currency="THB")]
    case = make_case(budget=Decimal("30000"), budget_currency="EUR")
    ranked = rank_clinics(case, clinics)
    assert slugs(ranked) == ["b-thb", "a-usd"]
    assert component(ranked[0], "budget").reason == "within budget"
    over = round((40000 * float(RATES.get("USD").eur_per_unit) / 30000 - 1) * 100)
    assert component(ranked[1], "budget").reason == f"over budget by ~{over}%"


@pytest.mark.parametrize(
    ("budget", "budget_currency", "price_currency"),
    [
        (None, None, "EUR"),  # no budget given
        (Decimal("30000"), "XYZ", "EUR"),  # budget in a currency without a rate
        (Decimal("30000"), "EUR", "XAU"),  # price in a currency without a rate
        (Decimal("0"), "EUR", "EUR"),  # a zero budget says nothing
    ],
)
def test_without_a_comparable_budget_there_is_no_budget_component(budget, budget_currency, price_currency):
    case = make_case(budget=budget, budget_currency=budget_currency)
    [match] = rank_clinics(case, [make_clinic("a", price="99999999", currency=price_currency)])
    assert "budget" not in keys(match)


def test_the_rates_come_with_the_case_facts_and_without_them_currencies_do_not_compare():
    clinics = [make_clinic("a-usd", price="40000", currency="USD")]
    [match] = rank_clinics(make_case(budget=Decimal("30000"), budget_currency="EUR", rates=fx.NO_RATES), clinics)
    assert "budget" not in keys(match)
    cheap = fx.Rates({"EUR": fx.Rate(Decimal(1), RATES.get("EUR").as_of), "USD": fx.Rate(Decimal("0.5"), RATES.get("EUR").as_of)})
    [match] = rank_clinics(make_case(budget=Decimal("30000"), budget_currency="EUR", rates=cheap), clinics)
    assert component(match, "budget").reason == "within budget"


def test_the_same_unknown_currency_on_both_sides_compares_without_a_rate():
    case = make_case(budget=Decimal("500000"), budget_currency="XOF")
    [match] = rank_clinics(case, [make_clinic("a", price="400000", currency="XOF")])
    assert component(match, "budget").reason == "within budget"


# --------------------------------------------------------------------------- history and load


def test_faster_answers_and_higher_acceptance_rank_higher():
    slow = make_clinic("a-slow", response_hours=72, acceptance_rate=0.5)
    fast = make_clinic("b-fast", response_hours=18, acceptance_rate=0.5)
    assert slugs(rank_clinics(make_case(), [slow, fast])) == ["b-fast", "a-slow"]
    low = make_clinic("a-low", response_hours=18, acceptance_rate=0.4)
    high = make_clinic("b-high", response_hours=18, acceptance_rate=0.82)
    ranked = rank_clinics(make_case(), [low, high])
    assert slugs(ranked) == ["b-high", "a-low"]
    assert component(ranked[0], "response") == Component("response", 9.0, "answers in ~18 h")
    assert component(ranked[0], "acceptance") == Component("acceptance", 8.2, "accepts 82% of referrals")


def test_a_clinic_without_history_earns_nothing_for_it_and_says_so():
    [match] = rank_clinics(make_case(), [make_clinic("a")])
    assert component(match, "response") == Component("response", 0.0, "no response history yet")
    assert component(match, "acceptance") == Component("acceptance", 0.0, "no acceptance history yet")


def test_a_less_loaded_clinic_ranks_higher_to_spread_cases():
    busy = make_clinic("a-busy", capacity=10, open_referrals=8)
    quiet = make_clinic("b-quiet", capacity=10, open_referrals=3)
    ranked = rank_clinics(make_case(), [busy, quiet])
    assert slugs(ranked) == ["b-quiet", "a-busy"]
    assert component(ranked[0], "load") == Component("load", 7.0, "3 of 10 open cases")
    assert component(ranked[1], "load") == Component("load", 2.0, "8 of 10 open cases")


# --------------------------------------------------------------------------- components


def test_the_treatment_is_a_zero_point_component_staff_can_read():
    [match] = rank_clinics(make_case(), [make_clinic("a")])
    assert match.components[0] == Component("treatment", 0.0, f"offers {TREATMENT_NAME}")
    assert match.reasons == [c.reason for c in match.components]
    assert match.reasons[0] == "offers Osseointegrated prosthesis, above knee"


def test_the_score_is_the_sum_of_the_components_in_a_documented_order():
    clinic = make_clinic(
        "bosphorus", languages=("tr", "en", "ru"), accreditations=("JCI",), price="32000",
        capacity=20, open_referrals=5, response_hours=18, acceptance_rate=0.82,
    )
    case = make_case(budget=Decimal("30000"), budget_currency="EUR", preferred_clinic_slug="bosphorus")
    [match] = rank_clinics(case, [clinic])
    assert [(c.key, c.points, c.reason) for c in match.components] == [
        ("preferred", 1000.0, "patient's chosen clinic"),
        ("treatment", 0.0, "offers Osseointegrated prosthesis, above knee"),
        ("language", 30.0, "speaks ru"),
        ("accreditation:JCI", 15.0, "JCI accredited"),
        ("budget", -3.33, "over budget by ~7%"),
        ("response", 9.0, "answers in ~18 h"),
        ("acceptance", 8.2, "accepts 82% of referrals"),
        ("load", 7.5, "5 of 20 open cases"),
    ]
    assert match.score == 1066.37
    assert (match.clinic_slug, match.clinic_name) == ("bosphorus", "Bosphorus")


# --------------------------------------------------------------------------- order and ties


def test_equal_scores_go_to_the_lower_load_ratio_first():
    # Same score (10 points each) reached differently: half full with a 50 % acceptance
    # rate, against empty with none. The emptier clinic wins despite its later slug.
    busy = make_clinic("a-busy", capacity=10, open_referrals=5, acceptance_rate=0.5)
    empty = make_clinic("b-empty", capacity=4, open_referrals=0, acceptance_rate=0.0)
    ranked = rank_clinics(make_case(), [busy, empty])
    assert ranked[0].score == ranked[1].score == 10.0
    assert slugs(ranked) == ["b-empty", "a-busy"]


def test_equal_scores_and_loads_go_to_the_slug_alphabetically_whatever_the_input_order():
    twins = [make_clinic(slug, open_referrals=2) for slug in ("c-twin", "a-twin", "b-twin")]
    for _ in range(5):
        random.shuffle(twins)
        assert slugs(rank_clinics(make_case(), twins)) == ["a-twin", "b-twin", "c-twin"]


def test_float_noise_never_decides_an_order():
    # 0.1 + 0.2 style noise in the sum must not split clinics that score the same.
    one = make_clinic("b-one", acceptance_rate=0.3, response_hours=66)
    two = make_clinic("a-two", acceptance_rate=0.2, response_hours=60)
    ranked = rank_clinics(make_case(), [one, two])
    assert ranked[0].score == ranked[1].score
    assert slugs(ranked) == ["a-two", "b-one"]


# --------------------------------------------------------------------------- hard filters


def test_a_clinic_at_capacity_is_excluded_and_one_below_is_kept():
    clinics = [
        make_clinic("a-full", capacity=10, open_referrals=10),
        make_clinic("b-over", capacity=10, open_referrals=12),
        make_clinic("c-last-slot", capacity=10, open_referrals=9),
        make_clinic("d-no-capacity", capacity=0, open_referrals=0),
    ]
    assert slugs(rank_clinics(make_case(), clinics)) == ["c-last-slot"]


def test_a_clinic_not_accepting_cases_is_excluded():
    clinics = [make_clinic("a-closed", accepting=False, languages=("ru",)), make_clinic("b-open")]
    assert slugs(rank_clinics(make_case(), clinics)) == ["b-open"]


def test_a_clinic_not_offering_the_treatment_is_excluded():
    other = make_clinic("a-other", offers={"knee-replacement": Offer(Decimal("7000"), "EUR")})
    assert slugs(rank_clinics(make_case(), [other, make_clinic("b-offers")])) == ["b-offers"]


@pytest.mark.parametrize("exclude", [{"a-referred", "c-chosen"}, ["a-referred", "c-chosen"], ("c-chosen", "a-referred")])
def test_clinics_already_referred_are_never_listed_again(exclude):
    clinics = [make_clinic("a-referred", languages=("ru",)), make_clinic("b-new"), make_clinic("c-chosen")]
    case = make_case(preferred_clinic_slug="c-chosen")
    assert slugs(rank_clinics(case, clinics, exclude=exclude)) == ["b-new"]


def test_ranking_reads_the_clinics_once_so_a_generator_works():
    clinics = (make_clinic(slug) for slug in ("b", "a"))
    assert slugs(rank_clinics(make_case(), clinics)) == ["a", "b"]
    generator = (make_clinic(slug, accepting=False) for slug in ("b", "a"))
    assert unqualified_reason(make_case(), generator).startswith("2 clinics offer")


# --------------------------------------------------------------------------- top


def test_top_takes_the_first_n_in_order():
    ranked = rank_clinics(make_case(), [make_clinic(s) for s in ("d", "c", "b", "a")])
    assert slugs(top(ranked, 3)) == ["a", "b", "c"]
    assert slugs(top(ranked, 10)) == ["a", "b", "c", "d"]
    assert top(ranked, 0) == [] and top(ranked, -1) == []


# --------------------------------------------------------------------------- unqualified_reason


def test_unqualified_when_no_clinic_offers_the_treatment():
    other = make_clinic("a", offers={"knee-replacement": Offer(Decimal("7000"), "EUR")})
    assert unqualified_reason(make_case(), [other]) == "No clinic offers Osseointegrated prosthesis, above knee."
    assert unqualified_reason(make_case(), []) == "No clinic offers Osseointegrated prosthesis, above knee."


def test_unqualified_when_none_is_accepting_or_all_are_full():
    clinics = [
        make_clinic("c-both", accepting=False, capacity=5, open_referrals=5),
        make_clinic("a-full", capacity=10, open_referrals=10),
        make_clinic("b-closed", accepting=False),
        make_clinic("z-other", offers={}),
    ]
    assert rank_clinics(make_case(), clinics) == []
    assert unqualified_reason(make_case(), clinics) == (
        "3 clinics offer Osseointegrated prosthesis, above knee but none is accepting cases or all "
        "are at capacity: a-full (10 of 10 open cases), b-closed (not accepting), "
        "c-both (not accepting; 5 of 5 open cases)."
    )


def test_unqualified_when_the_only_clinic_is_full():
    clinics = [make_clinic("a-full", capacity=3, open_referrals=3)]
    assert unqualified_reason(make_case(), clinics) == (
        "1 clinic offers Osseointegrated prosthesis, above knee but it is not accepting cases "
        "or is at capacity: a-full (3 of 3 open cases)."
    )


def test_unqualified_when_the_case_was_already_referred_everywhere():
    clinics = [make_clinic("a"), make_clinic("b")]
    assert unqualified_reason(make_case(), clinics, exclude=["a", "b"]) == (
        "2 clinics offer Osseointegrated prosthesis, above knee but the case was already referred "
        "to all of them: a (already referred), b (already referred)."
    )
    assert unqualified_reason(make_case(), clinics[:1], exclude={"a"}) == (
        "1 clinic offers Osseointegrated prosthesis, above knee but the case was already referred "
        "to it: a (already referred)."
    )


def test_unqualified_when_referred_to_some_and_the_others_are_blocked():
    clinics = [make_clinic("a"), make_clinic("b", accepting=False)]
    assert unqualified_reason(make_case(), clinics, exclude={"a"}) == (
        "2 clinics offer Osseointegrated prosthesis, above knee but the case was already referred "
        "to some and the others are not accepting cases or are at capacity: "
        "a (already referred), b (not accepting)."
    )


def test_unqualified_reason_when_clinics_do_qualify_says_so():
    assert unqualified_reason(make_case(), [make_clinic("a")]) == (
        "1 clinic can take this case for Osseointegrated prosthesis, above knee."
    )


# --------------------------------------------------------------------------- purity


PURE_MODULES = ("ranking.py", "weights.py", "fx.py")
FORBIDDEN = ("flask", "sqlalchemy", "rq", "redis", "service.models", "service.extensions", "service.routing.facts")


@pytest.mark.parametrize("module", PURE_MODULES)
def test_the_decision_modules_import_no_framework_or_database(module):
    source = Path(__file__).resolve().parents[3] / "service" / "routing" / module
    imported: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
    bad = [name for name in imported for root in FORBIDDEN if name == root or name.startswith(root + ".")]
    assert bad == []


def test_facts_are_frozen():
    clinic = make_clinic("a")
    with pytest.raises(AttributeError):
        clinic.capacity = 99  # type: ignore[misc]
    assert clinic._replace(capacity=99).capacity == 99


# --------------------------------------------------------------------------- limit


def random_catalogue(rng: random.Random, n: int) -> list[ClinicFacts]:
    """Clinics drawn from few values each, so that equal scores, equal loads and
    over-budget prices in several currencies are common."""
    return [
        make_clinic(
            f"c-{rng.randrange(n * 3):04d}-{i}",
            price=str(rng.choice((9000, 20000, 30000, 31000, 45000, 900000))),
            currency=rng.choice(("EUR", "USD", "THB", "XAU")),
            languages=tuple(rng.sample(("ru", "en", "de", "tr"), rng.randint(0, 2))),
            accreditations=tuple(rng.sample(("JCI", "DNV", "ISO 9001", "Other"), rng.randint(0, 2))),
            accepting=rng.random() < 0.9,
            capacity=rng.choice((4, 10, 20)),
            open_referrals=rng.choice((0, 1, 2, 5)),
            response_hours=rng.choice((None, 12, 18, 66)),
            acceptance_rate=rng.choice((None, 0.2, 0.3, 0.5)),
        )
        for i in range(n)
    ]


def test_a_limit_gives_exactly_the_first_matches_of_the_whole_ranking():
    ties = 0
    for seed in range(40):
        rng = random.Random(seed)
        clinics = random_catalogue(rng, rng.randint(0, 60))
        budget = rng.choice((None, Decimal("30000"), Decimal("25000")))
        case = make_case(
            budget=budget, budget_currency=rng.choice(("EUR", "USD")) if budget else None,
            language=rng.choice(("ru", "en", "ko")),
            preferred_clinic_slug=rng.choice(clinics).slug if clinics and rng.random() < 0.3 else None,
        )
        exclude = {c.slug for c in clinics if rng.random() < 0.1}
        ranked = rank_clinics(case, clinics, exclude=exclude)
        ties += len(ranked) - len({m.score for m in ranked})
        for limit in (0, 1, 2, 3, 7, len(ranked), len(ranked) + 5):
            assert rank_clinics(case, iter(clinics), exclude=exclude, limit=limit) == ranked[:limit], (seed, limit)
        assert rank_clinics(case, clinics, exclude=exclude, limit=-1) == []
    assert ties > 40  # equal scores were there to break


def test_a_limit_breaks_ties_by_load_then_slug_like_the_whole_ranking():
    twins = [make_clinic(slug, open_referrals=2) for slug in ("c-twin", "a-twin", "b-twin")]
    emptier = make_clinic("z-empty", capacity=4, open_referrals=0, acceptance_rate=0.2)  # 2 points, 10 load
    busier = make_clinic("y-busy", capacity=10, open_referrals=2, acceptance_rate=0.0)
    assert slugs(rank_clinics(make_case(), [*twins, busier, emptier], limit=2)) == ["z-empty", "a-twin"]


def test_a_limit_builds_the_reasons_of_the_winners_only(monkeypatch):
    from service.routing import ranking

    built: list[float] = []
    over_budget = ranking._over_budget

    def counting(percent: float) -> Component:
        built.append(percent)
        return over_budget(percent)

    monkeypatch.setattr(ranking, "_over_budget", counting)
    clinics = [make_clinic(f"c-{n:03d}", price=str(31000 + n * 100)) for n in range(50)]
    case = make_case(budget=Decimal("30000"), budget_currency="EUR")
    [best] = rank_clinics(case, clinics, limit=1)
    assert best.clinic_slug == "c-000" and component(best, "budget").reason == "over budget by ~3%"
    assert len(built) == 1
    assert len(rank_clinics(case, clinics)) == 50 and len(built) == 51
