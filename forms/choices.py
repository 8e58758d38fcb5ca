"""ISO code lists for select fields, built on first use (pycountry reads its data lazily)."""
from __future__ import annotations

from functools import cache

import pycountry

Choices = list[tuple[str, str]]


@cache
def countries() -> Choices:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])


@cache
def languages() -> Choices:
    """ISO 639-1 languages (those with a two-letter code)."""
    return sorted(
        ((lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")),
        key=lambda c: c[1],
    )


@cache
def currencies() -> Choices:
    return sorted((c.alpha_3, f"{c.alpha_3} — {c.name}") for c in pycountry.currencies)


def codes(choices: Choices) -> frozenset[str]:
    return frozenset(code for code, _ in choices)
