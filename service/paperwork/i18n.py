"""The words of the patient-facing documents, per language.

Clinics read the dossier in English; the confirmation goes to the patient in
their language. Only English and Russian exist so far: any other language falls
back to English. Strings with ``{placeholders}`` are filled with ``str.format``
by the template *before* escaping, so a value can never inject markup.
"""
from __future__ import annotations

from datetime import date
from typing import Final

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
