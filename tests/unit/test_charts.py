"""The server-side SVG charts (qms.reports.charts): what the picture says about the figures
(bar heights, points, the target line), accessibility (role, title, a description that
reads the values), escaping of every text, the empty chart, and stable output."""
import xml.etree.ElementTree as ET

import pytest

from qms.reports import charts

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = [f"{m:02d}/2026" for m in range(1, 13)]


def parse(svg) -> ET.Element:
    """The chart as XML: it must be well-formed on its own (inline SVG in the page)."""
    return ET.fromstring(str(svg))


def bars(root) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]


def points(root) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}circle") if "point" in (e.get("class") or "")]


def test_bar_heights_are_proportional_to_the_values():
    root = parse(charts.bar_chart(["01/2026", "02/2026", "03/2026"], [10, 20, 40], title="Hồ sơ"))
    heights = [float(b.get("height")) for b in bars(root)]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == pytest.approx(4 * heights[0])
    # all bars stand on the same baseline
    assert len({float(b.get("y")) + float(b.get("height")) for b in bars(root)}) == 1
    assert [b.get("data-value") for b in bars(root)] == ["10", "20", "40"]
    # the axis tops out at a round number at or above the largest value
    top, step = charts.axis_max([10, 20, 40], percent=False)
    assert top >= 40 and top % step == 0


def test_a_percentage_axis_runs_from_0_to_100():
    root = parse(charts.bar_chart(["01/2026", "02/2026"], [50, 100], title="Tỷ lệ", percent=True))
    half, full = (float(b.get("height")) for b in bars(root))
    plot_height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert full == pytest.approx(plot_height) and half == pytest.approx(plot_height / 2)
    ticks = [t.text for t in root.iter(f"{SVG}text")]
    assert "0 %" in ticks and "100 %" in ticks


def test_line_chart_has_a_point_per_month_with_a_value_and_gaps_for_none():
    values = [95, 97.5, None, 100, 80, 90, 91, 92, 93, 94, None, 99]
    root = parse(charts.line_chart(MONTHS, values, title="Tỷ lệ đúng hạn", percent=True))
    assert len(points(root)) == 10
    # each point's tooltip names its month and value, Vietnamese decimals
    tips = [p.find(f"{SVG}title").text for p in points(root)]
    assert tips[1] == "02/2026: 97,5 %"
    # the line lifts its pen over the missing months: three runs
    path = next(e for e in root.iter(f"{SVG}path") if e.get("class") == "series")
    assert path.get("d").count("M") == 3
    # a higher value is drawn higher (smaller y)
    ys = [float(p.get("cy")) for p in points(root)]
    assert ys[2] < ys[0] < ys[3]  # 100 above 95 above 80


def test_target_line_sits_at_the_target():
    root = parse(charts.line_chart(["01/2026", "02/2026"], [50, 100], title="Tỷ lệ", percent=True,
                                   target=95, target_label="Mục tiêu"))
    target = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "target")
    line = target.find(f"{SVG}line")
    plot_height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert float(line.get("y1")) == pytest.approx(charts.TOP + plot_height * 0.05)
    assert target.find(f"{SVG}title").text == "Mục tiêu: 95,0 %"


