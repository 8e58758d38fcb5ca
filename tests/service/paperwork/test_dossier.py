"""The referral dossier, read back with pypdf."""
from __future__ import annotations

import re
from datetime import date

import pytest

from service.paperwork import build_dossier_pdf, dossier_content
from service.paperwork.documents import MAX_EXHIBIT_PAGES
from service.files.images import MAX_SIDE

PHOTO = (MAX_SIDE, MAX_SIDE * 1500 // 2000)
from tests.fixtures import files
from tests.service.paperwork import fakes, pdfs

TODAY = date(2026, 11, 25)
DESCRIPTION = (
    "Боль в колене после травмы. Меня зовут Amina Petrova, телефон +7 912 345 67 89, "
    "почта amina@example.org, родилась 02.04.1979."
)


@pytest.fixture(scope="module")
def dossier():
    """One dossier with every kind of attachment, built once for the module."""
    case = fakes.Case(description=DESCRIPTION)
    store = fakes.Store()
    store.add(case, "МРТ колена.pdf", "application/pdf", files.pdf("Lab result"))
    store.add(case, "photo.jpg", "image/jpeg", fakes.photo((2000, 1500)))
    store.add(case, "IMG_0001.HEIC", "image/heic", files.heic())
    store.add(case, "broken.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    store.add(case, "scan.png", "image/png", files.png())
    store.add(case, "xray.webp", "image/webp", files.webp())
    store.add(case, "scan.tiff", "image/tiff", files.tiff())
    store.add(case, "ct.dcm", "application/dicom", files.dicom())
    store.add(case, "two pages.pdf", "application/pdf", fakes.multipage_pdf(["Page one", "Page two"]))
    store.add(case, "rotated.pdf", "application/pdf", fakes.rotated_pdf("Rotated scan"))
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=TODAY)
    rendered = build_dossier_pdf(content, store.read)
    texts = pdfs.page_texts(rendered.data)
    return {"case": case, "store": store, "content": content, "pdf": rendered, "texts": texts,
            "all": pdfs.flat("\n".join(texts))}


def test_page_count_matches_the_file(dossier):
    reader = pdfs.reader(dossier["pdf"].data)
    assert dossier["pdf"].pages == len(reader.pages)
    # 1 + 2 + 1 exhibit pages after at least one page of summary, index and figures.
    assert dossier["pdf"].pages >= 5
    assert re.fullmatch(r"[0-9a-f]{64}", dossier["pdf"].sha256)


def test_reference_and_clinic_on_every_page(dossier):
    for number, text in enumerate(dossier["texts"], start=1):
        assert "MT-2026-000042" in text, f"page {number}"
        assert "Klinikum Lübeck Orthopädie" in text, f"page {number}"


def test_page_numbers_and_footer_on_every_page(dossier):
    total = len(dossier["texts"])
    assert "Page 1 of " + str(total) in dossier["texts"][0]
    for number, text in enumerate(dossier["texts"], start=1):
        assert f"Page {number} of {total}" in text
        assert "Confidential — health data" in text


def test_index_lists_every_file_with_its_sha256(dossier):
    for attachment in dossier["case"].attachments:
        assert attachment.filename in dossier["all"]
        assert f"SHA-256 {attachment.sha256}" in dossier["all"]


def test_index_gives_sizes_page_counts_and_time_limited_links(dossier):
    text = dossier["all"]
    assert "PDF · 585 bytes · 1 page" in text
    assert "2 pages" in text
    uris = pdfs.link_uris(dossier["pdf"].data)
    for attachment in dossier["case"].attachments:
        assert fakes.link_for(attachment) in uris


def test_cyrillic_text_survives(dossier):
    assert "Боль в колене после травмы" in dossier["all"]
    assert "МРТ колена.pdf" in dossier["all"]


def test_pdf_attachment_is_appended_with_its_stamp(dossier):
    texts = dossier["texts"]
    first = next(i for i, t in enumerate(texts) if "Exhibit 1 — МРТ колена.pdf" in t)
    assert "Lab result" in texts[first]  # the patient's own page, under the stamp
    two = next(i for i, t in enumerate(texts) if "Exhibit 2 — two pages.pdf" in t)
    assert "Page one" in texts[two]
    assert "Page two" in texts[two + 1] and "(page 2 of 2)" in texts[two + 1]
    rotated = next(i for i, t in enumerate(texts) if "Exhibit 3 — rotated.pdf" in t)
    assert "Rotated scan" in texts[rotated]
    assert rotated == len(texts) - 1
    # Exhibits come after the index: the index points at them by page number.
    assert f"Exhibit 1, p. {first + 1}" in dossier["all"]


def test_rotated_exhibit_page_is_laid_out_upright_on_landscape_a4(dossier):
    page = pdfs.reader(dossier["pdf"].data).pages[-1]
    assert float(page.mediabox.width) > float(page.mediabox.height)
    assert page.rotation == 0


def test_broken_pdf_is_listed_as_not_included(dossier):
    text = dossier["all"]
    assert re.search(r"broken\.pdf PDF · \d+ bytes could not be included: the PDF could not be read", text)
    assert "Exhibit 4" not in text


def test_images_are_embedded_downscaled(dossier):
    found = pdfs.images(dossier["pdf"].data)
    assert sorted(found) == [(32, 24)] * 3 + [PHOTO]  # png, webp, tiff; the 2000×1500 photo bounded
    text = dossier["all"]
    for label in ("Figure 1", "Figure 2", "Figure 3", "Figure 4"):
        assert label in text
    # The photo is on the page that carries its caption.
    page = next(i for i, t in enumerate(dossier["texts"]) if "Figure 1 — attachment 2: photo.jpg" in t)
    assert PHOTO in pdfs.images(dossier["pdf"].data, page)


def test_undecodable_types_are_listed_without_preview(dossier):
    text = dossier["all"]
    assert re.search(r"IMG_0001\.HEIC HEIC · 1 KB preview not available", text)
    assert re.search(r"ct\.dcm DICOM · \d+ bytes preview not available", text)
    heic = next(a for a in dossier["case"].attachments if a.filename == "IMG_0001.HEIC")
    assert heic.storage_key not in dossier["store"].reads


def test_no_patient_identifiers_anywhere(dossier):
    text = dossier["all"]
    for secret in ("Amina", "Petrova", "amina@example.org", "912 345", "9123456789", "+7",
                   "1979", "02.04", "2 April"):
        assert secret not in text, secret
    assert "[redacted]" in text  # what the patient typed about themselves
    metadata = pdfs.reader(dossier["pdf"].data).metadata or {}
    assert "Petrova" not in " ".join(str(v) for v in metadata.values())


def test_age_country_language_treatment_and_reasons(dossier):
    text = dossier["all"]
    assert "Age 47 years" in text
    assert "Country of residence Kazakhstan (KZ)" in text
    assert "Preferred language Russian (ru)" in text
    assert "Osseointegrated prosthesis (transfemoral)" in text
    assert "Travel window Spring 2027" in text
    assert "Why this case suits you" in text and "How to answer" in text


def test_none_known_is_shown_as_given_and_blank_as_not_provided(dossier):
    text = dossier["all"]
    assert "Current medications none known" in text
    assert "Allergies not provided" in text
    assert "Other conditions Type 2 diabetes, controlled" in text


def test_minimal_case_without_birth_date_or_files():
    case = fakes.Case(date_of_birth=None, travel_window=None, medications="  ", phone=None, country="XX")
    content = dossier_content(case, fakes.Referral(reasons=[]), [], fakes.link_for, today=TODAY)
    rendered = build_dossier_pdf(content, fakes.Store().read)
    text = pdfs.flat(" ".join(pdfs.page_texts(rendered.data)))
    assert "Age not provided" in text
    assert "Travel window not provided" in text
    assert "Current medications not provided" in text
    assert "The patient did not attach any files." in text
    assert rendered.pages == 1 and "Page 1 of 1" in text


def test_released_dossier_adds_contact_details():
    case = fakes.Case()
    content = dossier_content(case, fakes.Referral(), [], fakes.link_for, released=True, today=TODAY)
    text = pdfs.flat(" ".join(pdfs.page_texts(build_dossier_pdf(content, fakes.Store().read).data)))
    assert "Name Amina Petrova" in text
    assert "amina@example.org" in text and "+7 912 345-67-89" in text
    assert "1979" not in text  # still only the age


def test_missing_or_altered_files_are_listed_not_fatal():
    case = fakes.Case()
    store = fakes.Store()
    gone = store.add(case, "gone.pdf", "application/pdf", files.pdf())
    changed = store.add(case, "changed.jpg", "image/jpeg", fakes.photo())
    del store.objects[gone.storage_key]
    store.objects[changed.storage_key] = fakes.photo((10, 10))

    def read(entry):
        if entry.storage_key not in store.objects:
            raise FileNotFoundError(entry.storage_key)
        return store.read(entry)

    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=TODAY)
    text = pdfs.flat(" ".join(pdfs.page_texts(build_dossier_pdf(content, read).data)))
    assert "could not be included: the file is missing from storage" in text
    assert "could not be included: the stored file does not match its SHA-256" in text


