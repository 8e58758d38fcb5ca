"""HoledPages: a page rendered once per key with markers for the per-visitor values,
then filled in for each visitor, escaped as the template would escape them."""
from __future__ import annotations

from collections.abc import Mapping

from markupsafe import escape

from service.templating import HoledPages


class Page:
    """A template stand-in that counts its renders."""

    def __init__(self, text: str = '<input value="{token}"><p>{other}</p>') -> None:
        self.text = text
        self.renders = 0

    def __call__(self, values: Mapping[str, str]) -> str:
        self.renders += 1
        return self.text.format(token=escape(values["token"]), other="static")


def test_a_page_is_rendered_once_per_key_and_filled_in_per_visitor():
    pages, page = HoledPages(), Page()
    first = pages.render("k", {"token": "aaa"}, page)
    second = pages.render("k", {"token": "bbb"}, page)
    assert (first, second) == ('<input value="aaa"><p>static</p>', '<input value="bbb"><p>static</p>')
    assert page.renders == 1
    pages.render("other key", {"token": "ccc"}, page)
    assert page.renders == 2


def test_values_are_escaped_as_the_template_escapes_them():
    pages, page = HoledPages(), Page()
    pages.render("k", {"token": "plain"}, page)
    assert pages.render("k", {"token": '"><script>'}, page) == '<input value="&#34;&gt;&lt;script&gt;"><p>static</p>'


def test_the_least_recently_used_page_is_dropped_beyond_the_size():
    pages, page = HoledPages(size=2), Page()
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
        pages.render(key, {"token": "t"}, page)
    assert page.renders == 3
    pages.render("a", {"token": "t"}, page)
    assert page.renders == 3
    pages.render("b", {"token": "t"}, page)
    assert page.renders == 4


def test_a_page_that_shows_a_value_twice_or_not_at_all_is_never_kept():
    pages = HoledPages()
    twice, never = Page('<a title="{token}">{token}</a>'), Page("<p>{other}</p>")
    for token in ("x", "y"):
        assert pages.render("twice", {"token": token}, twice) == f'<a title="{token}">{token}</a>'
        assert pages.render("never", {"token": token}, never) == "<p>static</p>"
    # Each time: once with the markers (refused), once with the values.
    assert twice.renders == never.renders == 4