def test_chart_is_an_accessible_image_that_reads_its_values():
    root = parse(charts.line_chart(["11/2025", "12/2025"], [97.5, None], title="Tỷ lệ đúng hạn",
                                   percent=True, chart_id="trend"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "trend-title trend-desc"
    assert root.find(f"{SVG}title").get("id") == "trend-title"
    assert root.find(f"{SVG}title").text == "Tỷ lệ đúng hạn"
    assert root.find(f"{SVG}desc").text == "11/2025: 97,5 %; 12/2025: —"


@pytest.mark.parametrize("draw", [
    lambda label, title: charts.bar_chart([label], [3], title=title),
    lambda label, title: charts.line_chart([label], [3], title=title),
    lambda label, title: charts.stacked_bar_chart([label], [(label, [3])], title=title),
    lambda label, title: charts.sparkline([3], title=title),
])
def test_every_text_is_escaped(draw):
    label, title = 'Tháng <b>"1"</b> & 2', '<script>alert("x")</script> & co'
    svg = str(draw(label, title))
    assert "<script>" not in svg and "<b>" not in svg
    root = parse(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == title
    texts = [e.text for e in root.iter() if e.text]
    if "sparkline" not in (root.get("class") or ""):
        assert any(label in text for text in texts)


@pytest.mark.parametrize("draw", [
    lambda: charts.line_chart([], [], title="Tỷ lệ"),
    lambda: charts.line_chart(["01/2026", "02/2026"], [None, None], title="Tỷ lệ", percent=True),
    lambda: charts.bar_chart([], [], title="Hồ sơ"),
    lambda: charts.stacked_bar_chart(["01/2026"], [("Trực tiếp", [None])], title="Hồ sơ"),
    lambda: charts.sparkline([None, None], title="Hồ sơ"),
])
def test_an_empty_series_says_there_is_no_data(draw):
    root = parse(draw())
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert texts == ["Chưa có dữ liệu"]
    assert root.get("role") == "img" and root.find(f"{SVG}desc").text == "Chưa có dữ liệu"
    assert not bars(root) and not points(root)


def test_zero_is_data_not_an_empty_chart():
    root = parse(charts.bar_chart(["01/2026", "02/2026"], [0, 0], title="Hồ sơ"))
    assert "Chưa có dữ liệu" not in [e.text for e in root.iter(f"{SVG}text")]
    assert [float(b.get("height")) for b in bars(root)] == [0, 0]


def test_stacked_bars_add_up_to_the_month_total():
    root = parse(charts.stacked_bar_chart(
        ["01/2026", "02/2026"], [("Trực tiếp", [6, 2]), ("Trực tuyến", [2, 0]), ("Bưu chính", [0, 2])],
        title="Hồ sơ theo kênh"))
    drawn = bars(root)
    assert len(drawn) == 4  # zeros draw nothing
    january = [b for b in drawn if b.find(f"{SVG}title").text.startswith("01/2026")]
    february = [b for b in drawn if b.find(f"{SVG}title").text.startswith("02/2026")]
    total = sum(float(b.get("height")) for b in january)
    assert sum(float(b.get("height")) for b in february) == pytest.approx(total / 2)
    # stacked: each part starts where the one below ends
    lower, upper = sorted(january, key=lambda b: -float(b.get("y")))
    assert float(upper.get("y")) + float(upper.get("height")) == pytest.approx(float(lower.get("y")))
    legend = [t.text for t in root.iter(f"{SVG}text") if t.text in ("Trực tiếp", "Trực tuyến", "Bưu chính")]
    assert legend == ["Trực tiếp", "Trực tuyến", "Bưu chính"]


def test_sparkline_marks_the_last_value():
    root = parse(charts.sparkline([10, 30, 20], title="Xu hướng"))
    last = points(root)[0]
    assert "last" in last.get("class") and float(last.get("cx")) > 100


def test_output_is_deterministic_and_self_contained():
    first = charts.line_chart(MONTHS, list(range(12)), title="Hồ sơ", target=5)
    second = charts.line_chart(MONTHS, list(range(12)), title="Hồ sơ", target=5)
    assert first == second
    svg = str(first)
    assert "<script" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "@font-face" not in svg and "url(" not in svg
    # two different charts on one page get different ids
    other = charts.line_chart(MONTHS, list(range(1, 13)), title="Hồ sơ")
    assert parse(first).get("id") != parse(other).get("id")


def test_labels_and_values_must_match():
    with pytest.raises(ValueError):
        charts.bar_chart(["01/2026"], [1, 2], title="Hồ sơ")


def test_vietnamese_number_format():
    assert charts.format_number(1234567.5, 1) == "1.234.567,5"
    assert charts.format_value(97.5, True) == "97,5 %"
    assert charts.format_value(12, False) == "12" and charts.format_value(2.5, False) == "2,5"
    assert charts.format_value(None, True) == "—"