def test_image_that_fails_to_decode_is_listed_and_the_index_stays_right():
    case = fakes.Case()
    store = fakes.Store()
    whole = fakes.photo((800, 600))
    store.add(case, "cut.jpg", "image/jpeg", whole[: whole.index(b"\xff\xda")])  # header fine, no scan data
    store.add(case, "good.jpg", "image/jpeg", fakes.photo((800, 600)))
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=TODAY)
    rendered = build_dossier_pdf(content, store.read)
    text = pdfs.flat(" ".join(pdfs.page_texts(rendered.data)))
    assert re.search(r"cut\.jpg JPEG · \d+ bytes preview not available: the image could not be read", text)
    assert "good.jpg JPEG" in text and "Figure 1 — attachment 2: good.jpg" in text
    assert "Figure 2" not in text
    assert pdfs.images(rendered.data) == [(800, 600)]


def test_storage_outage_propagates_so_the_job_retries():
    case = fakes.Case()
    store = fakes.Store()
    store.add(case, "report.pdf", "application/pdf", files.pdf())

    class Outage(Exception):
        pass

    def read(entry):
        raise Outage("store down")

    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=TODAY)
    with pytest.raises(Outage):
        build_dossier_pdf(content, read)


def test_exhibit_pages_are_capped(monkeypatch):
    monkeypatch.setattr("service.paperwork.documents.MAX_EXHIBIT_PAGES", 2)
    case = fakes.Case()
    store = fakes.Store()
    store.add(case, "one.pdf", "application/pdf", files.pdf("One"))
    store.add(case, "three.pdf", "application/pdf", fakes.multipage_pdf(["A", "B", "C"]))
    content = dossier_content(case, fakes.Referral(), case.attachments, fakes.link_for, today=TODAY)
    rendered = build_dossier_pdf(content, store.read)
    text = pdfs.flat(" ".join(pdfs.page_texts(rendered.data)))
    assert "Exhibit 1 — one.pdf" in text
    assert "three.pdf PDF · " in text and "3 pages could not be included: too many pages" in text
    assert MAX_EXHIBIT_PAGES >= 100


