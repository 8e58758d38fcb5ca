"""The words of the patient-facing documents, per language.

Clinics read the dossier in English; the confirmation goes to the patient in
their language. Only English and Russian exist so far: any other language falls
back to English. Strings with ``{placeholders}`` are filled with ``str.format``
by the template *before* escaping, so a value can never inject markup.
"""
from __future__ import annotations

import functools
import gettext
from datetime import date
from decimal import Decimal
from typing import Final

import pycountry

DEFAULT: Final = "en"

_MONTHS: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    # Genitive, as a Russian date is written: "25 ноября 2026".
    "ru": (
        "января", "февраля", "марта", "апреля", "мая", "июня",
        "июля", "августа", "сентября", "октября", "ноября", "декабря",
    ),
}

STRINGS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "page": "Page",
        "of": "of",
        "confidential": "Confidential — health data",
        "brand": "Medtour",
        "confirmation_title": "Request received",
        "confirmation_running": "Request confirmation",
        "intro": (
            "Thank you. We have received your request for treatment abroad. "
            "Please keep this document: it confirms what you sent us and when."
        ),
        "reference": "Reference",
        "received_on": "Received on",
        "treatment": "Requested treatment",
        "next_title": "What happens next",
        "next_review": "A coordinator reviews your request, usually within one working day.",
        "next_clinics": (
            "We send your case to the clinics best suited to your treatment. "
            "They usually answer within three days."
        ),
        "next_choose": (
            "We send you the clinics' answers and quotes so that you can compare them. "
            "You choose the clinic; we then take care of travel, treatment arrangements "
            "and all the paperwork."
        ),
        "next_status": (
            "You can follow your case at any time on your private status page (the link is in "
            "the email we sent you), and add more files there."
        ),
        "files_title": "Files received",
        "files_intro": (
            "The SHA-256 fingerprint of each file lets you check that the file we hold is "
            "exactly the one you sent."
        ),
        "files_none": "You did not attach any files. You can add them later on your status page.",
        "file_name": "File",
        "file_type": "Type",
        "file_size": "Size",
        "file_sha256": "SHA-256",
        "contact_title": "Questions",
        "contact": "Write to {email} and quote your reference {reference}.",
        "privacy_title": "Your privacy",
        "privacy": (
            "Your health data is only shared with the clinics handling your request. Clinics "
            "receive your medical information and files, but not your name or contact details "
            "until you choose to go ahead with one of them. To receive a copy of your data, "
            "correct it or have it deleted, write to {email}."
        ),

        # Quote comparison
        "comparison_title": "Quotes received",
        "comparison_running": "Quote comparison",
        "comparison_intro": (
            "The clinics' quotes for your request, side by side: the cheapest first within "
            "each currency, expired quotes last. Prices are as the clinics quoted them."
        ),
        "comparison_none": (
            "No quotes have been received yet. We will let you know as soon as a clinic answers."
        ),
        "prepared_on": "Prepared on",
        "clinic": "Clinic",
        "location": "City and country",
        "accreditations": "Accreditation",
        "price": "Price",
        "included": "Included",
        "earliest_date": "Earliest date",
        "stay": "Length of stay",
        "valid_until": "Valid until",
        "expired": "Expired",
        "notes": "Clinic's notes",
        "none": "—",
        "comparison_choose": (
            "To choose a clinic, open your private status page (the link is in the email we sent "
            "you). A quote can be chosen only until its validity date."
        ),
        # Booking summary
        "booking_title": "Booking summary",
        "booking_running": "Booking summary",
        "booking_intro": (
            "You have chosen your clinic. This summary sets out what was agreed; please keep it "
            "and bring it with you."
        ),
        "patient": "Patient",
        "chosen_clinic": "Your clinic",
        "clinic_email": "Clinic's email",
        "dates_title": "Dates and price",
        "stay_from_to": "{start} to {end}",
        "planned_stay": "Planned stay",
        "bring_title": "What to bring",
        "bring_passport": "Your passport, valid for at least six months after your return, and your visa if you need one.",
        "bring_letters": "This booking summary and the visa support letter we prepared for you.",
        "bring_records": "Your medical records: the originals or copies of the files you sent us.",
        "bring_files": "The files you sent us:",
        "bring_medications": "A list of the medicines you take, with their doses, and enough of them for your whole stay.",
        "bring_your_medications": "You told us you take:",
        "bring_allergies": "Your allergies written down, in English if you can: {allergies}.",
        "bring_insurance": "Your travel and health insurance documents.",
        "agency_title": "Your contact at Medtour",
        "agency_contact": (
            "We organise your trip and stay in touch with the clinic for you. Write to {email} "
            "and quote your reference {reference}."
        ),
        # Visa support letter
        "visa_title": "Letter in support of a medical visa application",
        "visa_running": "Visa support letter",
        "visa_date": "Date",
        "visa_to": "To the consular officer concerned",
        "visa_opening": "Dear Sir or Madam,",
        "visa_body": (
            "We confirm that the person named below is to travel for medical treatment, which "
            "Medtour organises with the clinic named below on the patient's behalf."
        ),
        "full_name": "Full name",
        "date_of_birth": "Date of birth",
        "passport_no": "Passport No.",
        "clinic_address": "Address",
        "treatment_label": "Treatment",
        "planned_dates": "Planned dates",
        "visa_dates": "from {start} to {end} (length of stay {stay})",
        "visa_request": (
            "We kindly ask you to consider the patient's application for a visa covering these "
            "dates. For any question about this letter, write to {email} quoting reference {reference}."
        ),
        "visa_closing": "Yours faithfully,",
        "signature": "Signature",
        "organiser": "Medtour — organiser of the treatment trip",
    },
    "ru": {
        "page": "Страница",
        "of": "из",
        "confidential": "Конфиденциально — медицинские данные",
        "brand": "Medtour",
        "confirmation_title": "Заявка получена",
        "confirmation_running": "Подтверждение заявки",
        "intro": (
            "Спасибо. Мы получили вашу заявку на лечение за рубежом. "
            "Сохраните этот документ: он подтверждает, что и когда вы нам отправили."
        ),
        "reference": "Номер заявки",
        "received_on": "Дата получения",
        "treatment": "Запрошенное лечение",
        "next_title": "Что будет дальше",
        "next_review": "Координатор рассмотрит вашу заявку, обычно в течение одного рабочего дня.",
        "next_clinics": (
            "Мы направим ваш случай в клиники, которые лучше всего подходят для вашего лечения. "
            "Обычно они отвечают в течение трёх дней."
        ),
        "next_choose": (
            "Мы пришлём вам ответы и предложения клиник, чтобы вы могли их сравнить. "
            "Клинику выбираете вы; дальше мы берём на себя поездку, организацию лечения "
            "и все документы."
        ),
        "next_status": (
            "Следить за заявкой можно в любое время на вашей личной странице статуса (ссылка — "
            "в письме, которое мы вам отправили); там же можно добавить файлы."
        ),
        "files_title": "Полученные файлы",
        "files_intro": (
            "Контрольная сумма SHA-256 каждого файла позволяет убедиться, что у нас хранится "
            "именно тот файл, который вы отправили."
        ),
        "files_none": "Вы не приложили файлов. Их можно добавить позже на странице статуса.",
        "file_name": "Файл",
        "file_type": "Тип",
        "file_size": "Размер",
        "file_sha256": "SHA-256",
        "contact_title": "Вопросы",
        "contact": "Пишите на {email} и укажите номер заявки {reference}.",
        "privacy_title": "Конфиденциальность",
        "privacy": (
            "Ваши медицинские данные передаются только клиникам, которые рассматривают вашу "
            "заявку. Клиники получают медицинские сведения и файлы, но не ваше имя и контакты — "
            "до тех пор, пока вы сами не выберете одну из них. Чтобы получить копию своих данных, "
            "исправить или удалить их, напишите на {email}."
        ),

        # Quote comparison
        "comparison_title": "Полученные предложения",
        "comparison_running": "Сравнение предложений",
        "comparison_intro": (
            "Предложения клиник по вашей заявке рядом друг с другом: в каждой валюте сначала "
            "самые недорогие, истёкшие — в конце. Цены указаны так, как их назвали клиники."
        ),
        "comparison_none": (
            "Предложений пока нет. Мы сообщим вам, как только клиника ответит."
        ),
        "prepared_on": "Дата составления",
        "clinic": "Клиника",
        "location": "Город и страна",
        "accreditations": "Аккредитация",
        "price": "Цена",
        "included": "Что входит",
        "earliest_date": "Ближайшая дата",
        "stay": "Длительность пребывания",
        "valid_until": "Действует до",
        "expired": "Истекло",
        "notes": "Примечания клиники",
        "none": "—",
        "comparison_choose": (
            "Чтобы выбрать клинику, откройте вашу личную страницу статуса (ссылка — в письме, "
            "которое мы вам отправили). Выбрать предложение можно только до даты его окончания."
        ),
        # Booking summary
        "booking_title": "Сводка бронирования",
        "booking_running": "Сводка бронирования",
        "booking_intro": (
            "Вы выбрали клинику. В этой сводке — всё, о чём договорились; сохраните её и возьмите "
            "с собой."
        ),
        "patient": "Пациент",
        "chosen_clinic": "Ваша клиника",
        "clinic_email": "Эл. почта клиники",
        "dates_title": "Даты и стоимость",
        "stay_from_to": "с {start} по {end}",
        "planned_stay": "Планируемое пребывание",
        "bring_title": "Что взять с собой",
        "bring_passport": "Заграничный паспорт, действительный не менее шести месяцев после возвращения, и визу, если она нужна.",
        "bring_letters": "Эту сводку и визовое письмо, которое мы для вас подготовили.",
        "bring_records": "Медицинские документы: оригиналы или копии файлов, которые вы нам отправили.",
        "bring_files": "Файлы, которые вы нам отправили:",
        "bring_medications": "Список лекарств, которые вы принимаете, с дозировками, и запас лекарств на всё пребывание.",
        "bring_your_medications": "Вы сообщили, что принимаете:",
        "bring_allergies": "Записанные аллергии, по возможности на английском: {allergies}.",
        "bring_insurance": "Документы медицинской и туристической страховки.",
        "agency_title": "Ваш контакт в Medtour",
        "agency_contact": (
            "Мы организуем вашу поездку и поддерживаем связь с клиникой. Пишите на {email} "
            "и указывайте номер заявки {reference}."
        ),
        # Visa support letter
        "visa_title": "Письмо в поддержку заявления на медицинскую визу",
        "visa_running": "Визовое письмо",
        "visa_date": "Дата",
        "visa_to": "В консульский отдел",
        "visa_opening": "Уважаемые дамы и господа!",
        "visa_body": (
            "Подтверждаем, что указанное ниже лицо направляется на лечение, которое Medtour "
            "организует от имени пациента совместно с указанной ниже клиникой."
        ),
        "full_name": "Фамилия и имя",
        "date_of_birth": "Дата рождения",
        "passport_no": "Паспорт №",
        "clinic_address": "Адрес",
        "treatment_label": "Лечение",
        "planned_dates": "Планируемые даты",
        "visa_dates": "с {start} по {end} (длительность пребывания {stay})",
        "visa_request": (
            "Просим рассмотреть заявление пациента на визу на эти даты. По вопросам, связанным "
            "с этим письмом, пишите на {email}, указав номер заявки {reference}."
        ),
        "visa_closing": "С уважением,",
        "signature": "Подпись",
        "organiser": "Medtour — организатор лечебной поездки",
    },
}


