"""The patient's language: the one i18n seam of the web service (Flask-Babel).

A page speaks English unless its view chose another language for the request with
`use_language` (the status page does, from `Case.language`) or `use_page_language`
(the public pages: the form's posted `language` field, else the switch `?lang=xx`
remembered in the session, else Accept-Language, else English; the resumable uploads
behind the form follow the same rule). Staff and clinic pages never do, so they, the
JSON API and the workers stay English whatever the case's language; a worker that
writes to a patient speaks the case's language with `flask_babel.force_locale`. The languages on offer are English plus every compiled catalogue under
`service/translations/<code>/LC_MESSAGES/messages.mo` (the `.po` beside it is the
source; the app compiles a missing or stale one when it starts, `service.gettext_build`):
adding a language needs no code.

Strings are marked with `gettext`/`ngettext` where they are used (translated for the
current request), `lazy_gettext` where they are defined at import (form labels), or
`N_` where a table holds English msgids that are translated at the point of use
(`gettext(label)`). Placeholders are `%(name)s`, as Flask-Babel formats them.

The formatting helpers keep English in the service's established forms ("12,500.00 EUR",
"1.5 MB"), which staff and clinic pages share; other languages follow CLDR ("16 900,00 EUR").
A date has one form, on every page, e-mail and PDF: "25 November 2026" / "25 ноября 2026"
(`DAY_PATTERN`). A time is shown in the viewer's IANA zone where known,
and the zone is always named ("16 March 2026, 15:05 CET"; "…, 14:05 UTC" when unknown): the
browser reports its zone (static/js/time-zone.js → `remember_zone`), kept in the session,
and for staff and clinic users in `users.time_zone`, which their guard puts in force
with `use_zone`.
"""
from __future__ import annotations

import functools
import os
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final
from urllib.parse import urlencode

import pycountry
from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal as _babel_decimal
from flask import Flask, current_app, g, request, session
from flask_babel import Babel, get_locale, gettext, lazy_gettext, ngettext, refresh

from service import gettext_build
from service.limits import MIB

__all__ = [
    "DEFAULT", "N_", "babel", "country_name", "current_language", "current_zone", "format_amount",
    "format_clock", "format_day", "format_integer", "format_moment_day", "format_money", "format_size", "format_when",
    "gettext", "human_size",
    "init_app", "language_name", "language_switch", "languages", "lazy_gettext", "ngettext", "resolve",
    "use_language", "use_page_language", "remember_zone", "use_zone", "valid_zone",
]

DEFAULT: Final = "en"
_LANGUAGES_KEY: Final = "medtour.languages"
SESSION_KEY: Final = "language"
"""Where the switch (`?lang=xx` on a public page) remembers the patient's choice."""
SWITCH_ARG: Final = "lang"

babel = Babel()


def N_(message: str) -> str:
    """Mark an English msgid for extraction; translate it where it is shown."""
    return message


def _select_locale() -> str:
    return g.get("locale") or DEFAULT


def _forget(_exc: BaseException | None = None) -> None:
    """A request's language and zone end with it (tests run several requests in one app context)."""
    g.pop("language_switch", None)
    g.pop(_ZONE_KEY, None)
    if g.pop("locale", None) is not None:
        refresh()