def test_real_orm_objects_work_without_a_session():
    """The builders only read attributes: transient ORM rows are enough."""
    from service.models import Attachment, Case, Clinic, Referral, Treatment

    pdf = files.pdf("Lab result")
    case = Case(
        reference="MT-2026-000007", full_name="Иван Петров", email="ivan@example.org", phone=None,
        country="RU", date_of_birth=date(1990, 12, 31), language="ru",
        treatment=Treatment(name="Knee replacement"), description="Боль в колене после травмы",
        travel_window=None, medications="none known", allergies=None, conditions=None,
    )
    import hashlib

    attachment = Attachment(filename="МРТ колена.pdf", content_type="application/pdf", size=len(pdf),
                            sha256=hashlib.sha256(pdf).hexdigest(), storage_key="cases/7/attachments/x")
    case.attachments.append(attachment)
    referral = Referral(case=case, clinic=Clinic(name="Clinic Nord", city="Tallinn", country="EE"),
                        reasons=[{"key": "k", "points": 1, "reason": "Short waiting list"}])
    content = dossier_content(case, referral, case.attachments, lambda a: "https://x.test/" + a.storage_key,
                              today=TODAY)
    rendered = build_dossier_pdf(content, lambda entry: pdf)
    text = pdfs.flat(" ".join(pdfs.page_texts(rendered.data)))
    assert "Age 35 years" in text
    assert "Exhibit 1 — МРТ колена.pdf" in text and "Lab result" in text
    assert "Петров" not in text and "ivan@example.org" not in text


def test_clinics_read_why_the_case_suits_them_in_plain_words_without_routing_internals(dossier):
    assert dossier["content"].referral_reasons == (
        "You offer Osseointegrated prosthesis (transfemoral)",
        "Your team speaks Russian, the patient's language",
        "JCI accredited",
        "ISO 9001 certified",
        "The patient's budget covers your indicative price",
    )
    text = dossier["all"]
    assert "Your team speaks Russian, the patient's language" in text
    for internal in ("capped", "open cases", "points", "score", "accepts 60%", "answers in", "speaks ru"):
        assert internal not in text


def test_plain_reasons_name_the_patients_choice_and_english_as_the_shared_language():
    referral = fakes.Referral(clinic=fakes.Clinic(languages=["de", "EN"]), reasons=[
        {"key": "preferred", "points": 1000.0, "reason": "patient's chosen clinic"},
        {"key": "treatment", "points": 40.0, "reason": "offers X"},
        {"key": "language", "points": 10.0, "reason": "speaks English (not ru)"},
        {"key": "budget", "points": -4.0, "reason": "over budget by ~12%"},
    ])
    content = dossier_content(fakes.Case(), referral, [], fakes.link_for, today=TODAY)
    assert content.referral_reasons == (
        "The patient asked for your clinic",
        "You offer Osseointegrated prosthesis (transfemoral)",
        "Your team speaks English (the patient's language is Russian)",
    )


def test_how_to_answer_points_to_the_referrals_portal_page_not_to_an_email_address():
    portal = "https://medtour.test/clinic/referrals/7"
    content = dossier_content(fakes.Case(), fakes.Referral(), [], fakes.link_for, portal_url=portal, today=TODAY)
    rendered = build_dossier_pdf(content, fakes.Store().read)
    text = pdfs.flat(" ".join(pdfs.page_texts(rendered.data)))
    answer = text[text.index("How to answer"):]
    assert "Medtour clinic portal" in answer and "Accept with a quote" in answer and "Ask the agency" in answer
    assert portal in pdfs.link_uris(rendered.data)
    assert "@" not in answer
