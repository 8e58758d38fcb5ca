"""Server-side SVG charts: well-formed, accessible, escaped, and an empty state."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from service.dashboard import charts

NS = "{http://www.w3.org/2000/svg}"
NASTY = '<script>alert("x")</script> & Co'


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{NS}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def bar_charts():
    bars = [charts.Bar(NASTY, 3, "3"), charts.Bar("Spree Limb Reconstruction Clinic, Berlin, Germany", 1, "1")]
    return {
        "bars": charts.bar_chart(title=f"Per clinic {NASTY}", description=f"About {NASTY}", bars=bars,
                                 empty_message="Nothing"),
        "columns": charts.column_chart(title=f"Per clinic {NASTY}", description=f"About {NASTY}", bars=bars,
                                       empty_message="Nothing"),
        "stacked": charts.stacked_bar_chart(
            title=f"Per clinic {NASTY}", description=f"About {NASTY}", labels=[NASTY, "2 Mar"],
            series=[charts.Series(NASTY, "#1f5fa8", [1, 0]), charts.Series("Closed", "#6b7785", [2, 5])],
            empty_message="Nothing",
        ),
    }


@pytest.mark.parametrize("kind", ["bars", "columns", "stacked"])
def test_charts_are_images_with_a_title_and_description(kind):
    root = parse(bar_charts()[kind])
    assert root.get("role") == "img"
    assert root.get("aria-label") == f"Per clinic {NASTY}"
    assert root.find(f"{NS}title").text == f"Per clinic {NASTY}"
    assert root.find(f"{NS}desc").text == f"About {NASTY}"
    assert root.get("viewBox").startswith("0 0 ")
    assert root.iter(f"{NS}rect")


@pytest.mark.parametrize("kind", ["bars", "columns", "stacked"])
def test_every_label_is_escaped(kind):
    markup = str(bar_charts()[kind])
    assert "<script" not in markup
    assert "&lt;script&gt;" in markup
    root = parse(markup)  # the escaped text reads back as the original
    tooltips = [t.text for t in root.iter(f"{NS}title")]
    assert any(NASTY in (t or "") for t in tooltips[1:])


def test_labels_are_written_as_text_and_long_ones_shortened_with_the_full_name_in_the_tooltip():
    root = parse(bar_charts()["bars"])
    written = texts(root)
    assert "Spree Limb Reconstruction Cli…" in written
    assert "3" in written and "1" in written
    assert any(t.text == "Spree Limb Reconstruction Clinic, Berlin, Germany: 1" for t in root.iter(f"{NS}title"))


def test_stacked_bars_draw_each_non_zero_segment_with_a_legend():
    root = parse(bar_charts()["stacked"])
    segments = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert [r.find(f"{NS}title").text for r in segments] == [
        f"{NASTY} · {NASTY}: 1", f"{NASTY} · Closed: 2", "2 Mar · Closed: 5",
    ]
    assert "Closed" in texts(root)


def test_rates_are_drawn_against_a_fixed_maximum():
    root = parse(charts.bar_chart(
        title="Rates", description="d", bars=[charts.Bar("A", 0.5, "50%"), charts.Bar("B", 1.0, "100%")],
        empty_message="none", maximum=1.0,
    ))
    widths = [float(r.get("width")) for r in root.iter(f"{NS}rect")]
    assert widths[1] == pytest.approx(2 * widths[0])


@pytest.mark.parametrize(
    "markup",
    [
        charts.bar_chart(title="T", description="d", bars=[], empty_message="No requests in this period."),
        charts.column_chart(title="T", description="d", bars=[charts.Bar("a", 0, "0")],
                            empty_message="No requests in this period."),
        charts.stacked_bar_chart(title="T", description="d", labels=["1 Mar", "2 Mar"],
                                 series=[charts.Series("Closed", "#000", [0, 0])],
                                 empty_message="No requests in this period."),
        charts.stacked_bar_chart(title="T", description="d", labels=[], series=[],
                                 empty_message="No requests in this period."),
    ],
)
def test_nothing_to_draw_is_a_small_image_saying_so(markup):
    root = parse(markup)
    assert root.get("role") == "img"
    assert root.find(f"{NS}title").text == "T"
    assert "No requests in this period." in texts(root)
    assert "chart-empty" in root.get("class")


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [(0, (1, 1)), (1, (1, 1)), (3, (3, 1)), (7, (8, 2)), (10, (10, 5)), (37, (40, 10)), (0.8, (1, 1))],
)
def test_nice_scale(maximum, expected):
    assert charts.nice_scale(maximum) == expected
