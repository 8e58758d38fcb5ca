"""The language of the documents: the web service's catalogue, without a request.

Clinics read the dossier in English; the patient's documents (confirmation, quote
comparison, booking summary, visa letter) are in the case's language. Their words
are msgids of the one catalogue, `service/translations/<lang>/LC_MESSAGES/messages.mo`
(marked with ``_()`` in the templates, extracted by ``make messages``; compiled from its
``.po`` when missing or stale, `service.gettext_build`); any language without a
catalogue reads English. Workers render these documents with no
request, and so the language is always the document's (``content.language``), passed
in, never a page's locale: ``words(language)`` loads the catalogue with Babel directly.

``_("… %(email)s …", email=…)`` fills its placeholders *before* Jinja escapes the
result, so a value can never inject markup. Dates, numbers and money follow CLDR
(``format_money`` is `service.i18n.format_money`, the one definition the pages share).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Final

from babel.numbers import format_decimal as _babel_decimal
from babel.support import NullTranslations, Translations

from service import i18n as _web
from service.limits import MIB
from service.models.quotes import INCLUDES

DEFAULT: Final = "en"
TRANSLATIONS: Final = Path(__file__).resolve().parent.parent / "translations"


def _directories() -> tuple[str, ...]:
    """The app's catalogue directories (BABEL_TRANSLATION_DIRECTORIES, compiled when the
    app started) inside an app context, else the service's own, compiled once."""
    from flask import current_app, has_app_context
    from flask_babel import get_babel

    if has_app_context() and "babel" in current_app.extensions:
        return tuple(get_babel().translation_directories)
    return _own_directories()


@functools.cache
def _own_directories() -> tuple[str, ...]:
    """`service/translations` with any missing or stale `.mo` compiled (beside the `.po`,
    or into a spare directory when the tree is read-only), once per process."""
    from service import gettext_build

    return tuple(gettext_build.ready([str(TRANSLATIONS)], lambda: gettext_build.spare_directory(None)))


def _available(directories: tuple[str, ...]) -> frozenset[str]:
    return frozenset({
        DEFAULT,
        *(path.parent.parent.name.split("_")[0].lower()
          for directory in directories for path in Path(directory).glob("*/LC_MESSAGES/messages.mo")),
    })


def resolve(language: str | None) -> str:
    """The language we have a catalogue for ("ru", "ru-RU", "RU"), else English."""
    code = (language or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in _available(_directories()) else DEFAULT


@dataclass(frozen=True)
class Words:
    """A document's words: ``_`` (gettext) and ``ngettext``, with ``%(name)s`` placeholders."""

    language: str
    translations: NullTranslations

    def gettext(self, message: str, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, num: int, **values: object) -> str:
        text = self.translations.ngettext(singular, plural, num)
        return text % {"num": num, **values}

    __call__ = gettext


def words(language: str | None) -> Words:
    """The catalogue of `language` (English when we lack it)."""
    directories = _directories()
    code = resolve(language)
    return Words(code, _load(directories, code))


@functools.cache
def _load(directories: tuple[str, ...], language: str) -> NullTranslations:
    if language == DEFAULT:
        return NullTranslations()
    merged: NullTranslations | None = None
    for directory in directories:
        found = Translations.load(directory, [language], domain="messages")
        if not isinstance(found, Translations):
            continue
        if merged is None:
            merged = found
        else:
            merged.merge(found)
    return merged or NullTranslations()


def format_date(value: date, language: str | None = DEFAULT) -> str:
    """"25 November 2026" / "25 ноября 2026": the web's one form of a date, in the document's language."""
    return _web.format_day(value, resolve(language))


def format_size(size: int, language: str | None = DEFAULT) -> str:
    """A file size in the document's language: "1.5 MB", "585 bytes" / "1,5 МБ", "585 байт"."""
    said = words(language)
    locale = said.language
    if size < 1024:
        count = _babel_decimal(size, "#,##0", locale=locale)
        return said.ngettext("%(count)s byte", "%(count)s bytes", size, count=count)
    if size < MIB:
        return said("%(size)s KB", size=_babel_decimal(round(size / 1024), "#,##0", locale=locale))
    return said("%(size)s MB", size=_babel_decimal(round(size / MIB, 1), "#,##0.#", locale=locale))


def include_label(key: str, language: str | None = DEFAULT) -> str:
    """One item of a quote's "included" list (`INCLUDES`, the one place for the fact and
    its English msgid); an unknown key is shown as it is."""
    label = INCLUDES.get(key)
    return words(language)(label) if label else key


def format_days(days: int, language: str | None = DEFAULT) -> str:
    """"1 day" / "7 days"; "1 день", "3 дня", "7 дней", "21 день"."""
    return words(language).ngettext("%(num)d day", "%(num)d days", days)


def format_money(amount: Decimal, currency: str, language: str | None = DEFAULT) -> str:
    """"12,500.00 EUR" / "12 500,00 EUR": `service.i18n.format_money` in the document's language."""
    return _web.format_money(amount, currency, resolve(language))


def country_name(code: str | None, language: str | None = DEFAULT) -> str:
    """The country's name in the document's language ("Germany" / "Германия"):
    `service.i18n.country_name` (CLDR), the one definition the pages share."""
    if not code:
        return ""
    return _web.country_name(code.upper(), resolve(language))


def format_whole_money(amount: Decimal, currency: str, language: str | None = DEFAULT) -> str:
    """A converted, indicative amount in whole units, half up: "10,212 USD" / "10 212 USD"
    (a rate's cents would claim a precision it does not have)."""
    whole = amount.quantize(Decimal("1"), rounding="ROUND_HALF_UP")
    language = resolve(language)
    if language == DEFAULT:
        return f"{whole:,} {currency}"
    return f"{_babel_decimal(whole, '#,##0', locale=language)}\u00a0{currency}"
