"""ISO code lists (countries, languages, currencies) for select fields and for the rules
that check codes, built on first use (pycountry reads its data lazily). A leaf: forms,
the case domain and the dashboard all read them.

`countries()`, `languages()` and `currencies()` are the English lists the validators
check codes against; `*_in(language)` are the same codes with their names in the page's
language (pycountry's gettext catalogues), sorted for that language."""
from __future__ import annotations

import gettext as stdlib_gettext
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


@cache
def _catalogue(domain: str, language: str) -> stdlib_gettext.NullTranslations:
    return stdlib_gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language], fallback=True)


def _sort_key(label: str) -> str:
    # "Ё" sorts with "Е", as in a Russian dictionary; case never decides.
    return label.casefold().replace("ё", "е")


@cache
def countries_in(language: str) -> Choices:
    if language == "en":
        return countries()
    names = _catalogue("iso3166-1", language)
    return sorted(((code, names.gettext(name)) for code, name in countries()), key=lambda c: _sort_key(c[1]))


@cache
def languages_in(language: str) -> Choices:
    if language == "en":
        return languages()
    names = _catalogue("iso639-3", language)
    return sorted(((code, _capital(names.gettext(name))) for code, name in languages()), key=lambda c: _sort_key(c[1]))


def _capital(name: str) -> str:
    return name[:1].upper() + name[1:]


@cache
def currencies_in(language: str) -> Choices:
    if language == "en":
        return currencies()
    names = _catalogue("iso4217", language)
    return sorted(
        (c.alpha_3, f"{c.alpha_3} — {names.gettext(c.name)}") for c in pycountry.currencies
    )
