"""What every template can read: the limits (from the one definition), formatting
(in the page's language: see `service.i18n`)."""
from __future__ import annotations

import json
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

from flask import Flask, current_app
from markupsafe import escape

from service import i18n, limits, uploads
from service.cases.events import describe
from service.catalog.loader import CATEGORIES
from service.i18n import gettext, ngettext

# Counts that between them hit every plural form of the languages we may add
# (English's two, Russian's three, Polish's, Arabic's six...).
_PLURAL_SAMPLES: Final = (0, 1, 2, 3, 5, 11, 21, 100)


def _context() -> dict[str, Any]:
    return {
        "max_files": current_app.config["MAX_FILES"],
        "max_file_bytes": current_app.config["MAX_FILE_BYTES"],
        "accepted_labels": uploads.accepted_labels(),
        "accept_attribute": limits.ACCEPT_ATTRIBUTE,
        "categories": CATEGORIES,
    }


def picker_texts() -> dict[str, str]:
    """The file picker's words for files.js, as data attributes in the page's language
    (`{name}` is what the script fills in; byte counts by plural form, as samples)."""
    return {
        "data-text-left": gettext("%(left)s of %(max)s files left", left="{left}", max="{max}"),
        "data-text-too-many": gettext("Too many files: %(picked)s picked, only %(left)s can be added",
                                      picked="{picked}", left="{left}"),
        "data-text-empty": gettext("the file is empty (0 bytes)"),
        "data-text-too-large": gettext("the file is %(size)s; the limit is %(limit)s per file",
                                       size="{size}", limit="{limit}"),
        "data-text-over": gettext("over the limit of %(max)s files", max="{max}"),
        "data-text-kb": gettext("%(size)s KB", size="{size}"),
        "data-text-mb": gettext("%(size)s MB", size="{size}"),
        "data-text-bytes": json.dumps(
            {n: ngettext("%(count)s byte", "%(count)s bytes", n, count="{count}") for n in _PLURAL_SAMPLES},
            ensure_ascii=False,
        ),
    }


def init_app(app: Flask) -> None:
    from service.accounts.nav import staff_nav

    app.context_processor(_context)
    app.jinja_env.globals["staff_nav"] = staff_nav
    app.jinja_env.globals["picker_texts"] = picker_texts
    app.add_template_filter(i18n.format_size, "filesize")
    app.add_template_filter(describe, "describe_event")
    app.add_template_filter(lambda event: describe(event, staff=True), "describe_staff_event")
    app.add_template_filter(i18n.format_when, "when")
    app.add_template_filter(i18n.format_day, "day")
    app.add_template_filter(i18n.format_moment_day, "moment_day")
    app.add_template_filter(i18n.format_clock, "clock")
    app.add_template_filter(i18n.format_money, "money")


class HoledPages:
    """Rendered pages that differ between visitors only in a few opaque values (a form's
    CSRF and submission tokens): each page is rendered once per key with a marker in
    place of each value, and later visitors get the stored parts joined around their own
    values, escaped as the template would have. The blank request form is most of the
    public site's page views, and rendering it (every field through WTForms' widgets)
    was a third of a submission's web CPU. The key must name everything else the page
    depends on; a bounded number of keys is kept, the least recently used dropped."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._pages: OrderedDict[Hashable, tuple[tuple[str, ...], tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()
        self._marker = secrets.token_hex(12)

    def render(self, key: Hashable, values: Mapping[str, str], render: Callable[[Mapping[str, str]], str]) -> str:
        """The page for `key` with `values` in its holes; `render(markers)` makes it
        when it is not kept (markers: a letters-and-digits stand-in per value)."""
        with self._lock:
            kept = self._pages.get(key)
            if kept is not None:
                self._pages.move_to_end(key)
        if kept is None:
            markers = {name: f"hole{self._marker}{name}" for name in values}
            page = render(markers)
            kept = self._split(page, markers)
            if kept is None:  # a marker shown twice or not at all: nothing to keep
                return render(values)
            with self._lock:
                self._pages[key] = kept
                while len(self._pages) > self._size:
                    self._pages.popitem(last=False)
        parts, order = kept
        filled = [parts[0]]
        for name, part in zip(order, parts[1:]):
            filled.append(str(escape(values[name])))
            filled.append(part)
        return "".join(filled)

    @staticmethod
    def _split(page: str, markers: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        if any(page.count(marker) != 1 for marker in markers.values()):
            return None
        by_marker = {marker: name for name, marker in markers.items()}
        pieces = re.split("(" + "|".join(map(re.escape, by_marker)) + ")", page)
        return tuple(pieces[0::2]), tuple(by_marker[marker] for marker in pieces[1::2])