def init_app(app: Flask) -> None:
    _compile_catalogues(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.teardown_request(_forget)
    app.context_processor(lambda: {
        "page_language": current_language(), "language_switch": language_switch(), "viewer_zone": current_zone(),
    })


def _compile_catalogues(app: Flask) -> None:
    """Compile any missing or stale catalogue before Flask-Babel reads them (a deployment
    that never runs `make translations` still speaks Russian), and point
    BABEL_TRANSLATION_DIRECTORIES at where they were compiled (`service.gettext_build`)."""
    configured = app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations").split(";")
    directories = [name if os.path.isabs(name) else os.path.join(app.root_path, name) for name in configured]
    compiled = gettext_build.ready(directories, lambda: gettext_build.spare_directory(app.instance_path))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(compiled)


def languages() -> frozenset[str]:
    """English and every language with a compiled catalogue (read once per app)."""
    found = current_app.extensions.get(_LANGUAGES_KEY)
    if found is None:
        found = frozenset({DEFAULT, *(locale.language for locale in babel.list_translations())})
        current_app.extensions[_LANGUAGES_KEY] = found
    return found


def resolve(language: str | None) -> str:
    """The language we speak for a case's `language` ("ru", "ru-RU", "RU"); else English."""
    code = (language or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in languages() else DEFAULT


def use_language(language: str | None) -> str:
    """Speak `language` (if we have it) for the rest of this request."""
    g.locale = resolve(language)
    refresh()
    return g.locale


def _ours(language: object) -> str | None:
    """`language` if it names a language we have ("ru", "ru-RU"), else None."""
    if not isinstance(language, str):
        return None
    code = language.replace("_", "-").split("-")[0].strip().lower()
    return code if code in languages() else None


def use_page_language(field: str | None = None, *, switch: bool = True) -> str:
    """Speak the patient's language on a public page, for the rest of this request:
    the form's posted `language` field (`field`, if we have it), else the switch
    (`?lang=xx`, remembered in the session), else the browser's Accept-Language,
    else English. With `switch`, the page shows the language switch."""
    asked = _ours(request.args.get(SWITCH_ARG))
    if asked is not None:
        session[SESSION_KEY] = asked
    remembered = _ours(session.get(SESSION_KEY))
    language = (
        _ours(field)
        or remembered
        or request.accept_languages.best_match(sorted(languages()))
        or DEFAULT
    )
    g.language_switch = switch
    return use_language(language)


def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name ("Russian" / "русский"; in its own language when `in_language`
    is the code itself), from CLDR; a code CLDR lacks is shown as it is."""
    try:
        name = Locale.parse(code).get_display_name(in_language or current_language())
    except (ValueError, TypeError, UnknownLocaleError):
        name = None
    if not name:
        return code
    return name[:1].upper() + name[1:]


def language_switch() -> list[dict[str, object]]:
    """The switch's links when the view asked for one (`use_page_language`), else []:
    every language we have, named in its own language, each keeping this page (its
    path and query) and the current one marked."""
    if not g.get("language_switch"):
        return []
    current = current_language()
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != SWITCH_ARG]
    links = []
    for code in sorted(languages(), key=lambda c: (c != DEFAULT, c)):
        links.append({
            "code": code,
            "name": language_name(code, code),
            "href": request.script_root + request.path + "?" + urlencode([*kept, (SWITCH_ARG, code)]),
            "current": code == current,
        })
    return links


def current_language() -> str:
    """The language of the page being made: "en" outside a request or unless a view chose."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


# ---------------------------------------------------------------- time zones

UTC_ZONE: Final = "UTC"
ZONE_SESSION_KEY: Final = "time_zone"
"""Where the browser's reported zone is kept for this session (patients, and staff before sign-in)."""
_ZONE_KEY: Final = "viewer_zone"
_ZONE_MAX: Final = 64


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_zone(name: object) -> str | None:
    """`name` if it is an IANA zone this system knows ("Europe/Berlin"), else None."""
    if not isinstance(name, str) or not name or len(name) > _ZONE_MAX:
        return None
    return name if name in _zones() or name == UTC_ZONE else None


def use_zone(name: str | None) -> None:
    """Show times in `name` for the rest of this request (a signed-in user's saved zone)."""
    zone = valid_zone(name)
    if zone is not None:
        g.setdefault(_ZONE_KEY, zone)


def remember_zone(name: object) -> str | None:
    """Keep the browser's zone in the session (and for this request); None if not a zone."""
    zone = valid_zone(name)
    if zone is not None:
        session[ZONE_SESSION_KEY] = zone
        g.pop(_ZONE_KEY, None)
        g.setdefault(_ZONE_KEY, zone)
    return zone


def session_zone() -> str | None:
    """The zone this browser session reported, if any."""
    return valid_zone(session.get(ZONE_SESSION_KEY)) if request else None


def current_zone() -> str | None:
    """The viewer's zone: the signed-in user's (`use_zone`), else the session's, else None
    (outside a request: None, so workers write UTC unless told a zone)."""
    zone = g.get(_ZONE_KEY) if g else None
    return zone or session_zone()


def zone_label(moment: datetime) -> str:
    """The zone of an aware datetime by its abbreviation ("CET", "MSK", "UTC"), or by its
    IANA name where the abbreviation is only an offset ("+05")."""
    abbreviation = moment.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    return str(getattr(moment.tzinfo, "key", "") or abbreviation or UTC_ZONE)


def in_zone(moment: datetime, zone: str | None = None) -> datetime:
    """A stored timestamp (UTC; naive means UTC) in `zone`, else the viewer's, else UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    name = valid_zone(zone) or current_zone() or UTC_ZONE
    return moment.astimezone(zoneinfo.ZoneInfo(name))


# ---------------------------------------------------------------- formatting


def format_when(moment: datetime, zone: str | None = None, language: str | None = None) -> str:
    """A timestamp (stored in UTC) in `zone`, else the viewer's, else UTC, the zone named:
    "16 March 2026, 15:05 CET" / "16 марта 2026, 17:05 MSK"."""
    return f"{format_moment_day(moment, zone, language)}, {format_clock(moment, zone)}"


def format_moment_day(moment: datetime, zone: str | None = None, language: str | None = None) -> str:
    """The date part of `format_when` (the day in the viewer's zone): "16 March 2026"."""
    return format_day(in_zone(moment, zone).date(), language)


def format_clock(moment: datetime, zone: str | None = None) -> str:
    """The time part of `format_when`, its zone named: "15:05 CET"."""
    local = in_zone(moment, zone)
    return f"{local:%H:%M} {zone_label(local)}"


DAY_PATTERN: Final = "d MMMM y"
"""The one form of a date, in every language (CLDR's month names): pages, e-mails, PDFs."""


def format_day(day: date, language: str | None = None) -> str:
    """A calendar date: "25 November 2026" / "25 ноября 2026" (the page's language, or `language`)."""
    return _babel_date(day, DAY_PATTERN, locale=language or current_language())


def format_amount(amount: Decimal) -> str:
    """A price without its currency, as a revision's table shows it: "12500.00" / "12 500,00"."""
    language = current_language()
    if language == DEFAULT:
        return str(amount)
    return _babel_decimal(amount, "#,##0.00", locale=language)


def format_money(amount: Decimal, currency: str, language: str | None = None) -> str:
    """"12,500.00 EUR" / "12 500,00 EUR" (no-break spaces outside English): the one
    definition, for the pages (their language) and the PDFs (the document's, passed in)."""
    language = language or current_language()
    if language == DEFAULT:
        return f"{amount:,.2f} {currency}"
    return f"{_babel_decimal(amount, '#,##0.00', locale=language)}\u00a0{currency}"


def format_integer(number: int) -> str:
    """"10,485,761" / "10 485 761"."""
    language = current_language()
    if language == DEFAULT:
        return f"{number:,}"
    return _babel_decimal(number, "#,##0", locale=language)


def human_size(size: int) -> str:
    """A size in English, as limits are written ("10 MB", "512 KB", "585 bytes");
    `format_size` writes it in the page's language."""
    if size < 1024:
        return f"{size} bytes"
    if size < MIB:
        return f"{size / 1024:.0f} KB"
    return f"{size / MIB:.1f} MB".replace(".0 MB", " MB")


def format_size(size: int) -> str:
    """A file size: "1.5 MB", "585 bytes" / "1,5 МБ", "585 байт"."""
    language = current_language()
    if language == DEFAULT:
        return human_size(size)
    if size < 1024:
        return ngettext("%(count)s byte", "%(count)s bytes", size, count=format_integer(size))
    if size < MIB:
        return gettext("%(size)s KB", size=_babel_decimal(round(size / 1024), "#,##0", locale=language))
    return gettext("%(size)s MB", size=_babel_decimal(round(size / MIB, 1), "#,##0.#", locale=language))


def country_name(code: str, language: str | None = None) -> str:
    """A country's name in the page's language, or `language` ("Germany" / "Германия"),
    from CLDR (Babel's locale data); in English pycountry's short name ("South Korea",
    "Türkiye"), as the documents have always written it. pycountry says which codes
    exist: unknown codes are shown as they are."""
    country = pycountry.countries.get(alpha_2=(code or "").upper())
    if country is None:
        return code
    language = language or current_language()
    if language != DEFAULT:
        found = _territories(language).get(country.alpha_2)
        if found:
            return found
    return getattr(country, "common_name", None) or country.name


@functools.cache
def _territories(language: str) -> Mapping[str, str]:
    """CLDR's country names in `language`, read once per language (none for a code CLDR lacks)."""
    try:
        return Locale.parse(language).territories
    except (ValueError, TypeError, UnknownLocaleError):
        return {}
