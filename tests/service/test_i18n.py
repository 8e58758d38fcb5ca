"""The i18n seam (`service.i18n`) and the catalogues: which language a request speaks,
the formats, plural forms, and that every string the code marks is translated."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask

from service import i18n
from service.cases.status import CaseStatus
from service.paperwork.wording import format_money as paperwork_money

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "service" / "translations"
RUSSIAN_PLURALS = (
    "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
)
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


# ---------------------------------------------------------------- which language


@pytest.mark.parametrize(("asked", "spoken"), [
    ("ru", "ru"), ("RU", "ru"), ("ru-RU", "ru"), ("ru_RU", "ru"), (" ru ", "ru"),
    ("en", "en"), ("de", "en"), ("", "en"), (None, "en"), ("xx-YY", "en"),
])
def test_a_language_we_lack_falls_back_to_english(app: Flask, asked, spoken):
    with app.test_request_context():
        assert i18n.resolve(asked) == spoken
        assert i18n.use_language(asked) == spoken
        assert i18n.current_language() == spoken


def test_the_languages_are_english_plus_every_compiled_catalogue(app: Flask):
    catalogues = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")}
    assert "ru" in catalogues
    with app.app_context():
        assert i18n.languages() == frozenset({"en", *catalogues})


def test_english_unless_the_view_chooses_and_only_for_that_request(app: Flask):
    with app.test_request_context():
        assert i18n.current_language() == "en"
        assert CaseStatus.SUBMITTED.label == "Received"
        i18n.use_language("ru")
        assert i18n.current_language() == "ru"
        assert CaseStatus.SUBMITTED.label == "Получена"
        assert CaseStatus.SUBMITTED.next_step.startswith("Координатор рассмотрит вашу заявку")
        # The console's words never follow the patient's language.
        assert CaseStatus.SUBMITTED.staff_label == "New"
        assert CaseStatus.ROUTED.staff_label == "Sent to clinics"
    # Tests (like the test client inside an app context) run requests in one app
    # context: the next request starts in English again.
    with app.app_context():
        with app.test_request_context():
            i18n.use_language("ru")
        with app.test_request_context():
            assert i18n.current_language() == "en"
            assert CaseStatus.ROUTED.label == "Sent to clinics"


def test_outside_a_request_everything_is_english():
    assert i18n.current_language() == "en"
    assert CaseStatus.CLOSED.label == "Closed"


# ---------------------------------------------------------------- formats and plurals


def test_formats_follow_the_page_language(app: Flask):
    with app.test_request_context():
        # English keeps the service's established formats, shared with staff and clinic pages.
        assert i18n.format_money(Decimal("16900"), "EUR") == "16,900.00 EUR"
        assert i18n.format_day(date(2026, 11, 25)) == "25 November 2026"
        assert i18n.format_when(datetime(2026, 3, 6, 14, 5)) == "6 March 2026, 14:05 UTC"
        assert i18n.format_size(1536 * 1024) == "1.5 MB"
        assert i18n.format_amount(Decimal("12500.00")) == "12500.00"
        assert i18n.country_name("DE") == "Germany"

        i18n.use_language("ru")
        assert i18n.format_money(Decimal("16900"), "EUR") == "16\u00a0900,00\u00a0EUR"
        assert i18n.format_money(Decimal("16900"), "EUR") == paperwork_money(Decimal("16900"), "EUR", "ru")
        assert i18n.format_day(date(2026, 11, 25)) == "25 ноября 2026"
        assert i18n.format_when(datetime(2026, 3, 6, 14, 5)) == "6 марта 2026, 14:05 UTC"
        assert i18n.format_size(1536 * 1024) == "1,5 МБ"
        assert i18n.format_size(10 * 1024 * 1024) == "10 МБ"
        assert i18n.format_size(2048) == "2 КБ"
        assert [i18n.format_size(n) for n in (1, 2, 5, 21, 585)] == [
            "1 байт", "2 байта", "5 байт", "21 байт", "585 байт",
        ]
        assert i18n.format_amount(Decimal("12500.00")) == "12\u00a0500,00"
        assert i18n.country_name("DE") == "Германия"


@pytest.mark.parametrize(("count", "english", "russian"), [
    (1, "1 file added", "Добавлен 1 файл"),
    (2, "2 files added", "Добавлено 2 файла"),
    (4, "4 files added", "Добавлено 4 файла"),
    (5, "5 files added", "Добавлено 5 файлов"),
    (11, "11 files added", "Добавлено 11 файлов"),
    (12, "12 files added", "Добавлено 12 файлов"),
    (21, "21 files added", "Добавлен 21 файл"),
    (22, "22 files added", "Добавлено 22 файла"),
    (25, "25 files added", "Добавлено 25 файлов"),
])
def test_russian_counts_take_their_three_plural_forms(app: Flask, count, english, russian):
    with app.test_request_context():
        assert i18n.ngettext("%(num)d file added", "%(num)d files added", count) == english
        i18n.use_language("ru")
        assert i18n.ngettext("%(num)d file added", "%(num)d files added", count) == russian


# ---------------------------------------------------------------- the catalogues


def _extracted() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """Every message the code marks, as `pybabel extract -F babel.cfg` finds it:
    (context, msgid) -> the msgid and its plural, if any."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS,
    ):
        ids = message if isinstance(message, tuple) else (message,)
        if ids[0]:
            found[(context, ids[0])] = ids
    return found


