"""A select widget for the long ISO lists (about 250 countries, 180 languages and 180
currencies in every request form): escaping and joining those 600-odd options on every
page view was most of the form page's CPU, so each list's options are rendered once per
list (one per language) and only the chosen option is rendered anew."""
from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape
from wtforms.widgets import Select, html_params

Options = tuple[tuple[str, str], ...]


def _option(value: str, label: str, selected: bool) -> str:
    params = html_params(value=value, selected=selected)
    return f"<option {params}>{escape(label or value)}</option>"


@lru_cache(maxsize=32)
def _rendered(options: Options) -> tuple[tuple[str, ...], dict[str, int]]:
    """The options' HTML, and where each value sits (the first one, as browsers pick)."""
    html = tuple(_option(value, label, False) for value, label in options)
    positions: dict[str, int] = {}
    for index, (value, _label) in enumerate(options):
        positions.setdefault(value, index)
    return html, positions


class CachedSelect(Select):
    """Renders exactly what WTForms' `Select` renders for a single-choice field of
    plain (value, label) string pairs."""

    def __call__(self, field, **kwargs) -> Markup:
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for name in self.validation_attrs:
            if name not in kwargs and getattr(flags, name, False):
                kwargs[name] = getattr(flags, name)
        options: Options = tuple((str(value), str(label)) for value, label in field.choices)
        html, positions = _rendered(options)
        rendered = list(html)
        chosen = positions.get(str(field.data)) if field.data is not None else None
        if chosen is not None:
            rendered[chosen] = _option(*options[chosen], selected=True)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{''.join(rendered)}</select>")
