"""Charts as inline SVG drawn on the server: no script, no network, nothing for the
content security policy to refuse (colours are presentation attributes, not `style`).

Each function returns the markup of one `<svg role="img">` with an `aria-label`, a
`<title>` and a `<desc>` summarising it; every piece of text is escaped here, so a
clinic called `<script>` is only ever text. With nothing to draw, a chart is a small
image saying so, never a broken one. Pages put a data table beside each chart."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 640
FONT_SIZE: Final = 12
CHAR_WIDTH: Final = 7.0  # rough advance of a character at FONT_SIZE, for layout
TEXT: Final = "#1f2933"
MUTED: Final = "#52606d"
GRID: Final = "#d9e2ec"
BAR: Final = "#2f6db5"
LABEL_CHARS: Final = 30


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # what is written beside the bar, e.g. "12" or "40 %"


def _e(value: object) -> str:
    return str(escape(str(value)))


def _n(value: float) -> str:
    """A coordinate, short: 12, 12.5."""
    return f"{value:.1f}".removesuffix(".0")


def _shorten(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _svg(width: float, height: float, title: str, description: str, body: Sequence[str], kind: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'role="img" aria-label="{_e(title)}" font-family="system-ui, sans-serif" font-size="{FONT_SIZE}">'
        f"<title>{_e(title)}</title><desc>{_e(description)}</desc>"
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = TEXT, extra: str = "") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>{_e(content)}</text>'
    )


def empty_chart(title: str, message: str) -> Markup:
    """The image a chart becomes when there is nothing to draw."""
    body = [
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="59" rx="4" fill="#f5f7f9" stroke="{GRID}"/>',
        _text(WIDTH / 2, 34, message, anchor="middle", fill=MUTED),
    ]
    return _svg(WIDTH, 60, title, message, body, "empty")


def nice_scale(maximum: float, *, ticks: int = 4, whole: bool = True) -> tuple[float, float]:
    """(top of the axis, step between gridlines): a round step (1, 2 or 5 × 10ⁿ) giving
    at most `ticks` gridlines above zero; whole numbers only when counting."""
    if maximum <= 0:
        return 1.0, 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    return math.ceil(maximum / step) * step, step


def _legend(series: Sequence[Series], width: float) -> tuple[list[str], float]:
    """Swatches with their names, wrapped to the width; returns the markup and its height."""
    body: list[str] = []
    x, y = 0.0, 12.0
    for s in series:
        item = 14 + 6 + len(s.name) * CHAR_WIDTH + 16
        if x and x + item > width:
            x, y = 0.0, y + 18
        body.append(f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" fill="{_e(s.colour)}"/>')
        body.append(_text(x + 18, y, s.name))
        x += item
    return body, y + 10


def _y_axis(left: float, top: float, plot_w: float, plot_h: float, top_value: float, step: float) -> list[str]:
    body: list[str] = []
    value = 0.0
    while value <= top_value + 1e-9:
        y = top + plot_h - value / top_value * plot_h
        body.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, f"{value:g}", anchor="end", fill=MUTED))
        value += step
    return body


def stacked_bar_chart(
    *, title: str, description: str, labels: Sequence[str], series: Sequence[Series], empty_message: str,
    label_every: int | None = None,
) -> Markup:
    """Vertical bars, one per label, each split into the series' values (counts)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not totals or max(totals) <= 0:
        return empty_chart(title, empty_message)
    legend, legend_h = _legend(series, WIDTH)
    left, right, top, bottom, plot_h = 40.0, 8.0, legend_h + 12, 28.0, 180.0
    plot_w = WIDTH - left - right
    top_value, step = nice_scale(max(totals))
    body = legend + _y_axis(left, top, plot_w, plot_h, top_value, step)
    band = plot_w / len(labels)
    bar_w = max(1.0, band * 0.75)
    every = label_every or max(1, math.ceil(len(labels) / 10))
    baseline = top + plot_h
    for i, label in enumerate(labels):
        x = left + i * band + (band - bar_w) / 2
        y = baseline
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = value / top_value * plot_h
            y -= h
            body.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(h)}" fill="{_e(s.colour)}" stroke="#fff" stroke-width="0.5">'
                f"<title>{_e(label)} · {_e(s.name)}: {value:g}</title></rect>"
            )
        if i % every == 0:
            body.append(_text(x + bar_w / 2, baseline + 16, label, anchor="middle", fill=MUTED))
    body.append(f'<line x1="{_n(left)}" y1="{_n(baseline)}" x2="{_n(left + plot_w)}" y2="{_n(baseline)}" stroke="{MUTED}"/>')
    return _svg(WIDTH, baseline + bottom, title, description, body, "stacked")


