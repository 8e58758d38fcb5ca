"""What the demo patients and coordinators write: fictional people (emails on the
reserved example.* domains), requests in English and Russian for every treatment of
the demo catalogue, questions, answers and internal notes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Patient:
    full_name: str
    email: str
    country: str
    language: str
    phone: str | None
    # The language the patient writes in: "ru" or "en".
    writes: str


PATIENTS: Final = (
    Patient("Амина Петрова", "amina.petrova@example.org", "KZ", "ru", "+77015550123", "ru"),
    Patient("Дмитрий Ковалёв", "d.kovalev@example.org", "RU", "ru", "+79165550142", "ru"),
    Patient("Айгерим Сапарова", "aigerim.saparova@example.com", "KZ", "kk", "+77475550167", "ru"),
    Patient("Тимур Алиев", "timur.aliev@example.net", "AZ", "ru", None, "ru"),
    Patient("Ольга Смирнова", "olga.smirnova@example.org", "UA", "uk", "+380675550178", "ru"),
    Patient("Нурлан Жумабаев", "nurlan.zh@example.com", "KG", "ru", "+996555550190", "ru"),
    Patient("Гульнара Исмаилова", "gulnara.ismailova@example.org", "UZ", "ru", "+998905550111", "ru"),
    Patient("Сергей Иванов", "sergey.ivanov@example.net", "GE", "ru", None, "ru"),
    Patient("Зарина Каримова", "zarina.karimova@example.org", "TJ", "ru", "+992935550122", "ru"),
    Patient("Армен Саргсян", "armen.sargsyan@example.com", "AM", "ru", "+37491555013", "ru"),
    Patient("Oliver Hughes", "oliver.hughes@example.co.uk", "GB", "en", "+447700900123", "en"),
    Patient("Grace O'Connor", "grace.oconnor@example.ie", "IE", "en", None, "en"),
    Patient("Chinedu Okafor", "chinedu.okafor@example.com", "NG", "en", "+2348035550134", "en"),
    Patient("Emily Carter", "emily.carter@example.com", "US", "en", "+12025550147", "en"),
    Patient("Fatima Al-Hashimi", "fatima.alhashimi@example.org", "AE", "ar", "+971505550158", "en"),
    Patient("Liam Byrne", "liam.byrne@example.net", "AU", "en", None, "en"),
    Patient("Wanjiru Kamau", "wanjiru.kamau@example.org", "KE", "en", "+254712555016", "en"),
    Patient("Noah Fischer", "noah.fischer@example.de", "DE", "de", "+4915155550171", "en"),
    Patient("Sophie Martin", "sophie.martin@example.ca", "CA", "en", "+16135550182", "en"),
    Patient("Rahul Menon", "rahul.menon@example.com", "OM", "en", None, "en"),
    Patient("Елена Морозова", "elena.morozova@example.org", "RU", "ru", "+79035550119", "ru"),
    Patient("Бахтияр Ержанов", "bakhtiyar.yerzhanov@example.com", "KZ", "kk", "+77055550128", "ru"),
    Patient("Наталья Ким", "natalya.kim@example.net", "UZ", "ru", None, "ru"),
    Patient("Георгий Беридзе", "g.beridze@example.org", "GE", "ka", "+995595550137", "ru"),
    Patient("Ирина Ткаченко", "irina.tkachenko@example.com", "MD", "ru", "+37369555014", "ru"),
    Patient("Руслан Абдуллаев", "ruslan.abdullaev@example.org", "AZ", "az", "+994505550152", "ru"),
    Patient("Hannah Schultz", "hannah.schultz@example.at", "AT", "de", "+436645550163", "en"),
    Patient("Ahmed Mansour", "ahmed.mansour@example.com", "EG", "ar", "+201005550174", "en"),
    Patient("Olivia Brown", "olivia.brown@example.co.nz", "NZ", "en", None, "en"),
    Patient("Kwame Mensah", "kwame.mensah@example.com", "GH", "en", "+233245550185", "en"),
    Patient("Sara Lindqvist", "sara.lindqvist@example.se", "SE", "sv", "+46705550196", "en"),
    Patient("Daniel Murphy", "daniel.murphy@example.com", "US", "en", "+13125550107", "en"),
)

# Per treatment slug of the demo catalogue: (English, Russian).
DESCRIPTIONS: Final[dict[str, tuple[str, str]]] = {
    "knee-replacement": (
        "Osteoarthritis of the right knee, grade IV on the last X-ray. I cannot walk more than 300 m and "
        "injections stopped helping a year ago.",
        "Гонартроз правого колена 4 степени по последнему рентгену. Не могу пройти больше 300 метров, "
        "уколы перестали помогать год назад.",
    ),
    "hip-replacement": (
        "Avascular necrosis of the left hip after steroid treatment. Constant pain at night, I use a cane.",
        "Асептический некроз головки левого бедра после лечения гормонами. Боль по ночам, хожу с тростью.",
    ),
    "spinal-fusion": (
        "Spondylolisthesis L4–L5 with leg numbness; two years of physiotherapy without improvement.",
        "Спондилолистез L4–L5, немеет левая нога. Два года физиотерапии без улучшения.",
    ),
    "acl-reconstruction": (
        "Torn ACL playing football in January, MRI confirmed. The knee gives way on stairs.",
        "Разрыв передней крестообразной связки на футболе в январе, подтверждён МРТ. Колено подворачивается на лестнице.",
    ),
    "osseointegrated-prosthesis-transfemoral": (
        "Above-knee amputation in 2019 after an accident; the socket prosthesis causes sores and I can "
        "only wear it a few hours a day.",
        "Ампутация выше колена в 2019 году после аварии. Гильзовый протез натирает, могу носить его "
        "только пару часов в день.",
    ),
    "osseointegrated-prosthesis-transtibial": (
        "Below-knee amputation (diabetes, 2021). Skin on the stump keeps breaking down in the socket.",
        "Ампутация голени (диабет, 2021). Кожа культи постоянно травмируется в гильзе.",
    ),
    "socket-prosthesis-fitting": (
        "My first prosthesis after a below-knee amputation eight months ago; the local waiting list is over a year.",
        "Нужен первый протез после ампутации голени восемь месяцев назад, дома очередь больше года.",
    ),
    "coronary-bypass": (
        "Three-vessel coronary disease on angiography; my cardiologist recommends bypass surgery.",
        "По коронарографии поражение трёх сосудов, кардиолог рекомендует аортокоронарное шунтирование.",
    ),
    "heart-valve-replacement": (
        "Severe aortic stenosis, valve area 0.8 cm² on echo. Short of breath on one flight of stairs.",
        "Тяжёлый аортальный стеноз, площадь клапана 0,8 см² по ЭхоКГ. Одышка уже на одном пролёте лестницы.",
    ),
    "coronary-angioplasty": (
        "Chest pain on exertion, stress test positive. Looking for angiography and stenting if needed.",
        "Боли в груди при нагрузке, нагрузочный тест положительный. Нужна коронарография и, если нужно, стентирование.",
    ),
    "proton-therapy": (
        "Skull-base chordoma in my 9-year-old son, operated in March; the tumour board advises proton therapy.",
        "У сына 9 лет хордома основания черепа, прооперирован в марте. Консилиум рекомендует протонную терапию.",
    ),
    "breast-cancer-surgery": (
        "Left breast carcinoma, 2.1 cm, biopsy HER2-negative. I would like a second opinion and surgery.",
        "Рак левой молочной железы, 2,1 см, по биопсии HER2-отрицательный. Хочу второе мнение и операцию.",
    ),
    "ivf-cycle": (
        "We have been trying for four years; two IVF attempts at home failed. I am 36.",
        "Четыре года не получается забеременеть, два ЭКО дома были неудачными. Мне 36 лет.",
    ),
    "egg-freezing": (
        "I am 34 and would like to freeze eggs; AMH 1.9 ng/ml last month.",
        "Мне 34 года, хочу заморозить яйцеклетки. АМГ в прошлом месяце 1,9 нг/мл.",
    ),
    "dental-implants": (
        "Missing two lower molars for several years; bone loss mentioned by my dentist.",
        "Нет двух нижних моляров уже несколько лет, стоматолог говорит об убыли кости.",
    ),
    "all-on-4": (
        "Most upper teeth are loose from periodontitis; I want a fixed full-arch solution rather than dentures.",
        "Почти все верхние зубы шатаются из-за пародонтита, хочу несъёмный протез на имплантах, а не съёмный.",
    ),
    "lasik": (
        "Myopia −5.5 in both eyes, stable for three years; contact lenses irritate my eyes.",
        "Близорукость −5,5 на оба глаза, стабильна три года. Линзы раздражают глаза.",
    ),
    "cataract-surgery": (
        "Cataract in both eyes, the right one worse; I can no longer drive at night.",
        "Катаракта на обоих глазах, правый хуже. Ночью уже не могу водить машину.",
    ),
    "gastric-sleeve": (
        "BMI 41, type 2 diabetes and sleep apnoea. Diets have not worked for ten years.",
        "ИМТ 41, диабет 2 типа и апноэ сна. Диеты не помогают уже десять лет.",
    ),
    "gastric-bypass": (
        "BMI 44 with severe reflux; my surgeon says a bypass is better than a sleeve for me.",
        "ИМТ 44 и сильный рефлюкс, хирург считает, что мне лучше шунтирование, чем рукав.",
    ),
    "rhinoplasty": (
        "Deviated septum after a fracture; breathing through the right nostril is difficult.",
        "Искривление перегородки после перелома носа, правой ноздрёй почти не дышу.",
    ),
    "abdominoplasty": (
        "Loose skin and a separated abdominal muscle after losing 35 kg and two pregnancies.",
        "Избыток кожи и диастаз после похудения на 35 кг и двух беременностей.",
    ),
}

SPAM: Final = "Best prices for pharmacy products!!! Visit our shop, discount 70% for all orders, write now."

MEDICATIONS: Final = (None, "none known", "Metformin 500 mg twice a day", "Bisoprolol 5 mg", "Levothyroxine 75 mcg",
                      "Метформин 1000 мг", "Аторвастатин 20 мг вечером")
ALLERGIES: Final = (None, "none known", "Penicillin (rash)", "Латекс", "Ибупрофен — отёк")
CONDITIONS: Final = (None, "none known", "Hypertension", "Type 2 diabetes", "Гипертония 2 степени", "Астма, лёгкая")
TRAVEL_WINDOWS: Final = (None, "As soon as possible", "Within the next 2–3 months", "Summer, flexible",
                         "Как можно скорее", "После майских праздников")
BUDGETS: Final = ((None, None), ("8000", "EUR"), ("15000", "EUR"), ("25000", "USD"), ("3000000", "KZT"),
                  ("40000", "USD"), ("12000", "GBP"))

QUESTIONS: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "Could you send the report of your most recent MRI or X-ray, and tell us which medicines you take and in what doses?",
        "The clinic asks for your latest blood tests (full blood count, HbA1c, creatinine). Do you have results from the last three months?",
        "Would you travel with a companion? The clinic needs to know for the accommodation.",
    ),
    "ru": (
        "Пришлите, пожалуйста, заключение последнего МРТ или рентгена и напишите, какие лекарства вы принимаете и в каких дозах.",
        "Клиника просит свежие анализы крови (общий анализ, HbA1c, креатинин). Есть ли у вас результаты за последние три месяца?",
        "Вы поедете с сопровождающим? Клинике это нужно знать для размещения.",
    ),
}
ANSWERS: Final[dict[str, tuple[str, ...]]] = {
    "en": ("Yes, I had an MRI in March; I will upload the report. Metformin 500 mg twice a day.",
           "I will go with my husband."),
    "ru": ("Да, МРТ делала в марте, заключение загружу. Метформин 500 мг два раза в день.",
           "Поеду с мужем."),
}
NOTES: Final = (
    "Called the patient: prefers a clinic where Russian is spoken; flexible on dates.",
    "Patient asked about visa support; sent the usual letter template.",
    "Budget is tight; mentioned payment in two instalments.",
    "Second opinion only for now; the patient may not travel this year.",
)
REOPEN_NOTES: Final = (
    "The patient wrote back: the family agreed after all and asks to continue.",
    "The patient called: new test results arrived, wants to try again.",
)

# What clinics write with a quote (to the agency and the patient, in English).
QUOTE_NOTES: Final = (
    "Pre-operative tests on arrival are included; a follow-up video consultation after discharge is free.",
    "Please send recent blood work before travel; we confirm the date once the surgeon has reviewed it.",
    "The price assumes no complications; any extra nights are charged at the daily ward rate.",
    "An accompanying person can stay in the patient's room at no extra charge.",
    "Our international desk meets you at the airport; send the flight details a week ahead.",
)
# Why a clinic declines a referral (staff see it; the patient's page does not).
DECLINE_REASONS: Final = (
    "Our team for this treatment is fully booked for the next three months.",
    "The records suggest a case we would rather not take without an in-person assessment at home first.",
    "We need imaging less than six months old to consider this case; without it we cannot quote.",
    "This treatment is outside what our department currently offers to international patients.",
    "The patient's conditions call for an intensive-care backup we cannot guarantee at present.",
)