def _catalogues() -> list[Path]:
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def test_extraction_finds_every_kind_of_marked_string():
    """So that the completeness test below can fail: each way of marking a string is seen."""
    found = _extracted()
    for key in (
        (None, "Quotes from clinics"),                      # Jinja _()
        (None, ("Medtour — you choose the clinic, we take care of travel, treatment arrangements and "
                "all the paperwork. Your health data is only shared with the clinics handling your request.")),
        ("a file", "Received"),                             # Jinja pgettext()
        (None, "%(num)d day"),                              # Jinja ngettext()
        (None, "Sent to clinics"),                          # N_() in service/cases/status.py
        (None, "Hospital stay"),                            # N_() in service/cases/quotes.py
        (None, "Files to add"),                             # lazy_gettext() in forms/
        (None, "%(num)d file added"),                       # ngettext() in service/cases/events.py
        (None, "Thank you: your answer was sent to your coordinator."),  # gettext() in a view
    ):
        assert key in found, key
    assert found[(None, "%(num)d day")] == ("%(num)d day", "%(num)d days")


def test_every_catalogue_translates_everything_the_code_marks():
    extracted = _extracted()
    catalogues = _catalogues()
    assert catalogues, "no catalogue under service/translations"
    for path in catalogues:
        with path.open("rb") as source:
            catalog = read_po(source, locale=path.parent.parent.name)
        where = path.relative_to(ROOT)
        entries = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}
        missing = sorted(k[1] for k in extracted if k not in entries)
        assert not missing, f"{where} lacks: {missing}"
        stale = sorted(k[1] for k in entries if k not in extracted)
        assert not stale, f"{where} has entries the code no longer marks (run `make messages`): {stale}"
        for key, message in entries.items():
            ids = extracted[key]
            assert "fuzzy" not in message.flags, f"{where}: fuzzy entry {key[1]!r}"
            assert isinstance(message.id, tuple) == (len(ids) == 2), f"{where}: plural mismatch for {key[1]!r}"
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            if len(ids) == 2:
                assert len(forms) == catalog.num_plurals, f"{where}: {key[1]!r} needs {catalog.num_plurals} forms"
            for form in forms:
                assert form and form.strip(), f"{where}: no translation for {key[1]!r}"
                assert _placeholders(form) == _placeholders(ids[-1]), (
                    f"{where}: the placeholders of {form!r} differ from {ids[-1]!r}"
                )
            if len(ids) == 2:
                assert _placeholders(ids[0]) == _placeholders(ids[1]), key


def test_the_russian_catalogue_declares_russian_plurals():
    with (TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="ru")
    assert catalog.mime_headers and dict(catalog.mime_headers)["Plural-Forms"] == RUSSIAN_PLURALS
    assert catalog.num_plurals == 3
    assert catalog.plural_expr == (
        "(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2)"
    )


def test_placeholder_check_catches_a_dropped_or_renamed_placeholder():
    assert _placeholders("%(num)d файл") == _placeholders("%(num)d file")
    assert _placeholders("файл") != _placeholders("%(num)d file")
    assert _placeholders("%(count)d файл") != _placeholders("%(num)d file")
    assert _placeholders("%(num)s файл") != _placeholders("%(num)d file")
    assert _placeholders("{left} из {max}") == _placeholders("{left} of {max}")


# ---------------------------------------------------------------- one date form, the viewer's zone


def test_a_date_has_one_form_per_language_on_pages_and_in_documents(app: Flask):
    from service.paperwork import wording

    with app.test_request_context():
        day = date(2027, 1, 13)
        assert i18n.format_day(day) == wording.format_date(day, "en") == "13 January 2027"
        i18n.use_language("ru")
        assert i18n.format_day(day) == wording.format_date(day, "ru") == "13 января 2027"


def test_times_are_shown_in_the_viewers_zone_with_the_zone_named(app: Flask):
    moment = datetime(2026, 3, 16, 14, 5, tzinfo=UTC)
    with app.test_request_context():
        assert i18n.current_zone() is None
        assert i18n.format_when(moment) == "16 March 2026, 14:05 UTC"  # unknown: UTC, said so
        assert i18n.remember_zone("Europe/Berlin") == "Europe/Berlin"
        assert i18n.format_when(moment) == "16 March 2026, 15:05 CET"
        assert i18n.format_when(datetime(2026, 7, 16, 14, 5)) == "16 July 2026, 16:05 CEST"  # naive is UTC
        assert i18n.format_when(moment, "Asia/Almaty") == "16 March 2026, 19:05 Asia/Almaty"  # "+05" is no name
        assert i18n.format_when(moment, "UTC") == "16 March 2026, 14:05 UTC"
        i18n.use_language("ru")
        assert i18n.format_when(moment, "Europe/Moscow") == "16 марта 2026, 17:05 MSK"
    with app.test_request_context():
        i18n.use_zone("America/New_York")  # a signed-in user's saved zone
        assert i18n.format_when(moment) == "16 March 2026, 10:05 EDT"


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", "Europe/Berlin" * 10, None, 7, "utc "])
def test_only_iana_zones_are_taken(app: Flask, name):
    with app.test_request_context():
        assert i18n.valid_zone(name) is None
        assert i18n.remember_zone(name) is None
        assert i18n.current_zone() is None
