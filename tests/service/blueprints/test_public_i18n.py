"""The landing page lists the treatments by their names in the page's language."""
from __future__ import annotations

import html

import pytest


@pytest.mark.parametrize("language, shown, not_shown", [
    ("en", ("Total knee replacement", "Proton beam therapy"), ("Эндопротезирование",)),
    ("ru", ("Эндопротезирование коленного сустава", "Протонная терапия"), ("Total knee replacement",)),
])
def test_the_landing_page_names_treatments_in_the_page_language(client, language, shown, not_shown):
    page = html.unescape(client.get(f"/?lang={language}").get_data(as_text=True))
    for name in shown:
        assert name in page
    for name in not_shown:
        assert name not in page


def test_each_category_is_sorted_by_name_in_the_page_language(client):
    page = html.unescape(client.get("/?lang=ru").get_data(as_text=True))
    # English order would put "Coronary angioplasty" first.
    assert (page.index("Аортокоронарное шунтирование (АКШ)") < page.index("Коронарная ангиопластика и стентирование")
            < page.index("Протезирование клапана сердца"))
    english = html.unescape(client.get("/?lang=en").get_data(as_text=True))
    assert english.index("Coronary angioplasty and stenting") < english.index("Coronary artery bypass (CABG)")
