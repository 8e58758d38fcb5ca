"""ISO code lists (countries, languages, currencies) for select fields and for the rules
that check codes, built on first use (pycountry reads its data lazily). A leaf: forms,
the case domain and the dashboard all read them.

`countries()`, `languages()` and `currencies()` are the English lists the validators
check codes against. `countries_in(language)` names the countries in the page's language
by CLDR (Babel's locale data), sorted by that language's collation (CLDR's tailoring,
through ICU: `sort_key`); `currencies_in(language)` names the currencies from pycountry's
gettext catalogues, by code. `contact_languages(language)` is the form's "Preferred
language for contact" list: the languages people write in (`written_languages`), named
by CLDR in the page's language and sorted by its collation."""
from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Callable, Iterable
from functools import cache

import icu
import pycountry
from babel import Locale, UnknownLocaleError
from babel.localedata import locale_identifiers

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
def country_codes() -> frozenset[str]:
    """The codes of `countries()`, made once (every submission checks one against them)."""
    return codes(countries())


@cache
def currency_codes() -> frozenset[str]:
    return codes(currencies())


@cache
def _catalogue(domain: str, language: str) -> stdlib_gettext.NullTranslations:
    return stdlib_gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language], fallback=True)


@cache
def sort_key(language: str) -> Callable[[str], bytes]:
    """The sort key of `language`'s collation (CLDR's tailoring, through ICU): in Russian
    "Ё" sorts with "Е" and Latin after Cyrillic, in German "Ä" with "A"; case decides
    only between otherwise equal names. One collator per language, made once."""
    try:
        collator = icu.Collator.createInstance(icu.Locale(language))
    except icu.ICUError:
        collator = icu.Collator.createInstance(icu.Locale.getRoot())
    return collator.getSortKey


def _by_name(pairs: Iterable[tuple[str, str]], language: str) -> Choices:
    key = sort_key(language)
    return sorted(pairs, key=lambda pair: key(pair[1]))


@cache
def _cldr(language: str) -> Locale | None:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return None


@cache
def countries_in(language: str) -> Choices:
    """The ISO 3166-1 countries named in `language` by CLDR (pycountry's English name
    where CLDR has none)."""
    if language == "en":
        return countries()
    locale = _cldr(language)
    names = locale.territories if locale is not None else {}
    return _by_name(((code, names.get(code) or name) for code, name in countries()), language)


@cache
def written_languages(language: str) -> frozenset[str]:
    """The ISO 639-1 languages people write to us in, as far as the locale data knows:
    living ones (ISO 639-3's type "L": not Latin, Sanskrit or Church Slavic, not
    Esperanto or Volapük) that CLDR names in `language` and that have locale data of
    their own (`babel.localedata.locale_identifiers()`: not Avestan)."""
    locale = _cldr(language)
    if locale is None:
        return frozenset()
    own = set(locale_identifiers())
    return frozenset(
        code for code, _ in languages()
        if code in locale.languages and code in own and pycountry.languages.get(alpha_2=code).type == "L"
    )


@cache
def _contact_languages(language: str, also: frozenset[str]) -> Choices:
    locale = _cldr(language)
    names = locale.languages if locale is not None else {}
    english = dict(languages())
    codes = written_languages(language) | {code for code in also if code in english}
    return _by_name(((code, _capital(names.get(code) or english[code])) for code in codes), language)


def contact_languages(language: str, also: Iterable[str] = ()) -> Choices:
    """The contact-language list in `language`: the languages people write in
    (`written_languages`) and every code in `also` (the catalogue's clinic languages,
    offered whatever the locale data says), each named in `language` by CLDR and
    sorted by its collation. Cached per language and set of extra codes."""
    return _contact_languages(language, frozenset(also))


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