def column_chart(
    *, title: str, description: str, bars: Sequence[Bar], empty_message: str, colour: str = BAR
) -> Markup:
    """Vertical bars with their label below and their text above (a histogram)."""
    if not bars or max(b.value for b in bars) <= 0:
        return empty_chart(title, empty_message)
    left, right, top, bottom, plot_h = 40.0, 8.0, 20.0, 28.0, 160.0
    plot_w = WIDTH - left - right
    top_value, step = nice_scale(max(b.value for b in bars))
    body = _y_axis(left, top, plot_w, plot_h, top_value, step)
    band = plot_w / len(bars)
    bar_w = band * 0.7
    baseline = top + plot_h
    for i, bar in enumerate(bars):
        x = left + i * band + (band - bar_w) / 2
        h = bar.value / top_value * plot_h
        body.append(
            f'<rect x="{_n(x)}" y="{_n(baseline - h)}" width="{_n(bar_w)}" height="{_n(h)}" fill="{_e(colour)}">'
            f"<title>{_e(bar.label)}: {_e(bar.text)}</title></rect>"
        )
        body.append(_text(x + bar_w / 2, baseline - h - 4, bar.text, anchor="middle"))
        body.append(_text(x + bar_w / 2, baseline + 16, _shorten(bar.label, 14), anchor="middle", fill=MUTED))
    body.append(f'<line x1="{_n(left)}" y1="{_n(baseline)}" x2="{_n(left + plot_w)}" y2="{_n(baseline)}" stroke="{MUTED}"/>')
    return _svg(WIDTH, baseline + bottom, title, description, body, "columns")


def bar_chart(
    *, title: str, description: str, bars: Sequence[Bar], empty_message: str,
    maximum: float | None = None, colour: str = BAR,
) -> Markup:
    """Horizontal bars, one row per label (long labels shortened; the full one is the
    row's tooltip). `maximum` fixes the scale, e.g. 1 for rates."""
    if not bars or max(b.value for b in bars) <= 0:
        return empty_chart(title, empty_message)
    label_w, text_w, row_h, bar_h, top = 210.0, 96.0, 26.0, 16.0, 6.0
    plot_w = WIDTH - label_w - text_w
    scale = maximum or max(b.value for b in bars)
    body: list[str] = []
    for i, bar in enumerate(bars):
        y = top + i * row_h
        w = max(0.0, min(bar.value, scale)) / scale * plot_w
        body.append(
            f"<g><title>{_e(bar.label)}: {_e(bar.text)}</title>"
            + _text(label_w - 8, y + bar_h - 3, _shorten(bar.label), anchor="end")
            + f'<rect x="{_n(label_w)}" y="{_n(y)}" width="{_n(w)}" height="{_n(bar_h)}" fill="{_e(colour)}"/>'
            + _text(label_w + w + 6, y + bar_h - 3, bar.text)
            + "</g>"
        )
    height = top + len(bars) * row_h + 4
    body.append(f'<line x1="{_n(label_w)}" y1="{_n(top - 2)}" x2="{_n(label_w)}" y2="{_n(height - 6)}" stroke="{MUTED}"/>')
    return _svg(WIDTH, height, title, description, body, "bars")