_SIZE_UNITS: Final[dict[str, dict[str, str]]] = {
    "ru": {"bytes": "байт", "KB": "КБ", "MB": "МБ"},
}


def format_size(label: str, language: str | None = DEFAULT) -> str:
    """``human_size``'s "1.5 MB" / "585 bytes" with the units in the document's language."""
    number, _, unit = label.partition(" ")
    return f"{number} {_SIZE_UNITS.get(resolve(language), {}).get(unit, unit)}"


def resolve(language: str | None) -> str:
    """The supported language for a case's ``language`` ("ru", "ru-RU", "RU"), else English."""
    code = (language or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in STRINGS else DEFAULT


def strings(language: str | None) -> dict[str, str]:
    return STRINGS[resolve(language)]


def format_date(value: date, language: str | None = DEFAULT) -> str:
    """"25 November 2026" / "25 ноября 2026"."""
    months = _MONTHS[resolve(language)]
    return f"{value.day} {months[value.month - 1]} {value.year}"


# What a quote includes, in the patient's language. The keys and English labels are
# `service.cases.quotes.INCLUDES` (one place for the fact); only the translations live here.
_INCLUDES: Final[dict[str, dict[str, str]]] = {
    "ru": {
        "treatment": "Лечение",
        "stay": "Пребывание в клинике",
        "transfers": "Трансферы из аэропорта и в клинику",
        "interpreter": "Переводчик",
    },
}


def include_label(key: str, language: str | None = DEFAULT) -> str:
    """One item of a quote's "included" list; an unknown key is shown as it is."""
    from service.cases.quotes import INCLUDES

    return _INCLUDES.get(resolve(language), {}).get(key) or INCLUDES.get(key, key)


def format_days(days: int, language: str | None = DEFAULT) -> str:
    """"1 day" / "7 days"; "1 день", "3 дня", "7 дней", "21 день"."""
    if resolve(language) == "ru":
        if days % 10 == 1 and days % 100 != 11:
            word = "день"
        elif days % 10 in (2, 3, 4) and days % 100 not in (12, 13, 14):
            word = "дня"
        else:
            word = "дней"
        return f"{days} {word}"
    return f"{days} day" if days == 1 else f"{days} days"


def format_money(amount: Decimal, currency: str, language: str | None = DEFAULT) -> str:
    """"12,500.00 EUR" / "12 500,00 EUR" (no-break spaces, so a price never wraps)."""
    grouped = f"{amount:,.2f}"
    if resolve(language) == "ru":
        grouped = grouped.replace(",", "\u00a0").replace(".", ",")
    return f"{grouped}\u00a0{currency}"


def country_name(code: str | None, language: str | None = DEFAULT) -> str:
    """The country's common name in the document's language ("Germany" / "Германия")."""
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code.upper()
    name = getattr(country, "common_name", None) or country.name
    if resolve(language) == DEFAULT:
        return name
    return _country_translation(resolve(language)).gettext(country.name)


@functools.cache
def _country_translation(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
